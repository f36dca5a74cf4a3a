package token

import (
	"net/http"
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

// FuzzTokenRequest: no body makes the parser panic, and an accepted body
// always yields values Mint accepts.
func FuzzTokenRequest(f *testing.F) {
	for _, s := range []string{`{"role":1}`, `{"role":"2","expirationSeconds":"1800"}`, `{"role":1,"userId":"x","userName":"\u0000"}`,
		`{"role":1,"customPinCode":"ab"}`, `[]`, `null`, `{"role":1e400}`, `{"role":" 1 "}`} {
		f.Add([]byte(s))
	}
	h := &Handler{opts: Options{TTL: DefaultTTL, BYOP: true}}
	m := NewMinter("k", StaticSecret("s"), nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, errs := h.parse(body)
		if len(errs) > 0 {
			return
		}
		if p.userID == "" {
			p.userID = "generated"
		}
		if _, _, err := m.Mint(Claims{Role: p.role, UserID: p.userID, UserName: p.userName, TTL: p.ttl}); err != nil {
			t.Fatalf("accepted %q but Mint fails: %v", body, err)
		}
		if p.pin != "" && !validPIN(p.pin) {
			t.Fatalf("pin %q", p.pin)
		}
	})
}

// FuzzSessionCookie: no cookie value panics, and only cookies this
// process signed are accepted.
func FuzzSessionCookie(f *testing.F) {
	f.Add("eyJ2IjoxfQ.AAAA")
	f.Add("..")
	f.Add("x")
	now := time.Unix(1_800_000_000, 0)
	s := NewSessions(SessionOptions{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, v string) {
		r := &httpRequestWithCookie{}
		if id, ok := s.Agent(r.with(v)); ok {
			t.Fatalf("forged cookie %q accepted as %+v", v, id)
		}
	})
}

type httpRequestWithCookie struct{}

func (httpRequestWithCookie) with(v string) *http.Request {
	r := &http.Request{Header: http.Header{}}
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: v})
	return r
}
