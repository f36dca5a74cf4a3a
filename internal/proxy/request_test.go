package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// captureUpstream records the last request's headers and raw path.
type captureUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	hdr     http.Header
	rawPath string
	n       int
}

func newCaptureUpstream(t *testing.T) *captureUpstream {
	t.Helper()
	u := &captureUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hdr, u.rawPath = r.Header.Clone(), r.URL.EscapedPath()
		u.n++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *captureUpstream) last() (http.Header, string, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hdr, u.rawPath, u.n
}

// TestProxyCookiesNotForwarded: the agent session cookie (scoped to the
// reserved prefix, but sent by a browser for any path that starts with it)
// never reaches the upstream; the site's own cookies pass byte for byte.
func TestProxyCookiesNotForwarded(t *testing.T) {
	up := newCaptureUpstream(t)
	e := newEnv(t, up.URL, nil)
	for _, c := range []struct{ in, want string }{
		{"a=1; cobrowse_agent=secret; b=2", "a=1; b=2"},
		{"cobrowse_agent=secret", ""},
		{"cobrowse_agent=secret;  a=\"q v\";b=", "a=\"q v\";b="},
		{"a=1;cobrowse_agent=secret", "a=1"},
		{" cobrowse_agent = secret ; x_cobrowse_agent=keep", "x_cobrowse_agent=keep"},
		{"a=1;  b=2", "a=1;  b=2"},
	} {
		e.do(e.request("GET", "/page", map[string]string{"Cookie": c.in}))
		hdr, _, _ := up.last()
		if got := strings.Join(hdr.Values("Cookie"), " | "); got != c.want {
			t.Errorf("Cookie %q forwarded as %q, want %q", c.in, got, c.want)
		}
	}
}

// TestClientHintsStripped: from a peer that is not a trusted proxy, no
// header that a framework might read as the client's address, the original
// host or URL, or an auth proxy's identity reaches the upstream. From a
// trusted proxy they pass.
func TestClientHintsStripped(t *testing.T) {
	headers := []string{
		"X-Real-Ip",
		"True-Client-Ip",
		"X-Client-Ip",
		"Cf-Connecting-Ip",
		"Client-IP",
		"X-Cluster-Client-IP",
		"Fastly-Client-IP",
		"X-Originating-IP",
		"X-Remote-Addr",
		"X-Remote-IP",
		"X-ProxyUser-Ip",
		"X-Forwarded",
		"Forwarded-For",
		"X-Original-Forwarded-For",
		"X-Host",
		"X-Original-Host",
		"X-Original-Url",
		"X-Rewrite-Url",
		"Front-End-Https",
		"X-Url-Scheme",
		"X-Forwarded-Email",
		"X-Forwarded-User",
		"X-Forwarded-Port",
		"X-Auth-Agent",      // token.agent.identity.header below
		"X-Auth-Agent-Name", // token.agent.identity.nameHeader below
	}
	up := newCaptureUpstream(t)
	for _, c := range []struct {
		name    string
		trusted []string
		want    bool // the headers reach the upstream
	}{
		{"untrusted peer", nil, false},
		{"trusted peer", []string{"127.0.0.1"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, up.URL, func(cfg *config.Config) {
				cfg.Proxy.TrustedProxies = c.trusted
				cfg.Token.Agent.Identity.Header = "X-Auth-Agent"
				cfg.Token.Agent.Identity.NameHeader = "X-Auth-Agent-Name"
				cfg.Token.Agent.Identity.From = []string{"127.0.0.1"}
			})
			req := e.request("GET", "/", nil)
			for _, h := range headers {
				req.Header[h] = []string{"203.0.113.9"} // as sent, not canonicalised
			}
			e.do(req)
			hdr, _, _ := up.last()
			for _, h := range headers {
				if got := hdr.Get(h) != ""; got != c.want {
					t.Errorf("%s forwarded=%v, want %v", h, got, c.want)
				}
			}
		})
	}
}

// TestUpstreamPathPrefixNotEscaped: with an upstream URL that has a path,
// a request whose path has a dot segment in any reading (encoded dots,
// encoded slashes or backslashes) is refused with 400 instead of being
// forwarded as /prefix/%2e%2e/admin, which an upstream that normalises
// would serve from outside its prefix.
func TestUpstreamPathPrefixNotEscaped(t *testing.T) {
	up := newCaptureUpstream(t)
	e := newEnv(t, up.URL+"/prefix", nil)
	for _, p := range []string{
		"/%2e%2e/admin",
		"/..%2fadmin",
		"/..%2Fadmin",
		"/.%2e/admin",
		"/%2e%2e%2fadmin",
		"/a/..%2f..%2fadmin",
		"/..%5cadmin",
		"/..\\admin",
		"/../admin",
		"/a/../../admin",
		"/%2e/admin",
	} {
		res, _ := e.do(e.request("GET", p, nil))
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", p, res.StatusCode)
		}
	}
	if _, raw, n := up.last(); n != 0 {
		t.Fatalf("upstream got %d request(s), the last for %s", n, raw)
	}
	for _, c := range []struct{ in, want string }{
		{"/ok", "/prefix/ok"},
		{"/a%2fb", "/prefix/a%2fb"},
		{"/..foo/x.", "/prefix/..foo/x."},
		{"/", "/prefix/"},
	} {
		res, _ := e.do(e.request("GET", c.in, nil))
		_, raw, _ := up.last()
		if res.StatusCode != 200 || raw != c.want {
			t.Errorf("%s: status %d, upstream path %q, want 200 and %q", c.in, res.StatusCode, raw, c.want)
		}
	}
	// Without a path in the upstream URL there is no prefix to escape: the
	// path goes as it came.
	up2 := newCaptureUpstream(t)
	e2 := newEnv(t, up2.URL, nil)
	if res, _ := e2.do(e2.request("GET", "/..%2fadmin", nil)); res.StatusCode != 200 {
		t.Errorf("no upstream path: status %d, want 200", res.StatusCode)
	}
}
