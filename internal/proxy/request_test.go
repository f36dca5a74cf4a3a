package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
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
