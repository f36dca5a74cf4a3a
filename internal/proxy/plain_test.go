package proxy_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// plainUpstream serves an HTML page (and, by path, other answers), in the
// first of br and gzip the request accepts (or plain with never), and
// records the Accept-Encoding of each request.
type plainUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "path: Accept-Encoding"
}

const plainPolicy = "script-src https://cdn.example.net"

func newPlainUpstream(t *testing.T, doc []byte, never bool) *plainUpstream {
	u := &plainUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae := r.Header.Get("Accept-Encoding")
		u.mu.Lock()
		u.seen = append(u.seen, r.URL.Path+": "+ae)
		u.mu.Unlock()
		ct := "text/html; charset=utf-8"
		switch r.URL.Path {
		case "/data":
			ct = "application/json"
		case "/photo":
			ct = "image/png"
		case "/download":
			w.Header().Set("Content-Disposition", "attachment; filename=page.html")
		case "/strict":
			w.Header().Set("Content-Security-Policy", plainPolicy)
		case "/moved":
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Vary", "Accept-Encoding")
		body := doc
		for _, c := range []string{"br", "gzip"} {
			if !never && strings.Contains(ae, c) && r.URL.Path != "/photo" {
				w.Header().Set("Content-Encoding", c)
				body = encodeWith(t, c, doc)
				break
			}
		}
		w.Write(body)
	}))
	t.Cleanup(u.Close)
	return u
}

// last returns what the upstream saw of the last request and forgets it.
func (u *plainUpstream) last(t *testing.T) string {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream saw no request")
	}
	s := u.seen[len(u.seen)-1]
	u.seen = u.seen[:0]
	return s
}

// TestUpstreamPlain: once the upstream has sent a compressed page, a
// browser's navigation to a page that will be injected asks it for the
// page plain, and the proxy compresses it once in the coding the client
// would have got; every other request carries the client's
// Accept-Encoding as it came.
func TestUpstreamPlain(t *testing.T) {
	doc := page(20 << 10)
	const browserAE = "gzip, deflate, br, zstd"
	nav := map[string]string{"Sec-Fetch-Dest": "document", "Accept-Encoding": browserAE}
	with := func(extra map[string]string, drop ...string) map[string]string {
		h := map[string]string{}
		for k, v := range nav {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		for _, k := range drop {
			delete(h, k)
		}
		return h
	}
	cases := []struct {
		name     string
		method   string
		path     string
		host     string
		hdr      map[string]string
		upstream string // the Accept-Encoding the upstream sees
		coding   string // the client's Content-Encoding
		inject   bool
		body     []byte // the body the client gets, decoded, when not injected; nil for doc
	}{
		{"navigation", "GET", "/", "", nav, "identity", "zstd", true, nil},
		{"iframe", "GET", "/", "", with(map[string]string{"Sec-Fetch-Dest": "iframe"}), "identity", "zstd", true, nil},
		{"no Sec-Fetch-Dest, Accept html", "GET", "/", "", with(map[string]string{"Accept": "text/html,application/xhtml+xml;q=0.9"}, "Sec-Fetch-Dest"), "identity", "zstd", true, nil},
		{"client prefers gzip", "GET", "/", "", with(map[string]string{"Accept-Encoding": "gzip, br;q=0.5"}), "identity", "gzip", true, nil},
		{"client takes only br", "GET", "/", "", with(map[string]string{"Accept-Encoding": "br"}), "identity", "br", true, nil},
		{"fetch", "GET", "/", "", with(map[string]string{"Sec-Fetch-Dest": "empty"}), browserAE, "br", false, nil},
		{"no Sec-Fetch-Dest, no Accept", "GET", "/", "", with(nil, "Sec-Fetch-Dest"), browserAE, "zstd", true, nil},
		{"no Sec-Fetch-Dest, Accept without html", "GET", "/", "", with(map[string]string{"Accept": "application/json, text/plain"}, "Sec-Fetch-Dest"), browserAE, "zstd", true, nil},
		{"no Sec-Fetch-Dest, Accept only html", "GET", "/", "", with(map[string]string{"Accept": "TEXT/HTML"}, "Sec-Fetch-Dest"), "identity", "zstd", true, nil},
		{"htmx fragment", "GET", "/", "", with(map[string]string{"HX-Request": "true"}), browserAE, "br", false, nil},
		{"range", "GET", "/", "", with(map[string]string{"Range": "bytes=0-99"}), browserAE, "zstd", true, nil},
		{"client accepts nothing", "GET", "/", "", with(nil, "Accept-Encoding"), "", "", true, nil},
		{"client refuses codings", "GET", "/", "", with(map[string]string{"Accept-Encoding": "identity"}), "identity", "", true, nil},
		{"head", "HEAD", "/", "", nav, "identity", "zstd", false, []byte{}},
		{"navigation answered with JSON", "GET", "/data", "", nav, "identity", "zstd", false, doc},
		{"navigation answered with an image", "GET", "/photo", "", nav, "identity", "", false, doc},
		{"download", "GET", "/download", "", nav, "identity", "zstd", false, doc},
		{"policy that cannot allow the loader", "GET", "/strict", "[::1]", nav, "identity", "zstd", false, doc},
		{"redirect", "GET", "/moved", "", nav, "identity", "zstd", false, nil},
	}
	up := newPlainUpstream(t, doc, false)
	e := newEnv(t, up.URL, func(c *config.Config) {
		// CSP host sources cannot name an IPv6 literal: on [::1] a policy
		// without 'self' cannot allow the loader, and the page is skipped.
		c.Sites[0].Hosts = append(c.Sites[0].Hosts, "::1")
	})
	// The first navigation learns that the upstream compresses.
	res, _ := e.do(e.request("GET", "/", nav))
	if got := up.last(t); got != "/: "+browserAE {
		t.Fatalf("first navigation: upstream saw %q", got)
	}
	if ce := res.Header.Get("Content-Encoding"); ce != "zstd" {
		t.Fatalf("first navigation: Content-Encoding %q, want zstd (br re-encoded)", ce)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := e.request(c.method, c.path, c.hdr)
			if c.host != "" {
				req.Host = c.host
			}
			res, body := e.do(req)
			if got, want := up.last(t), c.path+": "+c.upstream; got != want {
				t.Errorf("upstream saw %q, want %q", got, want)
			}
			if got := res.Header.Get("Content-Encoding"); got != c.coding {
				t.Fatalf("Content-Encoding %q, want %q", got, c.coding)
			}
			if c.coding != "" && !hasToken(res.Header, "Vary", "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", res.Header.Values("Vary"))
			}
			if c.method == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD answered with %d bytes", len(body))
				}
				return
			}
			if c.path == "/moved" {
				if res.StatusCode != http.StatusFound {
					t.Errorf("status %d, want 302", res.StatusCode)
				}
				return
			}
			plain := decodeWith(t, c.coding, body)
			if c.name == "range" {
				return // the upstream ignores ranges; the point is what it saw
			}
			rest, at := stripTag(t, plain)
			if c.inject != (at >= 0) {
				t.Fatalf("injected %v, want %v", at >= 0, c.inject)
			}
			if !bytes.Equal(rest, doc) {
				t.Fatalf("decoded body differs from the upstream's page (%d vs %d bytes)", len(rest), len(doc))
			}
		})
	}
}

// TestUpstreamPlainOff: with proxy.upstreamPlain false, or an
// upstream that never compresses, navigations carry the client's
// Accept-Encoding and a plain page stays plain.
func TestUpstreamPlainOff(t *testing.T) {
	doc := page(8 << 10)
	nav := map[string]string{"Sec-Fetch-Dest": "document", "Accept-Encoding": "gzip, br"}
	off := false
	for _, c := range []struct {
		name   string
		never  bool
		mut    func(*config.Config)
		coding string
	}{
		{"switched off", false, func(c *config.Config) { c.Proxy.UpstreamPlain = &off }, "gzip"},
		{"upstream never compresses", true, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := newPlainUpstream(t, doc, c.never)
			e := newEnv(t, up.URL, c.mut)
			for i := range 3 {
				res, body := e.do(e.request("GET", "/", nav))
				if got := up.last(t); got != "/: gzip, br" {
					t.Fatalf("request %d: upstream saw %q", i, got)
				}
				if got := res.Header.Get("Content-Encoding"); got != c.coding {
					t.Fatalf("request %d: Content-Encoding %q, want %q", i, got, c.coding)
				}
				if _, at := stripTag(t, decodeWith(t, c.coding, body)); at < 0 {
					t.Fatalf("request %d: not injected", i)
				}
			}
		})
	}
}
