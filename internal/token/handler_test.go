package token

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func agentKeyOpts(key string) func(*Options) {
	return func(o *Options) {
		o.Agent.Keys = []AgentKey{{Name: "alice@example.com", Hash: HashKey(key)}, {Name: "bob", Hash: HashKey("other-key")}}
	}
}

// TestTokenEndpoint covers the success paths and every refusal of
// POST {prefix}/token, with status, error properties and headers.
func TestTokenEndpoint(t *testing.T) {
	const key = "cbpk_test-key"
	e := newEnv(t, agentKeyOpts(key))
	same := e.sameOrigin()
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range same {
			h[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	tests := []struct {
		name        string
		method, ct  string
		body        string
		hdr         map[string]string
		status      int
		props       []string // expected error properties, in order
		wantTTL     int64
		wantUserID  string
		wantRole    int64
		checkHeader map[string]string
	}{
		{name: "customer, numbers", body: `{"role":1,"userName":"Ann","expirationSeconds":3600}`, hdr: same, status: 200, wantTTL: 3600, wantRole: 1},
		{name: "customer, numbers as strings", body: `{"role":"1","expirationSeconds":" 1800 ","userId":"given"}`, hdr: same, status: 200, wantTTL: 1800, wantUserID: "given", wantRole: 1},
		{name: "customer, defaults", body: `{"role":1}`, hdr: same, status: 200, wantTTL: 7200, wantRole: 1},
		{name: "customer, Origin only (plain HTTP dev)", body: `{"role":1}`, hdr: map[string]string{"Origin": e.origin()}, status: 200, wantTTL: 7200, wantRole: 1},
		{name: "customer, Sec-Fetch-Site only", body: `{"role":1}`, hdr: map[string]string{"Sec-Fetch-Site": "same-origin"}, status: 200, wantTTL: 7200, wantRole: 1},
		{name: "agent, bearer key, body identity ignored", body: `{"role":2,"userId":"mallory","userName":"Mallory"}`, hdr: map[string]string{"Authorization": "Bearer " + key}, status: 200, wantTTL: 7200, wantUserID: "alice@example.com", wantRole: 2},

		{name: "GET", method: http.MethodGet, hdr: same, status: 405, props: []string{"method"}, checkHeader: map[string]string{"Allow": "POST"}},
		{name: "text/plain", ct: "text/plain", body: `{"role":1}`, hdr: same, status: 415, props: []string{"Content-Type"}},
		{name: "too large", body: `{"role":1,"userName":"` + strings.Repeat("a", 9000) + `"}`, hdr: same, status: 413, props: []string{"body"}},
		{name: "not JSON", body: `role=1`, hdr: same, status: 400, props: []string{"body"}},
		{name: "two objects", body: `{"role":1}{"role":2}`, hdr: same, status: 400, props: []string{"body"}},
		{name: "role missing", body: `{}`, hdr: same, status: 400, props: []string{"role"}},
		{name: "role 3", body: `{"role":"3"}`, hdr: same, status: 400, props: []string{"role"}},
		{name: "role fractional", body: `{"role":1.5}`, hdr: same, status: 400, props: []string{"role"}},
		{name: "every field bad", body: `{"role":"x","userId":12,"userName":{},"expirationSeconds":"100","customPinCode":"!!"}`, hdr: same, status: 400,
			props: []string{"role", "userId", "userName", "expirationSeconds", "customPinCode"}},
		{name: "expiration too long", body: `{"role":1,"expirationSeconds":172801}`, hdr: same, status: 400, props: []string{"expirationSeconds"}},
		{name: "userId with control char", body: `{"role":1,"userId":"a\u0000b"}`, hdr: same, status: 400, props: []string{"userId"}},
		{name: "pin without BYOP", body: `{"role":1,"customPinCode":"ABC"}`, hdr: same, status: 400, props: []string{"customPinCode"}},

		{name: "customer, no Origin, no Sec-Fetch-Site", body: `{"role":1}`, status: 403, props: []string{"origin"}},
		{name: "customer, cross-site fetch", body: `{"role":1}`, hdr: with(map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}), status: 403, props: []string{"origin"}},
		{name: "customer, same-site subdomain", body: `{"role":1}`, hdr: with(map[string]string{"Sec-Fetch-Site": "same-site"}), status: 403, props: []string{"origin"}},
		{name: "customer, foreign Origin", body: `{"role":1}`, hdr: map[string]string{"Origin": "http://evil.example"}, status: 403, props: []string{"origin"}},
		{name: "customer, null Origin", body: `{"role":1}`, hdr: map[string]string{"Origin": "null"}, status: 403, props: []string{"origin"}},
		{name: "customer, https Origin on http", body: `{"role":1}`, hdr: map[string]string{"Origin": strings.Replace(e.origin(), "http:", "https:", 1)}, status: 403, props: []string{"origin"}},
		{name: "customer, Origin matches but Sec-Fetch-Site says cross-site", body: `{"role":1}`, hdr: with(map[string]string{"Sec-Fetch-Site": "cross-site"}), status: 403, props: []string{"origin"}},

		{name: "agent, no credentials", body: `{"role":2}`, hdr: same, status: 401, props: []string{"authorization"}, checkHeader: map[string]string{"WWW-Authenticate": `Bearer realm="cobrowse-proxy agent"`}},
		{name: "agent, wrong key", body: `{"role":2}`, hdr: map[string]string{"Authorization": "Bearer nope"}, status: 401, props: []string{"authorization"}},
		{name: "agent, basic auth", body: `{"role":2}`, hdr: map[string]string{"Authorization": "Basic " + key}, status: 401, props: []string{"authorization"}},
		{name: "agent, identity header not configured", body: `{"role":2}`, hdr: map[string]string{"X-Forwarded-Email": "alice@example.com"}, status: 401, props: []string{"authorization"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, ct := tt.method, tt.ct
			if method == "" {
				method = http.MethodPost
			}
			if ct == "" {
				ct = "application/json"
			}
			// A fresh client address per case keeps the rate limit out of the way.
			hdr := map[string]string{"X-Test-Client": netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}).String()}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			r := e.do(method, DefaultPrefix+"/token", ct, tt.body, hdr)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("headers %v: want Cache-Control no-store and no CORS", r.header)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			for k, v := range tt.checkHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.status != 200 {
				var props []string
				for _, fe := range r.errs() {
					if fe.Reason == "" {
						t.Errorf("error for %s has no reason", fe.Property)
					}
					props = append(props, fe.Property)
				}
				if !slices.Equal(props, tt.props) {
					t.Errorf("error properties %v, want %v (%s)", props, tt.props, r.body)
				}
				return
			}
			tr := r.token(t)
			_, cl := verifyJWT(t, tr.Token, []byte(testSecret))
			if got := num(t, cl, "exp") - num(t, cl, "iat"); got != tt.wantTTL {
				t.Errorf("exp-iat = %d, want %d", got, tt.wantTTL)
			}
			if tr.ExpiresAt != num(t, cl, "exp") {
				t.Errorf("expiresAt %d != exp", tr.ExpiresAt)
			}
			if got := num(t, cl, "role_type"); got != tt.wantRole {
				t.Errorf("role_type %d, want %d", got, tt.wantRole)
			}
			id := str(t, cl, "user_id")
			if tt.wantUserID != "" && id != tt.wantUserID {
				t.Errorf("user_id %q, want %q", id, tt.wantUserID)
			}
			if tt.wantUserID == "" && len(id) != 22 {
				t.Errorf("generated user_id %q is not 22 URL-safe characters", id)
			}
			if _, ok := cl["enable_byop"]; ok {
				t.Error("enable_byop without BYOP mode")
			}
		})
	}
}

func TestAgentTokensDisabledWithoutAuth(t *testing.T) {
	e := newEnv(t, nil)
	r := e.postToken(`{"role":2}`, map[string]string{"Authorization": "Bearer anything"})
	if r.status != http.StatusForbidden || r.errs()[0].Property != "role" {
		t.Fatalf("got %d %s, want 403 naming role", r.status, r.body)
	}
}

// TestRateLimit: a client gets Burst tokens at once, then 429 with
// Retry-After, then one more after Every; other clients are unaffected.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CustomerRate = RateLimit{Every: 10 * time.Second, Burst: 3} })
	a := map[string]string{"X-Test-Client": "203.0.113.7"}
	for i := range 3 {
		if r := e.postToken(`{"role":1}`, a); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.postToken(`{"role":1}`, a)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" || r.errs()[0].Reason != ReasonRateLimited {
		t.Fatalf("4th request: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := e.postToken(`{"role":1}`, map[string]string{"X-Test-Client": "203.0.113.8"}); r.status != 200 {
		t.Fatalf("other client: %d", r.status)
	}
	e.clock.Advance(4 * time.Second)
	if r := e.postToken(`{"role":1}`, a); r.status != 429 || r.header.Get("Retry-After") != "6" {
		t.Fatalf("after 4s: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	e.clock.Advance(6 * time.Second)
	if r := e.postToken(`{"role":1}`, a); r.status != 200 {
		t.Fatalf("after refill: %d %s", r.status, r.body)
	}
	if r := e.postToken(`{"role":1}`, a); r.status != 429 {
		t.Fatalf("refill gave more than one: %d", r.status)
	}
}

func TestBYOP(t *testing.T) {
	const key = "k"
	e := newEnv(t, func(o *Options) { o.BYOP = true; agentKeyOpts(key)(o) })
	tests := []struct {
		name, body string
		hdr        map[string]string
		status     int
		pin        string // "" with 200: generated
	}{
		{"pin echoed upper-cased", `{"role":1,"customPinCode":"tk12ab"}`, nil, 200, "TK12AB"},
		{"pin generated", `{"role":1}`, nil, 200, ""},
		{"pin too long", `{"role":1,"customPinCode":"ABCDEFGHIJK"}`, nil, 400, ""},
		{"pin not alphanumeric", `{"role":1,"customPinCode":"AB-12"}`, nil, 400, ""},
		{"pin not a string", `{"role":1,"customPinCode":12}`, nil, 400, ""},
		{"agent: no byop claim, no pin", `{"role":2}`, map[string]string{"Authorization": "Bearer " + key}, 200, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postToken(tt.body, tt.hdr)
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r.status != 200 {
				if r.errs()[0].Property != "customPinCode" {
					t.Fatalf("errors %s", r.body)
				}
				return
			}
			tr := r.token(t)
			_, cl := verifyJWT(t, tr.Token, []byte(testSecret))
			if tt.pin == "-" {
				if tr.PinCode != "" || cl["enable_byop"] != nil {
					t.Fatalf("agent token has pin %q / enable_byop %s", tr.PinCode, cl["enable_byop"])
				}
				return
			}
			if num(t, cl, "enable_byop") != 1 {
				t.Fatal("enable_byop")
			}
			if tt.pin != "" && tr.PinCode != tt.pin {
				t.Fatalf("pinCode %q, want %q", tr.PinCode, tt.pin)
			}
			if !validPIN(tr.PinCode) || strings.ToUpper(tr.PinCode) != tr.PinCode {
				t.Fatalf("pinCode %q is not a valid upper-case PIN", tr.PinCode)
			}
		})
	}
}
