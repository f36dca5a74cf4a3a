package token

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidateListsEveryProblem(t *testing.T) {
	o := Options{
		Prefix: "cobrowse/", TTL: 10 * time.Minute, MaxBodyBytes: 10,
		CustomerRate: RateLimit{Every: -1, Burst: -1, MaxClients: -1},
		Agent: AgentOptions{
			Keys: []AgentKey{
				{Name: "a", Hash: "plain-key-by-mistake"},
				{Name: "a", Hash: HashKey("x")},
				{Name: "", Hash: HashKey("x")},
			},
			Identity:   IdentityHeader{Header: "X-Forwarded-Email"},
			SessionKey: []byte("short"),
		},
	}
	o.SetDefaults()
	err := o.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"token.prefix", "zoom.sdkKey", "zoom.sdkSecret", "token.ttl", "token.maxBodyBytes",
		"token.customer.rate.every", "token.customer.rate.burst", "token.customer.rate.maxClients",
		"token.agent.keys[0].hash", "token.agent.keys[1].name", "token.agent.keys[2].hash", "token.agent.keys[2].name",
		"token.agent.identity.from", "token.agent.sessionKey",
	} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("missing %s in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "plain-key-by-mistake") {
		t.Error("a key put in the hash field is echoed in the error")
	}

	o = Options{SDKKey: "k", Secret: StaticSecret("s"), Agent: AgentOptions{Identity: IdentityHeader{
		Header: "X-Forwarded-Email", From: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}}}
	o.SetDefaults()
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "token.agent.identity.from[0]") {
		t.Errorf("0.0.0.0/0 accepted: %v", err)
	}
	o = Options{SDKKey: "k", Secret: StaticSecret("s")}
	if _, err := New(o); err != nil {
		t.Errorf("minimal options: %v", err)
	}
}
