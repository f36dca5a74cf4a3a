package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// varyNames is the Vary header's field names, lower case.
func varyNames(h http.Header) map[string]bool {
	out := map[string]bool{}
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out[strings.ToLower(f)] = true
			}
		}
	}
	return out
}

// TestVaryOnDecisionHeaders: whether and how a page is injected depends on
// Sec-Fetch-Dest (document, iframe and empty give three different bodies)
// and on the fragment-request headers, so every response whose body could
// have differed says so in Vary; a shared cache would otherwise serve one
// variant for another. Responses whose body cannot depend on them do not
// get the header.
func TestVaryOnDecisionHeaders(t *testing.T) {
	decisionHeaders := []string{"Sec-Fetch-Dest", "Hx-Request", "Turbo-Frame", "X-Up-Target", "X-Pjax", "X-Requested-With"}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/logo.png":
			w.Header().Set("Content-Type", "image/png")
		case "/star":
			w.Header().Set("Vary", "*")
			w.Header().Set("Content-Type", "text/html")
		default:
			w.Header().Set("Vary", "Cookie")
			w.Header().Set("Content-Type", "text/html")
		}
		w.Write([]byte("<!doctype html><html><head><title>x</title></head><body>x</body></html>"))
	}))
	defer up.Close()
	f := false
	e := newEnv(t, up.URL, func(c *config.Config) { c.Sites[0].Inject.Exclude = []string{"/excluded"} })
	noFrames := newEnv(t, up.URL, func(c *config.Config) { c.Sites[0].Inject.Iframes = &f })
	for _, c := range []struct {
		name string
		e    *env
		path string
		hdr  map[string]string
		vary bool
	}{
		{"document", e, "/", map[string]string{"Sec-Fetch-Dest": "document"}, true},
		{"iframe", e, "/", map[string]string{"Sec-Fetch-Dest": "iframe"}, true},
		{"empty", e, "/", map[string]string{"Sec-Fetch-Dest": "empty"}, true},
		{"no Sec-Fetch-Dest", e, "/", nil, true},
		{"htmx", e, "/", map[string]string{"Hx-Request": "true"}, true},
		{"xhr", e, "/", map[string]string{"X-Requested-With": "XMLHttpRequest"}, true},
		{"iframes off", noFrames, "/", map[string]string{"Sec-Fetch-Dest": "iframe"}, true},
		{"image", e, "/logo.png", map[string]string{"Sec-Fetch-Dest": "image"}, false},
		{"excluded path", e, "/excluded", map[string]string{"Sec-Fetch-Dest": "document"}, false},
	} {
		res, _ := c.e.do(c.e.request("GET", c.path, c.hdr))
		got := varyNames(res.Header)
		for _, h := range decisionHeaders {
			if got[strings.ToLower(h)] != c.vary {
				t.Errorf("%s: Vary %q: has %s = %v, want %v", c.name, res.Header.Values("Vary"), h, !c.vary, c.vary)
			}
		}
		if c.path == "/" && !got["cookie"] {
			t.Errorf("%s: the upstream's Vary: Cookie was lost: %q", c.name, res.Header.Values("Vary"))
		}
	}
	res, _ := e.do(e.request("GET", "/star", map[string]string{"Sec-Fetch-Dest": "document"}))
	if v := strings.Join(res.Header.Values("Vary"), ","); v != "*" {
		t.Errorf("Vary: * became %q", v)
	}
}
