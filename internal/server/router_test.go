package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/prometheus/client_golang/prometheus"
)

// countingUpstream records every request it gets.
type countingUpstream struct {
	*httptest.Server
	n     atomic.Int64
	mu    sync.Mutex
	paths []string
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.n.Add(1)
		u.mu.Lock()
		u.paths = append(u.paths, r.URL.Path)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("upstream " + r.URL.Path))
	}))
	t.Cleanup(u.Close)
	return u
}

func baseConfig(upstream string) *config.Config {
	return &config.Config{
		Listen: config.Listen{HTTP: "127.0.0.1:0", Admin: "127.0.0.1:0"},
		Zoom:   config.Zoom{SDKKey: "key-123", SDKSecret: "s3cret-value-s3cret-value", CDN: "https://cdn.example.net/sdk"},
		Masking: config.Masking{
			Selectors:  []string{".card-number", "#ssn"},
			Attributes: []string{"data-private"},
		},
		Sites: []config.Site{
			{Name: "shop", Hosts: []string{"shop.example.com", "*.example.com"}, Upstream: upstream,
				Masking: config.SiteMasking{Selectors: []string{".site-only"}}},
		},
	}
}

func newProxy(t *testing.T, cfg *config.Config) *httptest.Server {
	t.Helper()
	s, _ := newProxyReg(t, cfg)
	return s
}

// get is send for a GET without a body.
func get(t *testing.T, base, host, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return send(t, base, "GET", host, path, hdr, "")
}

// TestRouterHosts: only configured hosts are proxied; anything else is
// refused without a request reaching the upstream.
func TestRouterHosts(t *testing.T) {
	// The expected status is literal, not read from the config under test:
	// unset means 421 Misdirected Request.
	for _, tc := range []struct{ configured, refused int }{{0, 421}, {404, 404}, {421, 421}} {
		status, refused := tc.configured, tc.refused
		up := newCountingUpstream(t)
		cfg := baseConfig(up.URL)
		cfg.Sites[0].Hosts = append(cfg.Sites[0].Hosts, "::1", "Mixed.Example.ORG.")
		cfg.Proxy.UnknownHostStatus = status
		ps := newProxy(t, cfg)
		for _, c := range []struct {
			host  string
			proxy bool
		}{
			{"shop.example.com", true},
			{"shop.example.com:8080", true},
			{"SHOP.Example.COM", true},
			{"shop.example.com.", true},
			{"shop.example.com.:443", true},
			{"a.example.com", true},
			{"a.b.example.com", true},
			{"mixed.example.org", true},
			{"[::1]:8080", true},
			{"example.com", false},
			{"notexample.com", false},
			{"example.com.evil.net", false},
			{"shop.example.co", false},
			{"127.0.0.1", false},
			{"evil.net", false},
		} {
			before := up.n.Load()
			res, body := get(t, ps.URL, c.host, "/x", nil)
			after := up.n.Load()
			if c.proxy {
				if res.StatusCode != 200 || string(body) != "upstream /x" || after != before+1 {
					t.Errorf("status %d Host %q: got %d %q, upstream requests +%d; want proxied", status, c.host, res.StatusCode, body, after-before)
				}
				continue
			}
			if res.StatusCode != refused {
				t.Errorf("Host %q: status %d, want %d", c.host, res.StatusCode, refused)
			}
			if after != before {
				t.Errorf("Host %q: upstream got %d request(s); an unknown host must never be forwarded", c.host, after-before)
			}
		}
	}
}

// TestReservedPrefix: the proxy answers its own prefix and never forwards
// it; a path that merely starts with the same letters is the site's.
func TestReservedPrefix(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := baseConfig(up.URL)
	ps := newProxy(t, cfg)
	host := "shop.example.com"

	res, body := get(t, ps.URL, host, "/__cobrowse/bootstrap.js", nil)
	if res.StatusCode != 200 {
		t.Fatalf("bootstrap.js: %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") && !strings.HasPrefix(ct, "application/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	js := string(body)
	for _, want := range []string{
		"https://cdn.example.net/sdk/key-123/js", // SDK URL from config
		".card-number", "#ssn", ".site-only",     // central + site masking
		`input[type=\"password\"]`, // auto-masked inputs (JSON-escaped)
		"data-private",
	} {
		if !strings.Contains(js, want) && !strings.Contains(js, strings.ReplaceAll(want, `\"`, `\u0022`)) {
			t.Errorf("bootstrap.js lacks %q", want)
		}
	}
	if strings.Contains(js, "s3cret-value-s3cret-value") {
		t.Error("bootstrap.js contains the SDK secret")
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on bootstrap.js")
	}

	res, body = get(t, ps.URL, host, "/__cobrowse/bootstrap.js", map[string]string{"If-None-Match": etag})
	if res.StatusCode != 304 || len(body) != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304", res.StatusCode, len(body))
	}

	res, body = get(t, ps.URL, host, "/__cobrowse/bootstrap.js", map[string]string{"Accept-Encoding": "gzip"})
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || string(plain) != js {
		t.Errorf("gzip bootstrap.js does not decode to the plain one (err %v)", err)
	}
	if res.Header.Get("ETag") == etag {
		t.Error("gzip variant has the same ETag as the identity one")
	}

	for _, p := range []string{"/__cobrowse/other", "/__cobrowse", "/__cobrowse/", "/__cobrowse/bootstrap.js/x", "/__cobrowse/token/../bootstrap.jsx"} {
		res, _ := get(t, ps.URL, host, p, nil)
		if res.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", p, res.StatusCode)
		}
	}
	if n := up.n.Load(); n != 0 {
		t.Fatalf("upstream got %d request(s) for the reserved prefix: %v", n, up.paths)
	}

	for _, p := range []string{"/__cobrowsefoo", "/__cobrowse.js", "/x/__cobrowse/bootstrap.js"} {
		res, body := get(t, ps.URL, host, p, nil)
		if res.StatusCode != 200 || string(body) != "upstream "+p {
			t.Errorf("%s: %d %q, want it forwarded upstream", p, res.StatusCode, body)
		}
	}
}

func TestServes(t *testing.T) {
	cfg := baseConfig("http://127.0.0.1:1")
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rt, err := server.NewHandler(cfg, slog.New(slog.DiscardHandler), metrics.New(prometheus.NewRegistry(), "test"), encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"shop.example.com": true, "a.example.com:80": true, "SHOP.example.com.": true, "evil.example.net": false, "example.com": false} {
		if got := rt.Serves(host); got != want {
			t.Errorf("Serves(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestReservedPrefixEscapes: a path whose raw or decoded form is under the
// reserved prefix, before or after removing dot segments (encoded ones
// too), is answered here and never forwarded. Browsers send the agent
// session cookie (Path=/__cobrowse/) with all of these.
func TestReservedPrefixEscapes(t *testing.T) {
	up := newCountingUpstream(t)
	ps := newProxy(t, baseConfig(up.URL))
	for _, p := range []string{
		"/__cobrowse/..%2fecho",
		"/__cobrowse/%2e%2e%2fecho",
		"/__cobrowse/.%2e%2fecho",
		"/__cobrowse/..%2Fecho",
		"/__cobrowse/%2E%2E/echo",
		"/__cobrowse/..%5cecho",
		"/__cobrowse/..\\echo",
		"/__cobrowse/../echo",
		"/__cobrowse%2f..%2fecho",
		"/%5f%5fcobrowse/..%2fecho",
		"//__cobrowse/x",
		"/a/../__cobrowse/x",
		"/a/..%2f__cobrowse/x",
		"/a/%2e%2e/__cobrowse/x",
		"/./__cobrowse/x",
	} {
		res, body := get(t, ps.URL, "shop.example.com", p, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d %q, want 404 from the proxy", p, res.StatusCode, body)
		}
	}
	if n := up.n.Load(); n != 0 {
		t.Fatalf("upstream got %d request(s) for the reserved prefix: %v", n, up.paths)
	}
	// Still forwarded: the prefix as part of a longer segment, or deeper.
	for _, p := range []string{"/__cobrowsefoo/..%2fx", "/x/__cobrowse/..%2fy", "/a%2f..%2f__cobrowsex"} {
		if res, _ := get(t, ps.URL, "shop.example.com", p, nil); res.StatusCode != 200 {
			t.Errorf("%s: status %d, want it forwarded", p, res.StatusCode)
		}
	}
}

// TestRouterWildcardsLongestSuffix: with nested wildcard hosts on different
// sites, a host goes to the site of the longest matching suffix, whatever
// order the config (and Go's map iteration) lists them in; a host that is
// only the suffix itself (".example.com") or its bare domain matches no
// wildcard and is refused with 421, reaching no upstream. Several routers
// are built so that a wrong sort cannot pass by a lucky map order.
func TestRouterWildcardsLongestSuffix(t *testing.T) {
	ups := make([]*countingUpstream, 4)
	for i := range ups {
		ups[i] = newCountingUpstream(t)
	}
	for range 6 {
		cfg := baseConfig(ups[0].URL) // shop: shop.example.com, *.example.com
		cfg.Sites = append(cfg.Sites,
			config.Site{Name: "d", Hosts: []string{"*.d.c.b.example.com"}, Upstream: ups[3].URL},
			config.Site{Name: "b", Hosts: []string{"*.b.example.com"}, Upstream: ups[1].URL},
			config.Site{Name: "c", Hosts: []string{"*.c.b.example.com"}, Upstream: ups[2].URL},
		)
		ps := newProxy(t, cfg)
		for _, c := range []struct {
			host string
			up   int // index into ups; -1: refused
		}{
			{"x.example.com", 0},
			{"b.example.com", 0},
			{"x.b.example.com", 1},
			{"c.b.example.com", 1},
			{"x.c.b.example.com", 2},
			{"X.D.C.B.Example.com:8443", 3},
			{"y.x.d.c.b.example.com.", 3},
			{".example.com", -1},
			{".b.example.com", 0},
			{"example.com", -1},
		} {
			before := make([]int64, len(ups))
			for i, u := range ups {
				before[i] = u.n.Load()
			}
			res, body := get(t, ps.URL, c.host, "/x", nil)
			for i, u := range ups {
				got, want := u.n.Load()-before[i], int64(0)
				if i == c.up {
					want = 1
				}
				if got != want {
					t.Errorf("Host %q: upstream %d got %d request(s), want %d", c.host, i, got, want)
				}
			}
			if c.up < 0 && res.StatusCode != 421 {
				t.Errorf("Host %q: status %d %q, want 421", c.host, res.StatusCode, body)
			}
			if c.up >= 0 && res.StatusCode != 200 {
				t.Errorf("Host %q: status %d %q, want 200 from upstream %d", c.host, res.StatusCode, body, c.up)
			}
		}
	}
}
