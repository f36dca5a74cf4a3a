package token

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestIdentityHeader: the header counts only from a peer within From, the
// peer is the raw connection (X-Forwarded-For cannot fake it), and the
// agent's identity comes from the headers, not the body.
func TestIdentityHeader(t *testing.T) {
	idOpts := func(from string) func(*Options) {
		return func(o *Options) {
			o.Agent.Identity = IdentityHeader{Header: "X-Forwarded-Email", NameHeader: "X-Forwarded-Preferred-Username",
				From: []netip.Prefix{netip.MustParsePrefix(from)}}
		}
	}
	tests := []struct {
		name     string
		from     string // the auth proxy's network; the test peer is 127.0.0.1
		hdr      map[string]string
		status   int
		wantID   string
		wantName string
	}{
		{"trusted peer", "127.0.0.0/8", map[string]string{"X-Forwarded-Email": "alice@example.com", "X-Forwarded-Preferred-Username": "Alice\u202e  A."},
			200, "alice@example.com", "Alice A."},
		{"trusted peer, no name header", "127.0.0.1/32", map[string]string{"X-Forwarded-Email": "bob@example.com"}, 200, "bob@example.com", "bob@example.com"},
		{"trusted peer, empty identity", "127.0.0.0/8", map[string]string{"X-Forwarded-Email": "  "}, 401, "", ""},
		{"untrusted peer", "10.0.0.0/8", map[string]string{"X-Forwarded-Email": "alice@example.com"}, 401, "", ""},
		{"untrusted peer spoofing X-Forwarded-For", "10.0.0.0/8", map[string]string{"X-Forwarded-Email": "alice@example.com",
			"X-Forwarded-For": "10.0.0.5", "X-Real-Ip": "10.0.0.5", "Forwarded": "for=10.0.0.5"}, 401, "", ""},
		{"trusted peer, cross-site browser request", "127.0.0.0/8", map[string]string{"X-Forwarded-Email": "alice@example.com",
			"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, idOpts(tt.from))
			hdr := map[string]string{}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			r := e.do(http.MethodPost, DefaultPrefix+"/token", "application/json", `{"role":2,"userId":"mallory","userName":"Mallory"}`, hdr)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
			if r.status != 200 {
				return
			}
			_, cl := verifyJWT(t, r.token(t).Token, []byte(testSecret))
			if str(t, cl, "user_id") != tt.wantID || str(t, cl, "user_name") != tt.wantName || num(t, cl, "role_type") != 2 {
				t.Fatalf("claims user_id %s user_name %s", cl["user_id"], cl["user_name"])
			}
		})
	}
}

// TestConstantTimeCompare: hashes are compared by subtle.ConstantTimeCompare,
// and against every configured hash whichever one matches.
func TestConstantTimeCompare(t *testing.T) {
	keys := []AgentKey{{Name: "a", Hash: HashKey("ka")}, {Name: "b", Hash: HashKey("kb")}, {Name: "c", Hash: HashKey("kc")}}
	a := NewAgentAuth(keys, IdentityHeader{}, nil, nil)
	if reflect.ValueOf(a.Compare).Pointer() != reflect.ValueOf(subtle.ConstantTimeCompare).Pointer() {
		t.Fatal("the default comparer is not subtle.ConstantTimeCompare")
	}
	calls := 0
	a.Compare = func(x, y []byte) int { calls++; return subtle.ConstantTimeCompare(x, y) }
	for _, tt := range []struct {
		key, want string
		ok        bool
	}{{"ka", "a", true}, {"kb", "b", true}, {"kc", "c", true}, {"nope", "", false}} {
		calls = 0
		id, ok := a.VerifyKey(tt.key)
		if ok != tt.ok || id.UserID != tt.want {
			t.Errorf("VerifyKey(%q) = %v %v", tt.key, id, ok)
		}
		if calls != len(keys) {
			t.Errorf("VerifyKey(%q) compared %d hashes, want all %d", tt.key, calls, len(keys))
		}
	}
}

func TestGenerateAndHashKey(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	if k1 == k2 || !strings.HasPrefix(k1, KeyPrefix) || len(k1) != len(KeyPrefix)+43 {
		t.Fatalf("keys %q %q", k1, k2)
	}
	// SHA-256("abc"), FIPS 180-2 test vector.
	if HashKey("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal("HashKey is not hex SHA-256")
	}
	a := NewAgentAuth([]AgentKey{{Name: "x", Hash: strings.ToUpper(HashKey(k1))}}, IdentityHeader{}, nil, nil)
	if _, ok := a.VerifyKey(k1); !ok {
		t.Fatal("upper-case hash not accepted")
	}
}

func login(e *env, key string, hdr map[string]string) resp {
	e.t.Helper()
	h := e.sameOrigin()
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return e.do(http.MethodPost, DefaultPrefix+"/agent/login", "application/x-www-form-urlencoded", "key="+key, h)
}

func sessionCookie(t *testing.T, r resp) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.header)
	return nil
}

func TestAgentLoginAndSession(t *testing.T) {
	const key = "cbpk_desk"
	e := newEnv(t, func(o *Options) { agentKeyOpts(key)(o); o.Agent.SessionTTL = time.Hour })

	r := login(e, key, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != DefaultPrefix+"/agent" {
		t.Fatalf("login: %d Location %q %s", r.status, r.header.Get("Location"), r.body)
	}
	c := sessionCookie(t, r)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != DefaultPrefix+"/" || c.MaxAge != 3600 {
		t.Fatalf("cookie attributes: %+v", c)
	}
	agentToken := func(c *http.Cookie, hdr map[string]string) resp {
		if hdr == nil {
			hdr = e.sameOrigin()
		}
		return e.do(http.MethodPost, DefaultPrefix+"/token", "application/json", `{"role":2}`, hdr, c)
	}
	if r := agentToken(c, nil); r.status != 200 {
		t.Fatalf("token with session: %d %s", r.status, r.body)
	} else if _, cl := verifyJWT(t, r.token(t).Token, []byte(testSecret)); str(t, cl, "user_id") != "alice@example.com" {
		t.Fatalf("user_id %s", cl["user_id"])
	}
	if r := agentToken(c, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); r.status != 403 {
		t.Fatalf("cross-site with session: %d", r.status)
	}

	tampered := func(f func(body, sig string) string) *http.Cookie {
		body, sig, _ := strings.Cut(c.Value, ".")
		return &http.Cookie{Name: SessionCookie, Value: f(body, sig)}
	}
	for name, bad := range map[string]*http.Cookie{
		"payload changed": tampered(func(b, s string) string { return b[:len(b)-2] + "AA." + s }),
		"signature cut":   tampered(func(b, s string) string { return b + "." + s[:10] }),
		"no signature":    tampered(func(b, s string) string { return b }),
		"garbage":         {Name: SessionCookie, Value: "x.y"},
		"other key's MAC": forge(t, []byte("0123456789abcdef0123456789abcdef"), "alice@example.com", e.clock.Now()),
	} {
		if r := agentToken(bad, nil); r.status != 401 {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
	}

	e.clock.Advance(time.Hour)
	if r := agentToken(c, nil); r.status != 401 {
		t.Fatalf("expired session: %d", r.status)
	}
}

// forge signs a session cookie with key, as an attacker without the real
// key would have to.
func forge(t *testing.T, key []byte, user string, now time.Time) *http.Cookie {
	s := NewSessions(SessionOptions{Key: key, TTL: time.Hour, Now: func() time.Time { return now }})
	w := &headerRecorder{h: http.Header{}}
	if err := s.Issue(w, Identity{UserID: user, UserName: user, Method: MethodKey}); err != nil {
		t.Fatal(err)
	}
	return (&http.Response{Header: w.h}).Cookies()[0]
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

// TestSessionEndsWithKeyOrSecret: removing the key from the config or
// rotating the SDK secret ends the sessions opened before.
func TestSessionEndsWithKeyOrSecret(t *testing.T) {
	c := newClock()
	sec := StaticSecret("secret-one")
	s := NewSessions(SessionOptions{Secret: sec, TTL: time.Hour, Now: c.Now, Path: "/p/"})
	w := &headerRecorder{h: http.Header{}}
	s.Issue(w, Identity{UserID: "alice", UserName: "Alice", Method: MethodKey})
	req := &http.Request{Header: http.Header{"Cookie": {w.h.Get("Set-Cookie")}}}

	withKey := NewAgentAuth([]AgentKey{{Name: "alice", Hash: HashKey("k")}}, IdentityHeader{}, nil, s)
	if id, ok := withKey.Authenticate(req); !ok || id.Method != MethodSession || id.Via != MethodKey || id.UserName != "Alice" {
		t.Fatalf("session not accepted: %+v %v", id, ok)
	}
	without := NewAgentAuth([]AgentKey{{Name: "bob", Hash: HashKey("k2")}}, IdentityHeader{}, nil, s)
	if _, ok := without.Authenticate(req); ok {
		t.Fatal("session of a removed key accepted")
	}
	rotated := NewSessions(SessionOptions{Secret: StaticSecret("secret-two"), TTL: time.Hour, Now: c.Now})
	if _, ok := rotated.Agent(req); ok {
		t.Fatal("session accepted after the SDK secret rotated")
	}
	shorter := NewSessions(SessionOptions{Secret: sec, TTL: time.Minute, Now: c.Now})
	if _, ok := shorter.Agent(req); ok {
		t.Fatal("session longer than the configured TTL accepted")
	}
	// A bearer header decides alone: a wrong key is not rescued by the cookie.
	req.Header.Set("Authorization", "Bearer wrong")
	if _, ok := withKey.Authenticate(req); ok {
		t.Fatal("wrong bearer key rescued by the session cookie")
	}
	// Insecure is only what it says.
	w = &headerRecorder{h: http.Header{}}
	NewSessions(SessionOptions{Secret: sec, Insecure: true}).Issue(w, Identity{UserID: "a"})
	if ck := w.h.Get("Set-Cookie"); strings.Contains(ck, "Secure") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Fatalf("insecure cookie: %s", ck)
	}
}

func TestAgentLoginRefusals(t *testing.T) {
	const key = "cbpk_desk"
	tests := []struct {
		name     string
		opts     func(*Options)
		method   string
		ct       string
		body     string
		hdr      map[string]string
		status   int
		location string
	}{
		{name: "wrong key", body: "key=nope", status: 303, location: DefaultPrefix + "/agent?error=invalid_key"},
		{name: "empty key", body: "key=", status: 303, location: DefaultPrefix + "/agent?error=invalid_key"},
		{name: "GET", method: http.MethodGet, status: 405},
		{name: "JSON body", ct: "application/json", body: `{"key":"x"}`, status: 415},
		{name: "cross-site (CSRF)", body: "key=" + key, hdr: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "no origin headers", body: "key=" + key, hdr: map[string]string{"Origin": "", "Sec-Fetch-Site": ""}, status: 403},
		{name: "too large", body: "key=" + strings.Repeat("a", 9000), status: 413},
		{name: "no keys configured", opts: func(*Options) {}, body: "key=" + key, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := agentKeyOpts(key)
			if tt.opts != nil {
				opts = tt.opts
			}
			e := newEnv(t, opts)
			h := e.sameOrigin()
			for k, v := range tt.hdr {
				if v == "" {
					delete(h, k)
				} else {
					h[k] = v
				}
			}
			method, ct := tt.method, tt.ct
			if method == "" {
				method = http.MethodPost
			}
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			r := e.do(method, DefaultPrefix+"/agent/login", ct, tt.body, h)
			if r.status != tt.status || r.header.Get("Location") != tt.location {
				t.Fatalf("%d Location %q %s, want %d %q", r.status, r.header.Get("Location"), r.body, tt.status, tt.location)
			}
			if r.header.Get("Set-Cookie") != "" {
				t.Fatal("cookie set on a refused sign-in")
			}
		})
	}
}

func TestAgentLoginRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		agentKeyOpts("k")(o)
		o.Agent.Rate = RateLimit{Every: time.Minute, Burst: 2}
	})
	for range 2 {
		if r := login(e, "guess", nil); r.header.Get("Location") != DefaultPrefix+"/agent?error=invalid_key" {
			t.Fatalf("%d %q", r.status, r.header.Get("Location"))
		}
	}
	r := login(e, "k", nil)
	if r.header.Get("Location") != DefaultPrefix+"/agent?error=rate_limited" || r.header.Get("Retry-After") != "60" || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("third attempt: %d %v", r.status, r.header)
	}
	e.clock.Advance(time.Minute)
	if r := login(e, "k", nil); r.header.Get("Location") != DefaultPrefix+"/agent" {
		t.Fatalf("after refill: %v", r.header)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, agentKeyOpts("k"))
	r := e.do(http.MethodPost, DefaultPrefix+"/agent/logout", "application/x-www-form-urlencoded", "", e.sameOrigin())
	if c := sessionCookie(t, r); r.status != 303 || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("%d %+v", r.status, c)
	}
}

// TestKeyDisplayName: a key's display name becomes user_name, cleaned like
// customer names; the key's name stays the user_id.
func TestKeyDisplayName(t *testing.T) {
	keys := []AgentKey{
		{Name: "alice", DisplayName: "  Alice   from\tSupport\u200b ", Hash: HashKey("ka")},
		{Name: "bob", Hash: HashKey("kb")},
		{Name: "carol", DisplayName: strings.Repeat("é", 100), Hash: HashKey("kc")},
	}
	a := NewAgentAuth(keys, IdentityHeader{}, nil, nil)
	for _, tt := range []struct{ key, id, name string }{
		{"ka", "alice", "Alice from Support"},
		{"kb", "bob", "bob"},
		{"kc", "carol", strings.Repeat("é", 80)},
	} {
		id, ok := a.VerifyKey(tt.key)
		if !ok || id.UserID != tt.id || id.UserName != tt.name {
			t.Errorf("VerifyKey(%q) = %+v %v, want id %q name %q", tt.key, id, ok, tt.id, tt.name)
		}
	}
}

// TestAgentRateLimitsNAT: the office-NAT case with the default limits.
// Failures are charged to the client address, successes are not; an
// authenticated agent's token requests are charged to the agent.
func TestAgentRateLimitsNAT(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Agent.Keys = []AgentKey{{Name: "alice", Hash: HashKey("ka")}, {Name: "bob", Hash: HashKey("kb")}}
	})
	nat := map[string]string{"X-Test-Client": "203.0.113.7"}
	for i := range 8 {
		if r := login(e, "typo", nat); r.header.Get("Location") != DefaultPrefix+"/agent?error=invalid_key" {
			t.Fatalf("wrong key %d: %d %q", i, r.status, r.header.Get("Location"))
		}
	}
	// 8 typos, then the right key from the same address: signed in.
	for _, k := range []string{"ka", "kb", "ka"} {
		if r := login(e, k, nat); r.header.Get("Location") != DefaultPrefix+"/agent" || r.header.Get("Set-Cookie") == "" {
			t.Fatalf("right key after 8 typos: %d %q", r.status, r.header.Get("Location"))
		}
	}
	// A valid key asks for more than 10 tokens: its own bucket (burst 30).
	bearer := func(k string) map[string]string {
		return map[string]string{"X-Test-Client": "203.0.113.7", "Authorization": "Bearer " + k}
	}
	for i := range 30 {
		if r := e.postToken(`{"role":2}`, bearer("ka")); r.status != http.StatusOK {
			t.Fatalf("alice's token %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := e.postToken(`{"role":2}`, bearer("ka")); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Errorf("alice's 31st token: %d Retry-After %q, want 429 and 2", r.status, r.header.Get("Retry-After"))
	}
	if r := e.postToken(`{"role":2}`, bearer("kb")); r.status != http.StatusOK {
		t.Errorf("bob behind the same NAT: %d %s", r.status, r.body)
	}
	// Failures still lock the address out: 2 more typos make 10, then even
	// the right key waits.
	for range 2 {
		login(e, "typo", nat)
	}
	if r := login(e, "ka", nat); r.header.Get("Location") != DefaultPrefix+"/agent?error=rate_limited" || r.header.Get("Set-Cookie") != "" {
		t.Errorf("after 10 failures: %d %q", r.status, r.header.Get("Location"))
	}
	// Wrong bearer keys are failures too, from another address.
	other := map[string]string{"X-Test-Client": "198.51.100.9", "Authorization": "Bearer nope"}
	for i := range 10 {
		if r := e.postToken(`{"role":2}`, other); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong bearer %d: %d", i+1, r.status)
		}
	}
	if r := e.postToken(`{"role":2}`, other); r.status != http.StatusTooManyRequests {
		t.Errorf("11th wrong bearer: %d, want 429", r.status)
	}
}

// TestLogoutRevokes: after Sign out, a copy of the session cookie taken
// before it is refused by the server, not only forgotten by the browser;
// a new sign-in works.
func TestLogoutRevokes(t *testing.T) {
	e := newEnv(t, agentKeyOpts("k"))
	c := sessionCookie(t, login(e, "k", nil))
	other := sessionCookie(t, login(e, "k", nil)) // another browser of the same agent, in the same second
	tok := func(c *http.Cookie) int {
		return e.do(http.MethodPost, DefaultPrefix+"/token", "application/json", `{"role":2}`, e.sameOrigin(), c).status
	}
	if s := tok(c); s != http.StatusOK {
		t.Fatalf("before sign-out: %d", s)
	}
	if r := e.do(http.MethodPost, DefaultPrefix+"/agent/logout", "application/x-www-form-urlencoded", "", e.sameOrigin(), c); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if s := tok(c); s != http.StatusUnauthorized {
		t.Errorf("the signed-out cookie replayed: %d, want 401", s)
	}
	if s := tok(other); s != http.StatusOK {
		t.Errorf("another session of the same agent: %d, want 200", s)
	}
	if s := tok(sessionCookie(t, login(e, "k", nil))); s != http.StatusOK {
		t.Errorf("a new sign-in after sign-out: %d", s)
	}
}

// TestRevocationsBounded: the revocation list never grows past maxRevoked,
// and expired entries leave first.
func TestRevocationsBounded(t *testing.T) {
	c := newClock()
	s := NewSessions(SessionOptions{Secret: StaticSecret(testSecret), TTL: time.Hour, Now: c.Now})
	for i := range maxRevoked + 50 {
		w := &headerRecorder{h: http.Header{}}
		if err := s.Issue(w, Identity{UserID: fmt.Sprintf("a%d", i), UserName: "A", Method: MethodKey}); err != nil {
			t.Fatal(err)
		}
		s.Revoke(&http.Request{Header: http.Header{"Cookie": {w.h.Get("Set-Cookie")}}})
	}
	if n := len(s.revoked.m); n != maxRevoked {
		t.Errorf("%d revocations kept, want %d", n, maxRevoked)
	}
}

// noSecret is the demo without ZOOM_SDK_SECRET: nothing can be signed.
type noSecret struct{}

func (noSecret) Secret() ([]byte, error) { return nil, ErrNoSecret }

// TestLoginWithoutSecret: the right key without an SDK secret gets the
// desk's page with an error to show, not a raw JSON 503.
func TestLoginWithoutSecret(t *testing.T) {
	e := newEnv(t, func(o *Options) { agentKeyOpts("k")(o); o.Secret = noSecret{} })
	r := login(e, "k", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != DefaultPrefix+"/agent?error=unavailable" || r.header.Get("Set-Cookie") != "" {
		t.Errorf("%d Location %q Set-Cookie %q, want 303 to the desk with error=unavailable", r.status, r.header.Get("Location"), r.header.Get("Set-Cookie"))
	}
}

// TestAgentAuthPeer: the identity header is trusted only from the peer the
// caller's peer function names (nil: the connection's RemoteAddr), and a
// header with no trusted peers configures nothing.
func TestAgentAuthPeer(t *testing.T) {
	from := []netip.Prefix{netip.MustParsePrefix("10.9.8.0/24")}
	r := httptest.NewRequest(http.MethodPost, "/__cobrowse/token", nil)
	r.RemoteAddr = "192.0.2.7:4000"
	r.Header.Set("X-Email", "carol@example.com")
	viaProxy := func(*http.Request) netip.Addr { return netip.MustParseAddr("10.9.8.1") }
	if id, ok := NewAgentAuth(nil, IdentityHeader{Header: "X-Email", From: from}, viaProxy, nil).Authenticate(r); !ok || id.UserID != "carol@example.com" {
		t.Errorf("trusted peer from the peer function: %+v %v", id, ok)
	}
	if id, ok := NewAgentAuth(nil, IdentityHeader{Header: "X-Email", From: from}, nil, nil).Authenticate(r); ok {
		t.Errorf("RemoteAddr 192.0.2.7 is not in 10.9.8.0/24, yet accepted as %+v", id)
	}
	r.RemoteAddr = "10.9.8.2:4000"
	if _, ok := NewAgentAuth(nil, IdentityHeader{Header: "X-Email", From: from}, nil, nil).Authenticate(r); !ok {
		t.Error("nil peer function: RemoteAddr 10.9.8.2 not trusted")
	}
	if NewAgentAuth(nil, IdentityHeader{Header: "X-Email"}, nil, nil).Configured() {
		t.Error("an identity header without trusted peers counts as configured")
	}
}
