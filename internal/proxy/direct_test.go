package proxy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/inject"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
)

// directTag is the loader tag of direct's site.
const directTag = `<script src="/__cobrowse/bootstrap.js?v=1"></script>`

// direct is a Proxy built with proxy.New alone (no config, no router: the
// Options and Site a test writes are the ones in force) in front of one
// upstream, both on loopback listeners.
type direct struct {
	t    *testing.T
	p    *proxy.Proxy
	site *proxy.Site
	srv  *httptest.Server
	reg  *prometheus.Registry
	logs *lockedBuffer
}

// newDirect serves site "shop" (upstream upstreamURL, injection on, no CSP
// handling, no cross-origin asset headers unless mut sets them) with opts,
// whose Logger (debug, to d.logs), Metrics, Codecs and Transport it fills.
func newDirect(t *testing.T, upstreamURL string, opts proxy.Options, mut func(*proxy.Site)) *direct {
	t.Helper()
	u, err := url.Parse(upstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	d := &direct{t: t, reg: prometheus.NewRegistry(), logs: &lockedBuffer{}}
	opts.Logger = slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Metrics = metrics.New(d.reg, "test")
	opts.Codecs = encoding.New(encoding.Options{})
	if opts.Transport == nil {
		tr := proxy.NewTransport(proxy.TransportOptions{DialTimeout: 5 * time.Second, MaxIdleConnsPerHost: 4})
		t.Cleanup(tr.CloseIdleConnections)
		opts.Transport = tr
	}
	d.site = &proxy.Site{
		Name:         "shop",
		Upstream:     u,
		PreserveHost: true,
		Policy:       inject.Policy{Enabled: true, Iframes: true},
		Tag:          []byte(directTag),
	}
	if mut != nil {
		mut(d.site)
	}
	d.p = proxy.New(opts)
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.p.ServeSite(d.site, w, r) }))
	t.Cleanup(d.srv.Close)
	return d
}

// client never decompresses, never follows redirects and gives up quickly.
func (d *direct) client() *http.Client {
	tr := &http.Transport{DisableCompression: true, Proxy: nil}
	d.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request builds a request for siteHost to the proxy.
func (d *direct) request(ctx context.Context, method, path string, hdr map[string]string) *http.Request {
	d.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, d.srv.URL+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Host = siteHost
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// get sends a GET and reads the whole body, failing the test on any error.
func (d *direct) get(path string, hdr map[string]string) (*http.Response, string) {
	d.t.Helper()
	res, err := d.client().Do(d.request(context.Background(), "GET", path, hdr))
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		d.t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return res, string(body)
}

// counter is the value of the counter family name with exactly labels.
func (d *direct) counter(name string, labels map[string]string) float64 {
	return labelValue(d.t, d.reg, name, labels)
}

const htmlDoc = `<!doctype html><html lang="en"><head><title>Shop</title></head><body>hello</body></html>`

// TestAssetHeaders: static assets of a successful response get
// Cross-Origin-Resource-Policy: cross-origin and, for "zoom", an
// Access-Control-Allow-Origin echoing a Zoom origin (never another), for
// "any", "*"; never when the mode is off or empty, the status is not 2xx,
// or the site sent its own CORS headers; a site's own CORP is kept.
func TestAssetHeaders(t *testing.T) {
	type want struct{ corp, acao, vary string }
	for _, c := range []struct {
		name   string
		mode   string
		status int
		ct     string
		upHdr  map[string]string
		origin string
		want   want
	}{
		{"zoom, apex origin", "zoom", 200, "text/css", nil, "https://zoom.us", want{"cross-origin", "https://zoom.us", "Origin"}},
		{"zoom, subdomain origin", "zoom", 200, "image/png", nil, "https://us05web.zoom.us", want{"cross-origin", "https://us05web.zoom.us", "Origin"}},
		{"zoom, 206 font", "zoom", 206, "font/woff2", nil, "https://zoom.us", want{"cross-origin", "https://zoom.us", "Origin"}},
		{"zoom, other origin", "zoom", 200, "font/woff2", nil, "https://evil.example", want{"cross-origin", "", "Origin"}},
		{"zoom, look-alike origin", "zoom", 200, "text/css", nil, "https://zoom.us.evil.example", want{"cross-origin", "", "Origin"}},
		{"zoom, plain-http origin", "zoom", 200, "text/css", nil, "http://zoom.us", want{"cross-origin", "", "Origin"}},
		{"zoom, origin with port", "zoom", 200, "text/css", nil, "https://a.zoom.us:8443", want{"cross-origin", "", "Origin"}},
		{"zoom, no origin", "zoom", 200, "text/css", nil, "", want{"cross-origin", "", "Origin"}},
		{"any", "any", 200, "text/css", nil, "https://evil.example", want{"cross-origin", "*", ""}},
		{"off", "off", 200, "text/css", nil, "https://zoom.us", want{"", "", ""}},
		{"empty mode is off", "", 200, "text/css", nil, "https://zoom.us", want{"", "", ""}},
		{"status 300", "zoom", 300, "text/css", nil, "https://zoom.us", want{"", "", ""}},
		{"status 404", "zoom", 404, "text/css", nil, "https://zoom.us", want{"", "", ""}},
		{"not an asset", "zoom", 200, "application/json", nil, "https://zoom.us", want{"", "", ""}},
		{"site's own CORP kept", "zoom", 200, "text/css", map[string]string{"Cross-Origin-Resource-Policy": "same-site"}, "https://zoom.us",
			want{"same-site", "https://zoom.us", "Origin"}},
		{"site's own CORS kept", "zoom", 200, "text/css", map[string]string{"Access-Control-Allow-Origin": "https://cdn.example"}, "https://zoom.us",
			want{"cross-origin", "https://cdn.example", ""}},
		{"never with credentials", "any", 200, "text/css", map[string]string{"Access-Control-Allow-Credentials": "true"}, "https://zoom.us",
			want{"cross-origin", "", ""}},
		{"Vary: Origin not repeated", "zoom", 200, "text/css", map[string]string{"Vary": "origin"}, "https://zoom.us",
			want{"cross-origin", "https://zoom.us", "origin"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ct)
				for k, v := range c.upHdr {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				w.Write([]byte("body{}"))
			}))
			defer up.Close()
			d := newDirect(t, up.URL, proxy.Options{}, func(s *proxy.Site) { s.CrossOriginAssets = c.mode })
			hdr := map[string]string{"Sec-Fetch-Dest": "style"}
			if c.origin != "" {
				hdr["Origin"] = c.origin
			}
			res, body := d.get("/asset", hdr)
			if res.StatusCode != c.status || body != "body{}" {
				t.Fatalf("status %d, body %q; want %d, %q", res.StatusCode, body, c.status, "body{}")
			}
			got := want{
				strings.Join(res.Header.Values("Cross-Origin-Resource-Policy"), " | "),
				strings.Join(res.Header.Values("Access-Control-Allow-Origin"), " | "),
				strings.Join(res.Header.Values("Vary"), " | "),
			}
			if got != c.want {
				t.Errorf("CORP, ACAO, Vary = %q; want %q", got, c.want)
			}
		})
	}
}

// TestBaselineCSP: a site's baseline policy is sent, merged, only when the
// upstream sent no policy of either kind; an upstream's own policy is
// merged instead, and a site without a baseline adds none.
func TestBaselineCSP(t *testing.T) {
	const baseline = "script-src 'self'"
	for _, c := range []struct {
		name       string
		baseline   string
		upHdr      map[string]string
		enforce    string
		reportOnly string
	}{
		{"baseline, no upstream policy", baseline, nil,
			"script-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:", ""},
		{"no baseline, no upstream policy", "", nil, "", ""},
		{"upstream enforce policy wins", baseline, map[string]string{"Content-Security-Policy": "img-src 'self'"},
			"img-src 'self' https://*.zoom.us data: blob:", ""},
		{"upstream report-only policy wins", baseline, map[string]string{"Content-Security-Policy-Report-Only": "script-src 'self'"},
			"", "script-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				for k, v := range c.upHdr {
					w.Header().Set(k, v)
				}
				w.Write([]byte(htmlDoc))
			}))
			defer up.Close()
			d := newDirect(t, up.URL, proxy.Options{}, func(s *proxy.Site) {
				s.CSP = &proxy.CSP{
					Merger: csp.NewMerger(csp.MergeOptions{
						Sources:  csp.DefaultSources(),
						Prefix:   "/__cobrowse",
						NewNonce: func() string { return "bm9uY2Utb2YtdGhlLXRlc3Q=" },
					}),
					Baseline: c.baseline,
				}
			})
			res, body := d.get("/", map[string]string{"Sec-Fetch-Dest": "document"})
			if got := strings.Join(res.Header.Values("Content-Security-Policy"), " | "); got != c.enforce {
				t.Errorf("Content-Security-Policy %q; want %q", got, c.enforce)
			}
			if got := strings.Join(res.Header.Values("Content-Security-Policy-Report-Only"), " | "); got != c.reportOnly {
				t.Errorf("Content-Security-Policy-Report-Only %q; want %q", got, c.reportOnly)
			}
			if want := `<!doctype html><html lang="en"><head>` + directTag + `<title>Shop</title></head><body>hello</body></html>`; body != want {
				t.Errorf("body %q; want %q", body, want)
			}
		})
	}
}

// TestNoIdleTimeout: with UpstreamIdleTimeout 0 a response is never cut
// for a pause of the upstream, however long.
func TestNoIdleTimeout(t *testing.T) {
	const first, second = "first part\n", "second part\n"
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(first))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(second))
	}))
	defer up.Close()
	d := newDirect(t, up.URL, proxy.Options{UpstreamIdleTimeout: 0}, nil)
	res, err := d.client().Do(d.request(context.Background(), "GET", "/stream", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, len(first))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != first {
		t.Fatalf("first part %q, %v; want %q", buf, err, first)
	}
	close(release) // the upstream paused until the client had the first part
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != second {
		t.Fatalf("rest %q, %v; want %q and a clean end", rest, err, second)
	}
	eventually(t, "request counted", func() bool {
		return d.counter("cobrowse_proxy_requests_total", map[string]string{"site": "shop", "code": "200"}) == 1
	})
}

// TestEventStreamNotIdleTimed: server-sent events, whose pauses are
// normal, are exempt from UpstreamIdleTimeout, however the content type
// is spelled.
func TestEventStreamNotIdleTimed(t *testing.T) {
	const first, second = "data: one\n\n", "data: two\n\n"
	for _, ct := range []string{"text/event-stream", "Text/Event-Stream; charset=utf-8"} {
		t.Run(ct, func(t *testing.T) {
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				w.Write([]byte(first))
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				w.Write([]byte(second))
			}))
			defer up.Close()
			// A timeout far shorter than the pause: any idle timer on this
			// body would fire.
			d := newDirect(t, up.URL, proxy.Options{UpstreamIdleTimeout: time.Nanosecond}, nil)
			res, err := d.client().Do(d.request(context.Background(), "GET", "/events", map[string]string{"Accept": "text/event-stream"}))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			buf := make([]byte, len(first))
			if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != first {
				t.Fatalf("first event %q, %v; want %q", buf, err, first)
			}
			close(release)
			rest, err := io.ReadAll(res.Body)
			if err != nil || string(rest) != second {
				t.Fatalf("rest %q, %v; want %q and a clean end", rest, err, second)
			}
			if n := d.counter("cobrowse_proxy_upstream_errors_total", map[string]string{"site": "shop", "kind": "idle_timeout"}); n != 0 {
				t.Errorf("idle_timeout counted %v times", n)
			}
		})
	}
}

// TestStatusCounted: requests_total counts the final status the client
// got: a 200 without a body, a 404 with one, and 499 for a client that
// left after an informational 103 but before the final answer.
func TestStatusCounted(t *testing.T) {
	for _, c := range []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request)
		leave bool // the client cancels once it has the 103
		code  string
	}{
		{"200 without a body", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }, false, "200"},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, false, "204"},
		{"404 with a body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(404)
			w.Write([]byte("no such page"))
		}, false, "404"},
		{"103, then the client leaves", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			<-r.Context().Done()
		}, true, "499"},
		{"103, then 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(200)
		}, false, "200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(c.serve))
			defer up.Close()
			d := newDirect(t, up.URL, proxy.Options{}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.leave {
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
					Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
						if code == http.StatusEarlyHints {
							cancel()
						}
						return nil
					},
				})
			}
			res, err := d.client().Do(d.request(ctx, "GET", "/", nil))
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			} else if !c.leave {
				t.Fatal(err)
			}
			eventually(t, "requests_total{code="+c.code+"}", func() bool {
				return d.counter("cobrowse_proxy_requests_total", map[string]string{"site": "shop", "code": c.code}) == 1
			})
			if n := seriesCount(t, d.reg, "cobrowse_proxy_requests_total"); n != 1 {
				t.Errorf("requests_total has %d series; want only code=%s", n, c.code)
			}
		})
	}
}

// failingWriter is a client connection whose writes fail (a write
// deadline, a peer gone) before the server has noticed anything else.
type failingWriter struct{ http.ResponseWriter }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("write to the client failed") }

// TestClientWriteFailureIsClientGone: a response that breaks because
// writing to the client failed is the client's fault (client_gone), not
// an aborted upstream.
func TestClientWriteFailureIsClientGone(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(make([]byte, 64<<10))
	}))
	defer up.Close()
	d := newDirect(t, up.URL, proxy.Options{}, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.p.ServeSite(d.site, failingWriter{w}, r)
	}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/file", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := d.client().Do(req); err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	eventually(t, "client_gone counted", func() bool {
		return d.counter("cobrowse_proxy_client_errors_total", map[string]string{"site": "shop", "kind": "client_gone"}) == 1
	})
	if n := d.counter("cobrowse_proxy_upstream_errors_total", map[string]string{"site": "shop", "kind": "aborted"}); n != 0 {
		t.Errorf("upstream_errors_total{kind=aborted} = %v; want 0", n)
	}
}

// TestScheme: the scheme is https on TLS; otherwise what a trusted peer
// says in X-Forwarded-Proto (http or https only), never what an untrusted
// one says.
func TestScheme(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	other := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name    string
		tls     bool
		trusted []netip.Prefix
		xfp     string
		want    string
	}{
		{"plain", false, nil, "", "http"},
		{"plain, untrusted says https", false, nil, "https", "http"},
		{"plain, other range trusted, says https", false, other, "https", "http"},
		{"plain, trusted says https", false, loopback, "https", "https"},
		{"plain, trusted says http", false, loopback, "http", "http"},
		{"plain, trusted says ftp", false, loopback, "ftp", "http"},
		{"plain, trusted says nothing", false, loopback, "", "http"},
		{"TLS", true, nil, "", "https"},
		{"TLS, untrusted says http", true, nil, "http", "https"},
		{"TLS, trusted says http", true, loopback, "http", "https"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := proxy.New(proxy.Options{TrustedProxies: c.trusted})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, p.Scheme(r)) })
			srv := httptest.NewUnstartedServer(h)
			if c.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			req, err := http.NewRequest("GET", srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.xfp != "" {
				req.Header.Set("X-Forwarded-Proto", c.xfp)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, _ := io.ReadAll(res.Body)
			if string(got) != c.want {
				t.Errorf("Scheme %q; want %q", got, c.want)
			}
		})
	}
}

// TestTrustedPeerForwarding: from a trusted peer the X-Forwarded-For chain
// is extended (one line or several), a missing chain starts with the peer,
// and X-Forwarded-Proto is believed only as http or https.
func TestTrustedPeerForwarding(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
	}))
	defer up.Close()
	d := newDirect(t, up.URL, proxy.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil)
	for _, c := range []struct {
		name    string
		hdr     http.Header
		xff     string
		xfh     string
		xfp     string
		forward string
	}{
		{"no forwarding headers", http.Header{}, "127.0.0.1", siteHost, "http", ""},
		{"one-line chain", http.Header{"X-Forwarded-For": {"192.0.2.7, 10.1.2.3"}}, "192.0.2.7, 10.1.2.3, 127.0.0.1", siteHost, "http", ""},
		{"two-line chain", http.Header{"X-Forwarded-For": {"192.0.2.7", "10.1.2.3"}}, "192.0.2.7, 10.1.2.3, 127.0.0.1", siteHost, "http", ""},
		{"host and https", http.Header{"X-Forwarded-Host": {"www.example"}, "X-Forwarded-Proto": {"https"}}, "127.0.0.1", "www.example", "https", ""},
		{"proto ftp ignored", http.Header{"X-Forwarded-Proto": {"ftp"}}, "127.0.0.1", siteHost, "http", ""},
		{"Forwarded passed on", http.Header{"Forwarded": {"for=192.0.2.7;proto=https"}}, "127.0.0.1", siteHost, "http", "for=192.0.2.7;proto=https"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := d.request(context.Background(), "GET", "/", nil)
			for k, vs := range c.hdr {
				req.Header[k] = vs
			}
			res, err := d.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			mu.Lock()
			h := got
			mu.Unlock()
			for _, f := range []struct{ name, want string }{
				{"X-Forwarded-For", c.xff}, {"X-Forwarded-Host", c.xfh}, {"X-Forwarded-Proto", c.xfp}, {"Forwarded", c.forward},
			} {
				if v := strings.Join(h.Values(f.name), " | "); v != f.want {
					t.Errorf("upstream %s %q; want %q", f.name, v, f.want)
				}
			}
		})
	}
}

// TestDebugLogNamesInjectOutcome: the debug line of each proxied request
// names the injection outcome of an HTML page, and of nothing else.
func TestDebugLogNamesInjectOutcome(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logo.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("png"))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(htmlDoc))
	}))
	defer up.Close()
	d := newDirect(t, up.URL, proxy.Options{}, nil)
	for _, c := range []struct{ path, dest, want string }{
		{"/page", "document", "inject=injected"},
		{"/fragment", "empty", "inject=not_navigation"},
		{"/logo.png", "image", ""},
	} {
		d.get(c.path, map[string]string{"Sec-Fetch-Dest": c.dest})
		var line string
		eventually(t, "log line of "+c.path, func() bool {
			for l := range strings.Lines(d.logs.String()) {
				if strings.Contains(l, "msg=proxied") && strings.Contains(l, "path="+c.path+" ") {
					line = l
					return true
				}
			}
			return false
		})
		_, attr, _ := strings.Cut(line, " inject=")
		if got := strings.Fields(attr + " x")[0]; c.want == "" && strings.Contains(line, "inject=") || c.want != "" && "inject="+got != c.want {
			t.Errorf("%s: log line %q; want %q", c.path, line, c.want)
		}
	}
}

// TestVaryAddedOnce: an injected page's Vary names the decision headers
// in one added value when the upstream named none of them, or only the
// missing ones when it named some.
func TestVaryAddedOnce(t *testing.T) {
	for _, c := range []struct {
		name   string
		upVary []string
		want   []string
	}{
		{"none", nil, []string{"Sec-Fetch-Dest, Hx-Request, Turbo-Frame, X-Up-Target, X-Pjax, X-Requested-With"}},
		{"unrelated", []string{"Cookie"}, []string{"Cookie", "Sec-Fetch-Dest, Hx-Request, Turbo-Frame, X-Up-Target, X-Pjax, X-Requested-With"}},
		{"some", []string{"sec-fetch-dest, X-Pjax"}, []string{"sec-fetch-dest, X-Pjax", "Hx-Request", "Turbo-Frame", "X-Up-Target", "X-Requested-With"}},
		{"all", []string{"Sec-Fetch-Dest, Hx-Request, Turbo-Frame, X-Up-Target, X-Pjax, X-Requested-With"},
			[]string{"Sec-Fetch-Dest, Hx-Request, Turbo-Frame, X-Up-Target, X-Pjax, X-Requested-With"}},
		{"star", []string{"*"}, []string{"*"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Vary"] = c.upVary
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte(htmlDoc))
			}))
			defer up.Close()
			d := newDirect(t, up.URL, proxy.Options{}, nil)
			res, _ := d.get("/", map[string]string{"Sec-Fetch-Dest": "document"})
			if got := res.Header.Values("Vary"); strings.Join(got, " | ") != strings.Join(c.want, " | ") {
				t.Errorf("Vary %q; want %q", got, c.want)
			}
		})
	}
}

// TestInjectionCountedWhenPageArrivesInParts: a page whose first bytes
// leave the proxy before the upstream has sent its head is counted once,
// with the outcome decided later.
func TestInjectionCountedWhenPageArrivesInParts(t *testing.T) {
	const first = `<!doctype html><html lang="en">`
	const rest = `<head><title>Shop</title></head><body>hello</body></html>`
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(first))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(rest))
	}))
	defer up.Close()
	d := newDirect(t, up.URL, proxy.Options{}, nil)
	res, err := d.client().Do(d.request(context.Background(), "GET", "/", map[string]string{"Sec-Fetch-Dest": "document"}))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, len(first))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != first {
		t.Fatalf("first bytes %q, %v; want %q before the upstream goes on", buf, err, first)
	}
	close(release)
	got, err := io.ReadAll(res.Body)
	if want := `<head>` + directTag + `<title>Shop</title></head><body>hello</body></html>`; err != nil || string(got) != want {
		t.Fatalf("rest %q, %v; want %q", got, err, want)
	}
	eventually(t, "injection counted", func() bool {
		return d.counter("cobrowse_proxy_html_responses_total", map[string]string{"site": "shop", "outcome": "injected"}) == 1
	})
	if n := seriesCount(t, d.reg, "cobrowse_proxy_html_responses_total"); n != 1 {
		t.Errorf("html_responses_total has %d series; want only outcome=injected", n)
	}
}
