package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// End-to-end tests of the CSP handling (issue 3) through the real handler
// (server.NewHandler) on loopback listeners: the upstream's policies as the
// client sees them, the loader tag, <meta> rewriting, the violation report
// endpoint, cross-origin asset headers and the policy metric.

const cspHost = "shop.example.com"

// cspTagRE matches the injected loader tag; group 1 is its nonce, if any,
// group 2 the origin before its path, if any.
var cspTagRE = regexp.MustCompile(`<script src="((?:https?://[^/"]+)?)/__cobrowse/bootstrap\.js\?v=[0-9a-f]+"(?: nonce="([^"]*)")?></script>`)

// docHeaders is what a browser sends for a top-level navigation.
var docHeaders = map[string]string{"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none"}

const cspPage = "<!doctype html>\n<html><head><title>Shop</title></head>\n<body><p>Hello</p></body></html>\n"

// newUpstream is a countingUpstream (router_test.go) that answers with h.
func newUpstream(t *testing.T, h http.HandlerFunc) *countingUpstream {
	t.Helper()
	u := &countingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.n.Add(1)
		u.mu.Lock()
		u.paths = append(u.paths, r.URL.Path)
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// newProxyReg is newProxy (router_test.go) that also returns the metrics
// registry, so the test can read the counters the handler registered.
func newProxyReg(t *testing.T, cfg *config.Config) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	reg := prometheus.NewRegistry()
	h, err := server.NewHandler(cfg, slog.New(slog.DiscardHandler), metrics.New(reg, "test"), encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s, reg
}

// send makes one request to the proxy for host, never following redirects
// nor decoding content codings, and reads the whole body.
func send(t *testing.T, base, method, host, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, b
}

// metricValue returns the value of the counter name with exactly labels
// (0 when there is no such series), read from a whole registry, which
// prometheus/testutil has no helper for.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// cspConfig is a one-site config whose site serves cspHost.
func cspConfig(upstream string) *config.Config {
	cfg := baseConfig(upstream)
	cfg.Sites[0].Hosts = []string{cspHost}
	return cfg
}

// header is one upstream response header line.
type header struct{ name, value string }

// policyUpstream serves cspPage with the given header lines.
func policyUpstream(t *testing.T, lines []header) *countingUpstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for _, l := range lines {
			w.Header().Add(l.name, l.value)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, cspPage)
	})
}

// tagNonce returns the nonce attribute of the one loader tag in body
// (ok false when there is no tag).
func tagNonce(t *testing.T, body []byte) (nonce string, hasNonce, ok bool) {
	t.Helper()
	m := cspTagRE.FindAllSubmatch(body, -1)
	switch len(m) {
	case 0:
		return "", false, false
	case 1:
	default:
		t.Fatalf("loader tag inserted %d times:\n%s", len(m), body)
	}
	hasNonce = bytes.Contains(m[0][0], []byte(" nonce="))
	// A nonced loader has an absolute src on the page's origin, so a <base>
	// tag cannot take the nonce elsewhere; without a nonce, a path.
	if origin := string(m[0][1]); hasNonce && origin != "http://"+cspHost || !hasNonce && origin != "" {
		t.Errorf("loader src starts with %q (nonce %v): a nonced tag needs the page's origin %q, an unnonced one a path", origin, hasNonce, "http://"+cspHost)
	}
	return string(m[0][2]), hasNonce, true
}

const (
	zoomReport = "; report-uri /__cobrowse/csp-report"
	sha        = "'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='"
	prefixSrc  = "http://" + cspHost + "/__cobrowse/"
)

// TestCSPHeaderMergeE2E: the policies an upstream sends reach the client
// merged, each policy and each header line on its own, and the loader tag
// carries the nonce those policies need.
func TestCSPHeaderMergeE2E(t *testing.T) {
	const (
		enforce = "Content-Security-Policy"
		ro      = "Content-Security-Policy-Report-Only"
	)
	tests := []struct {
		name     string
		mut      func(*config.Config)
		upstream []header
		// wantCSP and wantRO are the exact header lines the client gets
		// ({nonce} stands for the tag's nonce); nil: no such header.
		wantCSP, wantRO []string
		// nonce: "" the tag has none; "fresh" a new one per response;
		// anything else: the page's own, which the tag must carry.
		nonce string
		// reqHdr is added to the document request.
		reqHdr map[string]string
	}{
		{
			name:     "host allow-list (Stripe)",
			upstream: []header{{enforce, "script-src 'self' https://js.stripe.com; connect-src 'self'"}},
			wantCSP: []string{"script-src 'self' https://js.stripe.com https://*.zoom.us; connect-src 'self' https://*.zoom.us wss://*.zoom.us" +
				"; worker-src 'self' https://js.stripe.com https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "default-src only",
			upstream: []header{{enforce, "default-src 'self'"}},
			wantCSP: []string{"default-src 'self'; connect-src 'self' https://*.zoom.us wss://*.zoom.us; font-src 'self' https://*.zoom.us data:" +
				"; img-src 'self' https://*.zoom.us data: blob:; script-src 'self' https://*.zoom.us; style-src 'self' https://*.zoom.us 'unsafe-inline'" +
				"; frame-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "nonce + strict-dynamic (Google style)",
			upstream: []header{{enforce, "script-src 'nonce-2726c7f26c' 'strict-dynamic' https: 'unsafe-inline'; object-src 'none'; base-uri 'none'"}},
			// script-src already allows the Zoom hosts (https:); worker-src
			// needs nothing under 'strict-dynamic' (see csp.merger.missing).
			wantCSP: []string{"script-src 'nonce-2726c7f26c' 'strict-dynamic' https: 'unsafe-inline'; object-src 'none'; base-uri 'none'" + zoomReport},
			nonce:   "2726c7f26c",
		},
		{
			name: "nonce + strict-dynamic with default-src 'none' (GitHub style)",
			upstream: []header{{enforce, "default-src 'none'; script-src 'nonce-gh+N0nce/x=' 'strict-dynamic'; connect-src 'self' api.github.com" +
				"; img-src 'self' data: avatars.githubusercontent.com; style-src 'self' 'nonce-gh+N0nce/x='; report-to github-csp"}},
			wantCSP: []string{"default-src 'none'; script-src 'nonce-gh+N0nce/x=' 'strict-dynamic' https://*.zoom.us" +
				"; connect-src 'self' api.github.com https://*.zoom.us wss://*.zoom.us; img-src 'self' data: avatars.githubusercontent.com https://*.zoom.us blob:" +
				"; style-src 'self' 'nonce-gh+N0nce/x=' https://*.zoom.us; report-to github-csp; font-src https://*.zoom.us data:; frame-src https://*.zoom.us"},
			nonce: "gh+N0nce/x=",
		},
		{
			name:     "hashes without nonce: the prefix source, no first nonce",
			upstream: []header{{enforce, "default-src 'none'; script-src " + sha + "; style-src 'self'"}},
			wantCSP: []string{"default-src 'none'; script-src " + sha + " https://*.zoom.us " + prefixSrc + "; style-src 'self' https://*.zoom.us 'unsafe-inline'" +
				"; connect-src https://*.zoom.us wss://*.zoom.us " + prefixSrc + "; font-src https://*.zoom.us data:; img-src https://*.zoom.us data: blob:" +
				"; frame-src https://*.zoom.us; worker-src " + sha + " https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "hashes with strict-dynamic: a fresh nonce in header and tag",
			upstream: []header{{enforce, "default-src 'none'; script-src " + sha + " 'strict-dynamic'; style-src 'self'"}},
			wantCSP: []string{"default-src 'none'; script-src " + sha + " 'strict-dynamic' https://*.zoom.us 'nonce-{nonce}'; style-src 'self' https://*.zoom.us 'unsafe-inline'" +
				"; connect-src https://*.zoom.us wss://*.zoom.us " + prefixSrc + "; font-src https://*.zoom.us data:; img-src https://*.zoom.us data: blob:" +
				"; frame-src https://*.zoom.us" + zoomReport},
			nonce: "fresh",
		},
		{
			name:     "report-only header with its own report-uri",
			upstream: []header{{ro, "script-src 'self'; report-uri /csp-endpoint"}},
			wantRO:   []string{"script-src 'self' https://*.zoom.us; report-uri /csp-endpoint; worker-src 'self' https://*.zoom.us blob:"},
		},
		{
			name:     "enforced and report-only",
			upstream: []header{{enforce, "img-src 'self'"}, {ro, "connect-src 'self'"}},
			wantCSP:  []string{"img-src 'self' https://*.zoom.us data: blob:" + zoomReport},
			wantRO:   []string{"connect-src 'self' https://*.zoom.us wss://*.zoom.us" + zoomReport},
		},
		{
			name:     "two policies in one header",
			upstream: []header{{enforce, "script-src 'self', img-src 'self'"}},
			wantCSP: []string{"script-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:" + zoomReport +
				", img-src 'self' https://*.zoom.us data: blob:" + zoomReport},
		},
		{
			name:     "two header lines",
			upstream: []header{{enforce, "default-src 'self' https:"}, {enforce, "script-src 'self' https://cdn.example.net"}},
			wantCSP: []string{
				"default-src 'self' https:; connect-src 'self' https: wss://*.zoom.us; font-src 'self' https: data:; img-src 'self' https: data: blob:" +
					"; style-src 'self' https: 'unsafe-inline'; worker-src 'self' https: blob:" + zoomReport,
				"script-src 'self' https://cdn.example.net https://*.zoom.us; worker-src 'self' https://cdn.example.net https://*.zoom.us blob:" + zoomReport,
			},
		},
		{
			name:     "no 'self': the reserved prefix is allowed for the loader and the token endpoint",
			upstream: []header{{enforce, "script-src https://cdn.example.net; connect-src https://api.example.net"}},
			wantCSP: []string{"script-src https://cdn.example.net https://*.zoom.us " + prefixSrc +
				"; connect-src https://api.example.net https://*.zoom.us wss://*.zoom.us " + prefixSrc +
				"; worker-src https://cdn.example.net https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "no 'self', https behind a trusted proxy: the prefix source is https",
			mut:      func(c *config.Config) { c.Proxy.TrustedProxies = []string{"127.0.0.1/32"} },
			reqHdr:   map[string]string{"X-Forwarded-Proto": "https"},
			upstream: []header{{enforce, "script-src https://cdn.example.net"}},
			wantCSP: []string{"script-src https://cdn.example.net https://*.zoom.us https://" + cspHost + "/__cobrowse/" +
				"; worker-src https://cdn.example.net https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "uppercase directive names",
			upstream: []header{{enforce, "SCRIPT-SRC 'self'; Connect-Src 'self'"}},
			wantCSP: []string{"SCRIPT-SRC 'self' https://*.zoom.us; Connect-Src 'self' https://*.zoom.us wss://*.zoom.us" +
				"; worker-src 'self' https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "'none' is replaced, not appended to",
			upstream: []header{{enforce, "script-src 'self'; img-src 'none'; frame-src 'none'"}},
			wantCSP: []string{"script-src 'self' https://*.zoom.us; img-src https://*.zoom.us data: blob:; frame-src https://*.zoom.us" +
				"; worker-src 'self' https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "duplicate directive and trailing semicolon",
			upstream: []header{{enforce, "img-src 'self'; img-src *;"}},
			wantCSP:  []string{"img-src 'self' https://*.zoom.us data: blob:; img-src *; report-uri /__cobrowse/csp-report"},
		},
		{
			name: "no policy: none added",
		},
		{
			name:    "no policy, baseline configured: the baseline merged",
			mut:     func(c *config.Config) { c.Sites[0].CSP.Baseline = "script-src 'self'; object-src 'none'" },
			wantCSP: []string{"script-src 'self' https://*.zoom.us; object-src 'none'; worker-src 'self' https://*.zoom.us blob:" + zoomReport},
		},
		{
			name:     "baseline not used when the page has a policy",
			mut:      func(c *config.Config) { c.Sites[0].CSP.Baseline = "default-src 'none'" },
			upstream: []header{{ro, "img-src 'self'"}},
			wantRO:   []string{"img-src 'self' https://*.zoom.us data: blob:" + zoomReport},
		},
		{
			name:     "mode off: byte-identical, tag without nonce",
			mut:      func(c *config.Config) { c.Sites[0].CSP.Mode = config.CSPModeOff },
			upstream: []header{{enforce, "script-src 'nonce-2726c7f26c' 'strict-dynamic';  object-src 'none' ;"}, {ro, "img-src 'none'"}},
			wantCSP:  []string{"script-src 'nonce-2726c7f26c' 'strict-dynamic';  object-src 'none' ;"},
			wantRO:   []string{"img-src 'none'"},
		},
		{
			name:     "reportUri off: no report-uri added",
			mut:      func(c *config.Config) { f := false; c.Sites[0].CSP.ReportURI = &f },
			upstream: []header{{enforce, "img-src 'self'"}},
			wantCSP:  []string{"img-src 'self' https://*.zoom.us data: blob:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := policyUpstream(t, tt.upstream)
			cfg := cspConfig(up.URL)
			if tt.mut != nil {
				tt.mut(cfg)
			}
			ps := newProxy(t, cfg)
			var seen []string
			hdr := map[string]string{}
			for k, v := range docHeaders {
				hdr[k] = v
			}
			for k, v := range tt.reqHdr {
				hdr[k] = v
			}
			for i := range 2 {
				res, body := get(t, ps.URL, cspHost, "/", hdr)
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				nonce, hasNonce, ok := tagNonce(t, body)
				if !ok {
					t.Fatalf("no loader tag in\n%s", body)
				}
				switch tt.nonce {
				case "":
					if hasNonce {
						t.Errorf("tag carries nonce %q; none wanted", nonce)
					}
				case "fresh":
					if len(nonce) < 16 {
						t.Errorf("tag nonce %q: want a fresh nonce of at least 16 characters", nonce)
					}
				default:
					if nonce != tt.nonce {
						t.Errorf("tag nonce %q, want the page's %q", nonce, tt.nonce)
					}
				}
				seen = append(seen, nonce)
				check := func(name string, want []string) {
					t.Helper()
					got := res.Header.Values(name)
					var exp []string
					for _, w := range want {
						exp = append(exp, strings.ReplaceAll(w, "{nonce}", nonce))
					}
					if strings.Join(got, "\n") != strings.Join(exp, "\n") || len(got) != len(exp) {
						t.Errorf("request %d: %s\n got %q\nwant %q", i, name, got, exp)
					}
				}
				check(enforce, tt.wantCSP)
				check(ro, tt.wantRO)
				for _, v := range append(res.Header.Values(enforce), res.Header.Values(ro)...) {
					if tt.mut == nil && strings.Contains(v, "'unsafe-eval'") {
						t.Errorf("merged policy %q contains 'unsafe-eval'", v)
					}
				}
			}
			if tt.nonce == "fresh" && seen[0] == seen[1] {
				t.Errorf("the same fresh nonce %q on two responses", seen[0])
			}
		})
	}
}

// TestCSPUnchangedByteIdentical: policies that already allow everything
// cobrowse needs come back byte for byte, whitespace and all.
func TestCSPUnchangedByteIdentical(t *testing.T) {
	policies := []string{
		"default-src 'self' https: wss: data: blob: 'unsafe-inline'; report-uri /r",
		// (HTTP drops a field value's leading and trailing white space, so
		// only inner white space can be checked here.)
		"default-src 'self' https: wss: data: blob: 'unsafe-inline' ;;  upgrade-insecure-requests;\tframe-ancestors 'none';report-to grp ;",
		"default-src 'self' https: wss: data: blob: 'unsafe-inline'; report-uri /r, default-src https: wss: data: blob: 'unsafe-inline' 'self'; report-to x",
		"script-src 'self' https://*.zoom.us; connect-src 'self' https://*.zoom.us wss://*.zoom.us; img-src * data: blob:; style-src 'self' https: 'unsafe-inline'" +
			"; font-src https: data:; frame-src https://*.zoom.us; worker-src blob: 'self' https://*.zoom.us; object-src 'none'; report-uri https://csp.example.com/r",
	}
	for _, p := range policies {
		t.Run(p, func(t *testing.T) {
			up := policyUpstream(t, []header{{"Content-Security-Policy", p}})
			cfg := cspConfig(up.URL)
			ps, reg := newProxyReg(t, cfg)
			res, body := get(t, ps.URL, cspHost, "/", docHeaders)
			if _, _, ok := tagNonce(t, body); !ok {
				t.Fatalf("not injected:\n%s", body)
			}
			if got := res.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != p {
				t.Errorf("policy changed:\n got %q\nwant %q", got, p)
			}
			n := float64(strings.Count(p, ",") + 1)
			if v := metricValue(t, reg, "cobrowse_proxy_csp_policies_total", map[string]string{"site": "shop", "outcome": "unchanged"}); v != n {
				t.Errorf("csp_policies_total{outcome=unchanged} = %v, want %v", v, n)
			}
		})
	}
}

// metaPage has a CSP <meta> in the head and another after </head>.
const metaPage = "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n" +
	"<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'self'; img-src 'self'\">\n" +
	"<title>Meta &amp; co</title>\n</head>\n<body>\n" +
	"<meta http-equiv=\"Content-Security-Policy\" content=\"img-src 'none'\">\n<p>body</p>\n</body></html>\n"

const (
	metaOrig = `content="script-src 'self'; img-src 'self'"`
	// The merged meta content: Zoom sources, no report-uri, no nonce.
	metaWant = `content="script-src 'self' https://*.zoom.us; img-src 'self' https://*.zoom.us data: blob:; worker-src 'self' https://*.zoom.us blob:"`
)

// TestCSPMetaRewrite: a CSP <meta> in the head is merged in the stream and
// nothing else changes but the inserted tag; a <meta> after </head> is not
// touched. Plain and gzip from the upstream, with and without gzip for the
// client.
func TestCSPMetaRewrite(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(metaPage))
	zw.Close()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/gz" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
			return
		}
		io.WriteString(w, metaPage)
	})
	ps := newProxy(t, cspConfig(up.URL))
	tests := []struct {
		name, path, accept string
		wantCoding         string
	}{
		{"plain upstream", "/", "", ""},
		{"plain upstream, client accepts gzip", "/", "gzip", ""},
		{"gzip upstream, client accepts gzip", "/gz", "gzip", "gzip"},
		{"gzip upstream, client accepts nothing", "/gz", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Sec-Fetch-Dest": "document"}
			if tt.accept != "" {
				hdr["Accept-Encoding"] = tt.accept
			}
			res, body := get(t, ps.URL, cspHost, tt.path, hdr)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.wantCoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.wantCoding)
			}
			if tt.wantCoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if h := res.Header.Values("Content-Security-Policy"); len(h) != 0 {
				t.Errorf("a CSP header was added: %q", h)
			}
			loc := cspTagRE.FindIndex(body)
			if loc == nil {
				t.Fatalf("no loader tag:\n%s", body)
			}
			if m := cspTagRE.FindSubmatch(body); len(m[1]) != 0 {
				t.Errorf("tag carries nonce %q; meta policies get none", m[1])
			}
			if meta := bytes.Index(body, []byte(`<meta http-equiv="Content-Security-Policy"`)); meta < 0 || loc[0] > meta {
				t.Errorf("tag at %d is not before the CSP meta at %d", loc[0], meta)
			}
			rest := append(append([]byte(nil), body[:loc[0]]...), body[loc[1]:]...)
			if strings.Count(string(rest), metaWant) != 1 {
				t.Errorf("the head's meta content was not merged as %s:\n%s", metaWant, body)
			}
			if !bytes.Contains(rest, []byte(`<meta http-equiv="Content-Security-Policy" content="img-src 'none'">`)) {
				t.Errorf("the meta after </head> was changed:\n%s", body)
			}
			if orig := strings.Replace(string(rest), metaWant, metaOrig, 1); orig != metaPage {
				t.Errorf("bytes other than the tag and the content attribute changed:\n got %q\nwant %q", orig, metaPage)
			}
		})
	}
}

// TestCSPNotInjectedUntouched: responses that are not injected keep their
// policy exactly: fragments, non-HTML, and HTML for other destinations.
func TestCSPNotInjectedUntouched(t *testing.T) {
	const policy = "default-src 'none'; img-src 'self'"
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		switch r.URL.Path {
		case "/api":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true}`)
		case "/style.css":
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, `body{}`)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, cspPage)
		}
	})
	ps := newProxy(t, cspConfig(up.URL))
	tests := []struct {
		name, path string
		hdr        map[string]string
	}{
		{"fragment fetch", "/", map[string]string{"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}},
		{"htmx-style fragment", "/", map[string]string{"Sec-Fetch-Dest": "empty", "HX-Request": "true"}},
		{"image destination", "/", map[string]string{"Sec-Fetch-Dest": "image"}},
		{"JSON", "/api", docHeaders},
		{"stylesheet", "/style.css", map[string]string{"Sec-Fetch-Dest": "style"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, ps.URL, cspHost, tt.path, tt.hdr)
			if got := res.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != policy {
				t.Errorf("CSP %q, want %q untouched", got, policy)
			}
			if _, _, ok := tagNonce(t, body); ok {
				t.Errorf("injected:\n%s", body)
			}
		})
	}
	// The same page as a document is merged: the check above can fail.
	res, _ := get(t, ps.URL, cspHost, "/", docHeaders)
	if got := res.Header.Get("Content-Security-Policy"); got == policy {
		t.Errorf("document: CSP not merged: %q", got)
	}
}

// TestCSPReportEndpoint: the proxy's report-uri is added only where the
// policy does not report elsewhere (unless alwaysReport), and violation
// reports posted to it are counted by directive and Zoom host, answered
// 204 and never forwarded to the upstream.
func TestCSPReportEndpoint(t *testing.T) {
	t.Run("report-uri placement", func(t *testing.T) {
		tests := []struct {
			name, policy string
			always       bool
			want         string
		}{
			{"no reporting", "img-src 'self'", false, "img-src 'self' https://*.zoom.us data: blob:; report-uri /__cobrowse/csp-report"},
			{"report-to", "img-src 'self'; report-to grp", false, "img-src 'self' https://*.zoom.us data: blob:; report-to grp"},
			{"report-uri", "img-src 'self'; report-uri https://r.example/x", false, "img-src 'self' https://*.zoom.us data: blob:; report-uri https://r.example/x"},
			{"report-to, alwaysReport", "img-src 'self'; report-to grp", true, "img-src 'self' https://*.zoom.us data: blob:; report-to grp; report-uri /__cobrowse/csp-report"},
			{"report-uri, alwaysReport", "img-src 'self'; report-uri https://r.example/x", true, "img-src 'self' https://*.zoom.us data: blob:; report-uri https://r.example/x /__cobrowse/csp-report"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				up := policyUpstream(t, []header{{"Content-Security-Policy", tt.policy}})
				cfg := cspConfig(up.URL)
				cfg.Sites[0].CSP.AlwaysReport = tt.always
				ps := newProxy(t, cfg)
				res, _ := get(t, ps.URL, cspHost, "/", docHeaders)
				if got := res.Header.Get("Content-Security-Policy"); got != tt.want {
					t.Errorf("got  %q\nwant %q", got, tt.want)
				}
			})
		}
	})

	up := newCountingUpstream(t)
	ps, reg := newProxyReg(t, cspConfig(up.URL))
	const violations = "cobrowse_proxy_csp_violations_total"
	// The CDN here is cdn.example.net, so us01-zcb.zoom.us is counted
	// under the Zoom source it matches, not under its own name.
	tests := []struct {
		name, ct, body string
		status         int
		directive      string // "" counts nothing
		blockedHost    string
	}{
		{"report-uri format", "application/csp-report",
			`{"csp-report":{"document-uri":"http://shop.example.com/","blocked-uri":"https://us01-zcb.zoom.us/static/resource/sdk/sdk.js?x=1","effective-directive":"script-src-elem","violated-directive":"script-src-elem"}}`,
			204, "script-src-elem", "*.zoom.us"},
		{"report-uri format, violated-directive only", "application/csp-report",
			`{"csp-report":{"document-uri":"http://shop.example.com/","blocked-uri":"https://us01-zcb.zoom.us/x","violated-directive":"img-src 'self'"}}`,
			204, "img-src", "*.zoom.us"},
		{"Reporting API format", "application/reports+json",
			`[{"type":"csp-violation","age":1,"url":"http://shop.example.com/","body":{"documentURL":"http://shop.example.com/","blockedURL":"wss://us01-zcb.zoom.us/ws","effectiveDirective":"connect-src","disposition":"enforce"}},{"type":"deprecation","body":{}}]`,
			204, "connect-src", "*.zoom.us"},
		{"the site's own violation: accepted, not counted", "application/csp-report",
			`{"csp-report":{"document-uri":"http://shop.example.com/","blocked-uri":"https://ads.example/x.js","effective-directive":"script-src-elem"}}`,
			204, "", ""},
		{"wrong type", "text/plain", `{}`, 415, "", ""},
		{"not a report", "application/csp-report", `{"x":1}`, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := map[string]string{"site": "shop", "directive": tt.directive, "blocked_host": tt.blockedHost}
			before := metricValue(t, reg, violations, labels)
			res, body := send(t, ps.URL, "POST", cspHost, "/__cobrowse/csp-report", map[string]string{"Content-Type": tt.ct}, tt.body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, body, tt.status)
			}
			if tt.directive != "" {
				if after := metricValue(t, reg, violations, labels); after != before+1 {
					t.Errorf("%s%v: %v → %v, want +1", violations, labels, before, after)
				}
			}
		})
	}
	var total float64
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == violations {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	if total != 3 {
		t.Errorf("%d violations counted in all, want 3", int(total))
	}
	if n := up.n.Load(); n != 0 {
		t.Errorf("the upstream got %d request(s) %v; reports must not be forwarded", n, up.paths)
	}

	t.Run("mode off: no report endpoint", func(t *testing.T) {
		up := newCountingUpstream(t)
		cfg := cspConfig(up.URL)
		cfg.Sites[0].CSP.Mode = config.CSPModeOff
		ps := newProxy(t, cfg)
		res, _ := send(t, ps.URL, "POST", cspHost, "/__cobrowse/csp-report", map[string]string{"Content-Type": "application/csp-report"}, `{"csp-report":{}}`)
		if res.StatusCode != 404 || up.n.Load() != 0 {
			t.Errorf("status %d, upstream requests %d; want 404 and none", res.StatusCode, up.n.Load())
		}
	})
}

// TestCrossOriginAssets: static assets get CORS and CORP headers for the
// agent's Zoom-origin view; HTML, errors and the upstream's own ACAO don't.
func TestCrossOriginAssets(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/style.css":
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
		case "/logo.png":
			w.Header().Set("Content-Type", "image/png")
		case "/font.woff2":
			w.Header().Set("Content-Type", "font/woff2")
		case "/own.css":
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Access-Control-Allow-Origin", "https://partner.example")
		case "/missing.png":
			w.Header().Set("Content-Type", "image/png")
			w.WriteHeader(404)
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, cspPage)
			return
		case "/data.json":
			w.Header().Set("Content-Type", "application/json")
		}
		io.WriteString(w, "x")
	})
	const zoomOrigin = "https://us01-zcb.zoom.us"
	type want struct {
		acao, corp string
		varyOrigin bool
	}
	tests := []struct {
		mode, path, origin string
		hdr                map[string]string
		want               want
	}{
		{"zoom", "/style.css", zoomOrigin, nil, want{zoomOrigin, "cross-origin", true}},
		{"zoom", "/logo.png", zoomOrigin, nil, want{zoomOrigin, "cross-origin", true}},
		{"zoom", "/font.woff2", "https://zoom.us", nil, want{"https://zoom.us", "cross-origin", true}},
		{"zoom", "/style.css", "https://evil.example", nil, want{"", "cross-origin", true}},
		{"zoom", "/logo.png", "https://evil.example", nil, want{"", "cross-origin", true}},
		{"zoom", "/logo.png", "https://zoom.us.evil.example", nil, want{"", "cross-origin", true}},
		{"zoom", "/logo.png", "", nil, want{"", "cross-origin", true}},
		{"zoom", "/own.css", zoomOrigin, nil, want{"https://partner.example", "cross-origin", false}},
		{"zoom", "/missing.png", zoomOrigin, nil, want{"", "", false}},
		{"zoom", "/page", zoomOrigin, docHeaders, want{"", "", false}},
		{"zoom", "/page", zoomOrigin, nil, want{"", "", false}},
		{"zoom", "/data.json", zoomOrigin, nil, want{"", "", false}},
		{"zoom", "/__cobrowse/token", zoomOrigin, nil, want{"", "", false}},
		{"any", "/style.css", zoomOrigin, nil, want{"*", "cross-origin", false}},
		{"any", "/logo.png", "https://evil.example", nil, want{"*", "cross-origin", false}},
		{"any", "/own.css", zoomOrigin, nil, want{"https://partner.example", "cross-origin", false}},
		{"any", "/page", zoomOrigin, nil, want{"", "", false}},
		{"off", "/style.css", zoomOrigin, nil, want{"", "", false}},
		{"off", "/logo.png", zoomOrigin, nil, want{"", "", false}},
	}
	proxies := map[string]string{}
	for _, mode := range []string{"zoom", "any", "off"} {
		cfg := cspConfig(up.URL)
		cfg.Sites[0].CrossOriginAssets = mode
		proxies[mode] = newProxy(t, cfg).URL
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.path+" "+tt.origin, func(t *testing.T) {
			hdr := map[string]string{}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			if tt.origin != "" {
				hdr["Origin"] = tt.origin
			}
			res, _ := get(t, proxies[tt.mode], cspHost, tt.path, hdr)
			h := res.Header
			if got := h.Values("Access-Control-Allow-Origin"); strings.Join(got, ",") != tt.want.acao {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.want.acao)
			}
			if got := h.Get("Cross-Origin-Resource-Policy"); got != tt.want.corp {
				t.Errorf("Cross-Origin-Resource-Policy %q, want %q", got, tt.want.corp)
			}
			vary := strings.Contains(strings.ToLower(strings.Join(h.Values("Vary"), ",")), "origin")
			if vary != tt.want.varyOrigin {
				t.Errorf("Vary %q: Origin listed %v, want %v", h.Values("Vary"), vary, tt.want.varyOrigin)
			}
			if v := h.Get("Access-Control-Allow-Credentials"); v != "" {
				t.Errorf("Access-Control-Allow-Credentials %q: credentials must never be allowed", v)
			}
		})
	}
}

// TestCSPPoliciesMetric: cobrowse_proxy_csp_policies_total counts each
// policy by outcome, header and <meta> policies alike.
func TestCSPPoliciesMetric(t *testing.T) {
	policies := map[string][]header{
		"/merged":    {{"Content-Security-Policy", "img-src 'self'"}},
		"/unchanged": {{"Content-Security-Policy", "default-src 'self' https: wss: data: blob: 'unsafe-inline'; report-uri /r"}},
		"/nonce":     {{"Content-Security-Policy", "script-src 'nonce-abcdef' 'strict-dynamic'; report-uri /r"}},
		"/two":       {{"Content-Security-Policy", "img-src 'self', connect-src 'self'"}, {"Content-Security-Policy-Report-Only", "script-src " + sha + " 'strict-dynamic'"}},
		"/none":      nil,
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for _, l := range policies[r.URL.Path] {
			w.Header().Add(l.name, l.value)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/meta" {
			io.WriteString(w, metaPage)
			return
		}
		io.WriteString(w, cspPage)
	})
	ps, reg := newProxyReg(t, cspConfig(up.URL))
	tests := []struct {
		path string
		want map[string]float64 // increments by outcome
	}{
		{"/merged", map[string]float64{"merged": 1}},
		{"/unchanged", map[string]float64{"unchanged": 1}},
		{"/nonce", map[string]float64{"nonce_used": 1}},
		{"/two", map[string]float64{"merged": 2, "nonce_used": 1}},
		{"/none", nil},
		{"/meta", map[string]float64{"merged": 1}},
	}
	outcomes := []string{"merged", "unchanged", "nonce_used", "skipped"}
	t.Run("skipped: no merge can allow the loader", func(t *testing.T) {
		// CSP host sources cannot name an IPv6 literal, so on a site served
		// as [::1] a policy without 'self' cannot be made to allow the
		// same-origin loader: the page passes through as it was.
		const policy = "script-src https://cdn.example.net"
		up := policyUpstream(t, []header{{"Content-Security-Policy", policy}})
		cfg := cspConfig(up.URL)
		cfg.Sites[0].Hosts = append(cfg.Sites[0].Hosts, "::1")
		ps, reg := newProxyReg(t, cfg)
		res, body := get(t, ps.URL, "[::1]", "/", docHeaders)
		if _, _, ok := tagNonce(t, body); ok || string(body) != cspPage {
			t.Errorf("page changed:\n%s", body)
		}
		if got := res.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != policy {
			t.Errorf("CSP %q, want %q untouched", got, policy)
		}
		if v := metricValue(t, reg, "cobrowse_proxy_csp_policies_total", map[string]string{"site": "shop", "outcome": "skipped"}); v != 1 {
			t.Errorf("outcome skipped = %v, want 1", v)
		}
	})
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			before := map[string]float64{}
			for _, o := range outcomes {
				before[o] = metricValue(t, reg, "cobrowse_proxy_csp_policies_total", map[string]string{"site": "shop", "outcome": o})
			}
			res, body := get(t, ps.URL, cspHost, tt.path, docHeaders)
			if _, _, ok := tagNonce(t, body); res.StatusCode != 200 || !ok {
				t.Fatalf("status %d, injected %v", res.StatusCode, ok)
			}
			for _, o := range outcomes {
				got := metricValue(t, reg, "cobrowse_proxy_csp_policies_total", map[string]string{"site": "shop", "outcome": o}) - before[o]
				if got != tt.want[o] {
					t.Errorf("outcome %s: +%v, want +%v", o, got, tt.want[o])
				}
			}
		})
	}
}
