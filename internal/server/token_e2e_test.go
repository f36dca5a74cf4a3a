package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// End-to-end tests of the token endpoint and the agent desk (issue 4)
// through the real handler on loopback listeners. JWTs are checked with
// encoding/base64, encoding/json and crypto/hmac, not with the library that
// signed them.

const (
	agentKey  = "cbpk_e2e-agent-key-0123456789"
	agentName = "alice@example.com"
	origin    = "http://" + cspHost // the proxy is plain HTTP here
)

// sameOrigin is what a browser sends with fetch() from the site's page.
var sameOrigin = map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": origin, "Content-Type": "application/json"}

func withHeaders(base map[string]string, extra ...string) map[string]string {
	h := map[string]string{}
	for k, v := range base {
		h[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(h, extra[i])
		} else {
			h[extra[i]] = extra[i+1]
		}
	}
	return h
}

func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// tokenConfig is a one-site config for cspHost with a distinctive TTL.
func tokenConfig(upstream string) *config.Config {
	cfg := cspConfig(upstream)
	cfg.Token.TTL = 3 * time.Hour
	return cfg
}

func withAgentKey(cfg *config.Config) {
	cfg.Token.Agent.Keys = []config.AgentKey{{Name: agentName, Hash: keyHash(agentKey)}}
}

// verifyJWT checks an HS256 JWT against secret and returns its claims, with
// numbers as json.Number so their JSON type can be checked.
func verifyJWT(t *testing.T, tok, secret string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS compact serialisation", tok)
	}
	var hdr map[string]any
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil {
		t.Fatalf("token header %q does not decode", parts[0])
	}
	if hdr["alg"] != "HS256" || hdr["typ"] != "JWT" {
		t.Errorf("token header %v, want alg HS256 typ JWT", hdr)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatalf("token signature does not verify with the SDK secret")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func claimInt(t *testing.T, c map[string]any, name string) int64 {
	t.Helper()
	n, ok := c[name].(json.Number)
	if !ok {
		t.Fatalf("claim %s = %#v, want a JSON number", name, c[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %s = %s, want an integer", name, n)
	}
	return v
}

// postToken posts body to {prefix}/token and returns the status and, for
// 200, the verified claims.
func postToken(t *testing.T, cfg *config.Config, base string, hdr map[string]string, body string) (int, map[string]any, []byte) {
	t.Helper()
	res, b := send(t, base, "POST", cspHost, "/__cobrowse/token", hdr, body)
	if res.StatusCode != 200 {
		return res.StatusCode, nil, b
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("token response has Access-Control-Allow-Origin %q", v)
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt int64  `json:"expiresAt"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		t.Fatalf("200 body %s: %v", b, err)
	}
	c := verifyJWT(t, out.Token, cfg.Zoom.SDKSecret)
	if exp := claimInt(t, c, "exp"); exp != out.ExpiresAt {
		t.Errorf("expiresAt %d, exp claim %d", out.ExpiresAt, exp)
	}
	return 200, c, b
}

// TestTokenEndpointE2E: customer tokens for same-origin requests only,
// agent tokens only with agent authentication, claims as Zoom expects them,
// and the endpoint never reaches the upstream.
func TestTokenEndpointE2E(t *testing.T) {
	tests := []struct {
		name     string
		agent    bool     // configure an access key
		trusted  []string // proxy.trustedProxies
		hdr      map[string]string
		body     string
		status   int
		role     int64
		userName string // "" not checked
		userID   string
	}{
		{name: "customer, same-origin", hdr: sameOrigin, body: `{"role":1,"userName":"Ann Customer"}`, status: 200, role: 1, userName: "Ann Customer"},
		{name: "customer, role as string, given id", hdr: sameOrigin, body: `{"role":"1","userId":"c-42"}`, status: 200, role: 1, userName: "c-42", userID: "c-42"},
		{name: "customer, Sec-Fetch-Site only", hdr: withHeaders(sameOrigin, "Origin", ""), body: `{"role":1}`, status: 200, role: 1},
		{name: "customer, cross-origin", hdr: withHeaders(sameOrigin, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), body: `{"role":1}`, status: 403},
		{name: "customer, foreign Origin only", hdr: withHeaders(sameOrigin, "Origin", "https://evil.example", "Sec-Fetch-Site", ""), body: `{"role":1}`, status: 403},
		{name: "customer, https Origin on the http site", hdr: withHeaders(sameOrigin, "Origin", "https://"+cspHost), body: `{"role":1}`, status: 403},
		{name: "customer, https page behind a trusted TLS proxy", trusted: []string{"127.0.0.1/32"},
			hdr: withHeaders(sameOrigin, "Origin", "https://"+cspHost, "X-Forwarded-Proto", "https"), body: `{"role":1}`, status: 200, role: 1},
		{name: "customer, X-Forwarded-Proto from an untrusted peer", trusted: []string{"10.0.0.0/8"},
			hdr: withHeaders(sameOrigin, "Origin", "https://"+cspHost, "X-Forwarded-Proto", "https"), body: `{"role":1}`, status: 403},
		{name: "customer, no browser headers", hdr: map[string]string{"Content-Type": "application/json"}, body: `{"role":1}`, status: 403},
		{name: "customer, bad body", hdr: sameOrigin, body: `{"role":3}`, status: 400},
		{name: "agent, no agent auth configured", hdr: sameOrigin, body: `{"role":2}`, status: 403},
		{name: "agent, no agent auth configured, with a bearer key", hdr: withHeaders(sameOrigin, "Authorization", "Bearer "+agentKey), body: `{"role":2}`, status: 403},
		{name: "agent, keys configured, no credentials", agent: true, hdr: sameOrigin, body: `{"role":2}`, status: 401},
		{name: "agent, wrong key", agent: true, hdr: withHeaders(sameOrigin, "Authorization", "Bearer "+agentKey+"x"), body: `{"role":2}`, status: 401},
		{name: "agent, hash as the key", agent: true, hdr: withHeaders(sameOrigin, "Authorization", "Bearer "+keyHash(agentKey)), body: `{"role":2}`, status: 401},
		{name: "agent, bearer key", agent: true, hdr: withHeaders(sameOrigin, "Authorization", "Bearer "+agentKey),
			body: `{"role":2,"userId":"mallory","userName":"Mallory"}`, status: 200, role: 2, userName: agentName, userID: agentName},
		{name: "agent, bearer key from a script", agent: true, hdr: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + agentKey},
			body: `{"role":2}`, status: 200, role: 2, userName: agentName, userID: agentName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newCountingUpstream(t)
			cfg := tokenConfig(up.URL)
			cfg.Proxy.TrustedProxies = tt.trusted
			if tt.agent {
				withAgentKey(cfg)
			}
			ps := newProxy(t, cfg)
			status, c, body := postToken(t, cfg, ps.URL, tt.hdr, tt.body)
			if status != tt.status {
				t.Fatalf("status %d %s, want %d", status, body, tt.status)
			}
			if n := up.n.Load(); n != 0 {
				t.Errorf("upstream got %d request(s) %v", n, up.paths)
			}
			if status != 200 {
				var e struct {
					Errors []struct{ Property, Reason string } `json:"errors"`
				}
				if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
					t.Errorf("refusal body %s is not {\"errors\":[...]}", body)
				}
				return
			}
			if c["app_key"] != cfg.Zoom.SDKKey {
				t.Errorf("app_key %v, want %q", c["app_key"], cfg.Zoom.SDKKey)
			}
			if r := claimInt(t, c, "role_type"); r != tt.role {
				t.Errorf("role_type %d, want %d", r, tt.role)
			}
			iat, exp := claimInt(t, c, "iat"), claimInt(t, c, "exp")
			if exp-iat != int64(cfg.Token.TTL/time.Second) {
				t.Errorf("exp-iat = %d, want %d (token.ttl)", exp-iat, int64(cfg.Token.TTL/time.Second))
			}
			if now := time.Now().Unix(); iat < now-60 || iat > now+60 {
				t.Errorf("iat %d is not now (%d)", iat, now)
			}
			name, _ := c["user_name"].(string)
			id, _ := c["user_id"].(string)
			if name == "" || id == "" {
				t.Errorf("user_name %#v user_id %#v: want non-empty strings", c["user_name"], c["user_id"])
			}
			if tt.userName != "" && name != tt.userName {
				t.Errorf("user_name %q, want %q", name, tt.userName)
			}
			if tt.userID != "" && id != tt.userID {
				t.Errorf("user_id %q, want %q", id, tt.userID)
			}
			if _, ok := c["enable_byop"]; ok {
				t.Errorf("enable_byop present without BYOP")
			}
			if len(c) != 6 {
				t.Errorf("claims %v: want exactly app_key, role_type, user_id, user_name, iat, exp", c)
			}
		})
	}
}

// TestTokenRateLimitForwardedFor: X-Forwarded-For picks the rate-limit
// bucket only when the peer is a trusted proxy.
func TestTokenRateLimitForwardedFor(t *testing.T) {
	const burst = 3
	tests := []struct {
		name    string
		trusted []string
		// separate: each X-Forwarded-For address gets its own bucket.
		separate bool
	}{
		{"no trusted proxies: X-Forwarded-For ignored", nil, false},
		{"other trusted proxy: X-Forwarded-For ignored", []string{"10.0.0.0/8"}, false},
		{"loopback trusted: one bucket per client", []string{"127.0.0.1/32"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newCountingUpstream(t)
			cfg := tokenConfig(up.URL)
			cfg.Proxy.TrustedProxies = tt.trusted
			cfg.Token.Customer.Rate = config.RateLimit{Every: time.Hour, Burst: burst}
			ps := newProxy(t, cfg)
			var got []int
			for i := range 2 * burst {
				// A fresh client address per request.
				hdr := withHeaders(sameOrigin, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
				status, _, body := postToken(t, cfg, ps.URL, hdr, `{"role":1}`)
				if status != 200 && status != 429 {
					t.Fatalf("request %d: %d %s", i, status, body)
				}
				got = append(got, status)
			}
			var want []int
			for i := range 2 * burst {
				if tt.separate || i < burst {
					want = append(want, 200)
				} else {
					want = append(want, 429)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("statuses %v, want %v", got, want)
			}
			if tt.separate {
				// The same forwarded client is still limited.
				for i := range burst + 1 {
					hdr := withHeaders(sameOrigin, "X-Forwarded-For", "198.51.100.7")
					status, _, _ := postToken(t, cfg, ps.URL, hdr, `{"role":1}`)
					if want := map[bool]int{true: 200, false: 429}[i < burst]; status != want {
						t.Errorf("same forwarded client, request %d: %d, want %d", i, status, want)
					}
				}
			}
		})
	}
}

// deskCookie returns the session cookie of a login response.
func deskCookie(t *testing.T, res *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == "cobrowse_agent" {
			return c
		}
	}
	t.Fatalf("no cobrowse_agent cookie in %q", res.Header.Values("Set-Cookie"))
	return nil
}

func isSignInForm(body []byte) bool {
	return bytes.Contains(body, []byte(`action="/__cobrowse/agent/login"`)) && bytes.Contains(body, []byte(`name="key"`)) &&
		!bytes.Contains(body, []byte("data-desk-url"))
}

// TestAgentDeskE2E: the desk's sign-in form, the key exchange for a
// session cookie, the desk itself and agent tokens with that cookie.
func TestAgentDeskE2E(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecureCookie=%v", insecure), func(t *testing.T) {
			up := newCountingUpstream(t)
			cfg := tokenConfig(up.URL)
			withAgentKey(cfg)
			cfg.Token.Agent.InsecureCookie = insecure
			ps := newProxy(t, cfg)

			res, body := send(t, ps.URL, "GET", cspHost, "/__cobrowse/agent", nil, "")
			if res.StatusCode != 200 || !isSignInForm(body) {
				t.Fatalf("desk without auth: %d, want the sign-in form:\n%s", res.StatusCode, body)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("desk CSP %q", csp)
			}

			form := url.Values{"key": {agentKey}}.Encode()
			formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin, "Sec-Fetch-Site": "same-origin"}
			for _, bad := range []struct {
				name string
				hdr  map[string]string
				body string
				want int
			}{
				{"cross-origin form post", withHeaders(formHdr, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), form, 403},
				{"wrong key", formHdr, url.Values{"key": {"nope"}}.Encode(), 303},
			} {
				res, _ := send(t, ps.URL, "POST", cspHost, "/__cobrowse/agent/login", bad.hdr, bad.body)
				if res.StatusCode != bad.want || len(res.Cookies()) != 0 {
					t.Errorf("%s: %d with cookies %q, want %d and no cookie", bad.name, res.StatusCode, res.Header.Values("Set-Cookie"), bad.want)
				}
			}

			res, body = send(t, ps.URL, "POST", cspHost, "/__cobrowse/agent/login", formHdr, form)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/__cobrowse/agent" {
				t.Fatalf("login: %d Location %q %s, want 303 to /__cobrowse/agent", res.StatusCode, res.Header.Get("Location"), body)
			}
			ck := deskCookie(t, res)
			raw := strings.Join(res.Header.Values("Set-Cookie"), "\n")
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/__cobrowse/" || ck.Secure == insecure {
				t.Errorf("cookie %q: want HttpOnly, SameSite=Strict, Path=/__cobrowse/, Secure=%v", raw, !insecure)
			}
			cookie := "cobrowse_agent=" + ck.Value

			res, body = send(t, ps.URL, "GET", cspHost, "/__cobrowse/agent", map[string]string{"Cookie": cookie}, "")
			if res.StatusCode != 200 || !bytes.Contains(body, []byte("data-desk-url=")) || isSignInForm(body) {
				t.Fatalf("desk with cookie: %d, want the desk:\n%s", res.StatusCode, body)
			}
			if !bytes.Contains(body, []byte(agentName)) {
				t.Errorf("desk does not name the agent %q", agentName)
			}

			status, c, b := postToken(t, cfg, ps.URL, withHeaders(sameOrigin, "Cookie", cookie), `{"role":2,"userId":"mallory"}`)
			if status != 200 {
				t.Fatalf("agent token with the session cookie: %d %s", status, b)
			}
			if claimInt(t, c, "role_type") != 2 || c["user_id"] != agentName || c["user_name"] != agentName {
				t.Errorf("claims %v, want role_type 2 and the key's name", c)
			}
			if status, _, b := postToken(t, cfg, ps.URL, withHeaders(sameOrigin, "Cookie", cookie, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), `{"role":2}`); status != 403 {
				t.Errorf("cross-site agent token with the cookie: %d %s, want 403", status, b)
			}

			// Tampered: one character of the payload, of the MAC, or cut.
			body64, sig, _ := strings.Cut(ck.Value, ".")
			flip := func(s string, i int) string {
				b := []byte(s)
				if b[i] == 'A' {
					b[i] = 'B'
				} else {
					b[i] = 'A'
				}
				return string(b)
			}
			for _, v := range []string{flip(body64, 3) + "." + sig, body64 + "." + flip(sig, 5), body64, body64 + "."} {
				res, body := send(t, ps.URL, "GET", cspHost, "/__cobrowse/agent", map[string]string{"Cookie": "cobrowse_agent=" + v}, "")
				if res.StatusCode != 200 || !isSignInForm(body) {
					t.Errorf("tampered cookie %q: %d, want the sign-in form", v, res.StatusCode)
				}
				if status, _, _ := postToken(t, cfg, ps.URL, withHeaders(sameOrigin, "Cookie", "cobrowse_agent="+v), `{"role":2}`); status != 401 {
					t.Errorf("tampered cookie %q: token status %d, want 401", v, status)
				}
			}
			if n := up.n.Load(); n != 0 {
				t.Errorf("upstream got %d request(s) %v", n, up.paths)
			}
		})
	}
}

// TestAgentIdentityHeaderE2E: an identity header is believed only from a
// connection peer inside identity.from; X-Forwarded-For cannot fake that
// peer, even from a trusted proxy.
func TestAgentIdentityHeaderE2E(t *testing.T) {
	tests := []struct {
		name    string
		from    []string
		trusted []string
		hdr     map[string]string
		status  int
		desk    bool
	}{
		{name: "peer inside from", from: []string{"127.0.0.1/32"}, hdr: map[string]string{"X-Forwarded-Email": "bob@example.com"}, status: 200, desk: true},
		{name: "peer inside from, same-origin browser", from: []string{"127.0.0.1/32"}, hdr: withHeaders(sameOrigin, "X-Forwarded-Email", "bob@example.com"), status: 200, desk: true},
		{name: "peer inside from, cross-site browser", from: []string{"127.0.0.1/32"},
			hdr: withHeaders(sameOrigin, "X-Forwarded-Email", "bob@example.com", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), status: 403, desk: true},
		{name: "peer outside from", from: []string{"10.0.0.0/8"}, hdr: map[string]string{"X-Forwarded-Email": "bob@example.com"}, status: 401},
		{name: "peer outside from, X-Forwarded-For inside", from: []string{"10.0.0.0/8"}, trusted: []string{"127.0.0.1/32"},
			hdr: map[string]string{"X-Forwarded-Email": "bob@example.com", "X-Forwarded-For": "10.1.2.3"}, status: 401},
		{name: "peer inside from, no header", from: []string{"127.0.0.1/32"}, hdr: map[string]string{}, status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newCountingUpstream(t)
			cfg := tokenConfig(up.URL)
			cfg.Proxy.TrustedProxies = tt.trusted
			cfg.Token.Agent.Identity = config.AgentIdentity{Header: "X-Forwarded-Email", From: tt.from}
			ps := newProxy(t, cfg)
			hdr := withHeaders(tt.hdr, "Content-Type", "application/json")
			status, c, body := postToken(t, cfg, ps.URL, hdr, `{"role":2,"userId":"mallory","userName":"Mallory"}`)
			if status != tt.status {
				t.Fatalf("status %d %s, want %d", status, body, tt.status)
			}
			if status == 200 && (c["user_id"] != "bob@example.com" || c["user_name"] != "bob@example.com" || claimInt(t, c, "role_type") != 2) {
				t.Errorf("claims %v: want user_id and user_name from the header", c)
			}
			res, page := send(t, ps.URL, "GET", cspHost, "/__cobrowse/agent", withHeaders(tt.hdr, "Content-Type", ""), "")
			if got := bytes.Contains(page, []byte("data-desk-url=")); res.StatusCode != 200 || got != tt.desk {
				t.Errorf("desk: %d, shows the desk %v, want %v", res.StatusCode, got, tt.desk)
			}
			if n := up.n.Load(); n != 0 {
				t.Errorf("upstream got %d request(s) %v", n, up.paths)
			}
		})
	}
}

// TestAgentDeskDisabled: without agent authentication the desk is a 403
// page and sign-in is refused.
func TestAgentDeskDisabled(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := tokenConfig(up.URL)
	ps := newProxy(t, cfg)
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		status             int
		contains           string
	}{
		{"desk", "GET", "/__cobrowse/agent", nil, "", 403, "not enabled"},
		{"desk with a bearer key", "GET", "/__cobrowse/agent", map[string]string{"Authorization": "Bearer " + agentKey}, "", 403, "not enabled"},
		{"login", "POST", "/__cobrowse/agent/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin},
			url.Values{"key": {agentKey}}.Encode(), 403, `"errors"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := send(t, ps.URL, tt.method, cspHost, tt.path, tt.hdr, tt.body)
			if res.StatusCode != tt.status || !bytes.Contains(body, []byte(tt.contains)) {
				t.Errorf("%d %s, want %d containing %q", res.StatusCode, body, tt.status, tt.contains)
			}
			if bytes.Contains(body, []byte("data-desk-url")) || len(res.Cookies()) != 0 {
				t.Errorf("desk or cookie served without agent authentication")
			}
		})
	}
	if n := up.n.Load(); n != 0 {
		t.Errorf("upstream got %d request(s) %v", n, up.paths)
	}
}

// TestAgentDeskConcurrentFirstRequests: the desk's first requests arrive
// together, as after a restart (run with -race: web.Desk must not build its
// policy lazily without synchronisation).
func TestAgentDeskConcurrentFirstRequests(t *testing.T) {
	const clients, rounds = 8, 20
	// More Ps than CPUs lets the OS interleave the handlers; the race
	// detector sees the unsynchronised access only when requests overlap
	// (sequential ones are ordered through net/http's sync.Pools).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4 * clients))
	for round := range rounds {
		up := newCountingUpstream(t)
		cfg := tokenConfig(up.URL)
		withAgentKey(cfg)
		ps := newProxy(t, cfg)
		// One warm keep-alive connection per client, so the desk requests
		// start together when the barrier opens.
		cls := make([]*http.Client, clients)
		for i := range cls {
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			cls[i] = &http.Client{Transport: tr, Timeout: 5 * time.Second}
			req, _ := http.NewRequest("GET", ps.URL+"/__cobrowse/warm", nil)
			req.Host = cspHost
			res, err := cls[i].Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
		var wg sync.WaitGroup
		barrier := make(chan struct{})
		csps := make([]string, clients)
		for i := range clients {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", ps.URL+"/__cobrowse/agent", nil)
				req.Host = cspHost
				<-barrier
				res, err := cls[i].Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				csps[i] = res.Header.Get("Content-Security-Policy")
			})
		}
		close(barrier)
		wg.Wait()
		for i, c := range csps {
			if c == "" || c != csps[0] {
				t.Errorf("round %d, request %d: desk CSP %q, want %q", round, i, c, csps[0])
			}
		}
	}
}
