package proxy_test

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// TestInjectEndToEnd: a document navigation gets the loader right after
// <head>; the rest of the page is byte for byte the upstream's, and the
// headers are fixed up (Content-Length, weak ETag) or kept.
func TestInjectEndToEnd(t *testing.T) {
	doc := page(200 << 10) // several copy buffers long
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", fmt.Sprint(len(doc)))
		h.Set("ETag", `"abc"`)
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; Path=/; HttpOnly")
		h.Set("Cache-Control", "private, max-age=0")
		h.Set("X-Foo", "bar")
		// Digests of the upstream's bytes, which the injected body no
		// longer matches: a client checking them would reject the page.
		h.Set("Content-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
		h.Set("Repr-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
		h.Set("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ==")
		w.Write(doc)
	}))
	defer up.Close()
	e := newEnv(t, up.URL, nil)

	res, body := e.do(e.request("GET", "/", map[string]string{"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	rest, at := stripTag(t, body)
	if at < 0 {
		t.Fatalf("no loader tag in %q", body[:min(len(body), 200)])
	}
	if want := bytes.Index(doc, []byte("<head>")) + len("<head>"); at != want {
		t.Errorf("tag at offset %d, want %d (right after <head>)", at, want)
	}
	if !bytes.Equal(rest, doc) {
		t.Errorf("body minus tag differs from upstream (%d vs %d bytes)", len(rest), len(doc))
	}
	h := res.Header
	if res.ContentLength != int64(len(body)) {
		// The upstream's length plus the tag's (see TestKnownLength).
		t.Errorf("Content-Length %d, want %d", res.ContentLength, len(body))
	}
	if got := h.Get("ETag"); got != `W/"abc"` {
		t.Errorf("ETag %q, want W/\"abc\"", got)
	}
	for _, name := range []string{"Content-Digest", "Repr-Digest", "Content-MD5"} {
		if v := h.Get(name); v != "" {
			t.Errorf("stale %s %q kept on the rewritten page", name, v)
		}
	}
	if got := h.Values("Set-Cookie"); !slices.Equal(got, []string{"a=1; Path=/", "b=2; Path=/; HttpOnly"}) {
		t.Errorf("Set-Cookie %q", got)
	}
	if got := h.Get("Cache-Control"); got != "private, max-age=0" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := h.Get("X-Foo"); got != "bar" {
		t.Errorf("X-Foo %q", got)
	}
	if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if h.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

// upstream-side encoders, independent of internal/encoding.
func encodeWith(t *testing.T, coding string, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	default:
		t.Fatalf("no encoder for %q", coding)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// client-side decoders: the standard library where it has one.
func decodeWith(t *testing.T, coding string, p []byte) []byte {
	t.Helper()
	var r io.Reader
	switch coding {
	case "", "identity":
		return p
	case "gzip":
		zr, err := stdgzip.NewReader(bytes.NewReader(p))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "deflate":
		zr, err := stdzlib.NewReader(bytes.NewReader(p))
		if err != nil {
			t.Fatalf("deflate (zlib): %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(p))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("no decoder for %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", coding, err)
	}
	return out
}

func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// TestInjectCodings: every supported coding is decoded for the rewrite and
// re-encoded for the client as it accepts; identity is never compressed by
// us; an unknown coding passes through untouched.
func TestInjectCodings(t *testing.T) {
	doc := page(100 << 10)
	type tc struct {
		name     string
		upstream string // Content-Encoding the upstream sends ("" identity)
		accept   string // client Accept-Encoding ("" none)
		want     string // expected response Content-Encoding
		inject   bool
	}
	var cases []tc
	for _, c := range []string{"gzip", "deflate", "br", "zstd"} {
		cases = append(cases, tc{c + " both ways", c, c, c, true})
	}
	cases = append(cases,
		tc{"gzip upstream, br client", "gzip", "br", "br", true},
		// Brotli is the costliest to produce: a browser that takes zstd or
		// gzip as much gets that (encoding.Codecs.Reencoding).
		tc{"br upstream, browser with zstd", "br", "gzip, deflate, br, zstd", "zstd", true},
		tc{"br upstream, browser without zstd", "br", "gzip, deflate, br", "gzip", true},
		tc{"zstd upstream, gzip client", "zstd", "gzip", "gzip", true},
		tc{"gzip upstream, client accepts nothing", "gzip", "", "", true},
		tc{"gzip upstream, client refuses all", "gzip", "identity", "", true},
		tc{"identity upstream, gzip client", "", "gzip, deflate, br, zstd", "", true},
		tc{"unknown coding passes through", "compress", "gzip, compress", "compress", false},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := doc
			switch c.upstream {
			case "":
			case "compress":
				wire = []byte("\x1f\x9d not really LZW but opaque bytes <head> stay as they are")
			default:
				wire = encodeWith(t, c.upstream, doc)
			}
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				if c.upstream != "" {
					w.Header().Set("Content-Encoding", c.upstream)
				}
				w.Write(wire)
			}))
			defer up.Close()
			e := newEnv(t, up.URL, nil)
			hdr := map[string]string{"Sec-Fetch-Dest": "document"}
			if c.accept != "" {
				hdr["Accept-Encoding"] = c.accept
			}
			res, body := e.do(e.request("GET", "/", hdr))
			if got := res.Header.Get("Content-Encoding"); got != c.want {
				t.Fatalf("Content-Encoding %q, want %q", got, c.want)
			}
			if !c.inject {
				if !bytes.Equal(body, wire) {
					t.Fatalf("body changed: %q", body)
				}
				return
			}
			if c.upstream != "" && !hasToken(res.Header, "Vary", "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", res.Header.Values("Vary"))
			}
			plain := decodeWith(t, c.want, body)
			rest, at := stripTag(t, plain)
			if at < 0 {
				t.Fatalf("not injected: %q", plain[:min(200, len(plain))])
			}
			if !bytes.Equal(rest, doc) {
				t.Fatalf("decoded body minus tag differs from upstream page (%d vs %d bytes)", len(rest), len(doc))
			}
		})
	}
}

// TestNotInjected: fragments, non-navigations and responses that must
// not be touched pass through with body and headers intact; documents that
// should be injected are.
func TestNotInjected(t *testing.T) {
	full := page(4 << 10)
	fragment := []byte("<div class=\"cart\"><p>2 items</p></div>\n")
	type tc struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		ct     string // upstream Content-Type; default text/html
		cd     string // upstream Content-Disposition
		body   []byte // default full
		status int    // expected status; default 200
		inject bool
		// byBody: only the body could decide, after the headers had to be
		// sent, so they carry the injection fix-ups (weak ETag, chunked).
		byBody bool
	}
	cases := []tc{
		{name: "fetch (Sec-Fetch-Dest empty)", hdr: map[string]string{"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}},
		{name: "no Sec-Fetch, fragment body", body: fragment, byBody: true},
		{name: "htmx request, full document", hdr: map[string]string{"HX-Request": "true"}},
		{name: "XMLHttpRequest, full document", hdr: map[string]string{"X-Requested-With": "XMLHttpRequest"}},
		{name: "no Sec-Fetch, full document", inject: true},
		{name: "iframe navigation", hdr: map[string]string{"Sec-Fetch-Dest": "iframe"}, inject: true},
		{name: "script destination", hdr: map[string]string{"Sec-Fetch-Dest": "script"}},
		// HEAD gets the headers of the injected GET it stands for (weak
		// ETag, no Content-Length): see TestHeadMatchesGet.
		{name: "HEAD", method: "HEAD", hdr: map[string]string{"Sec-Fetch-Dest": "document"}, byBody: true},
		{name: "range request (206)", hdr: map[string]string{"Sec-Fetch-Dest": "document", "Range": "bytes=0-99"}, status: 206},
		{name: "revalidation (304)", hdr: map[string]string{"Sec-Fetch-Dest": "document", "If-None-Match": `"abc"`}, status: 304},
		{name: "204", path: "/nocontent", hdr: map[string]string{"Sec-Fetch-Dest": "document"}, status: 204},
		{name: "attachment", cd: `attachment; filename="page.html"`, hdr: map[string]string{"Sec-Fetch-Dest": "document"}},
		{name: "text/plain", ct: "text/plain; charset=utf-8", hdr: map[string]string{"Sec-Fetch-Dest": "document"}},
		{name: "application/json", ct: "application/json", body: []byte(`{"html":"<html><head></head></html>"}`), hdr: map[string]string{"Sec-Fetch-Dest": "document"}},
		{name: "excluded path", path: "/admin/users", hdr: map[string]string{"Sec-Fetch-Dest": "document"}},
		{name: "excluded path root", path: "/admin", hdr: map[string]string{"Sec-Fetch-Dest": "document"}},
		{name: "path next to excluded", path: "/administrator", hdr: map[string]string{"Sec-Fetch-Dest": "document"}, inject: true},
		{name: "already injected", byBody: true, body: []byte(`<!doctype html><html><head><script src="/__cobrowse/bootstrap.js?v=0"></script></head></html>`), hdr: map[string]string{"Sec-Fetch-Dest": "document"}},
		{name: "POST navigation", method: "POST", hdr: map[string]string{"Sec-Fetch-Dest": "document"}, inject: true},
		{name: "404 page", path: "/missing", hdr: map[string]string{"Sec-Fetch-Dest": "document"}, status: 404, inject: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if body == nil {
				body = full
			}
			ct := c.ct
			if ct == "" {
				ct = "text/html; charset=utf-8"
			}
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				if c.cd != "" {
					w.Header().Set("Content-Disposition", c.cd)
				}
				switch r.URL.Path {
				case "/nocontent":
					w.WriteHeader(204)
					return
				case "/missing":
					w.WriteHeader(404)
					w.Write(body)
					return
				}
				w.Header().Set("ETag", `"abc"`)
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
			}))
			defer up.Close()
			e := newEnv(t, up.URL, func(c *config.Config) {
				c.Sites[0].Inject.Exclude = []string{"/admin/**"}
			})
			method := c.method
			if method == "" {
				method = "GET"
			}
			path := c.path
			if path == "" {
				path = "/"
			}
			res, got := e.do(e.request(method, path, c.hdr))
			want := c.status
			if want == 0 {
				want = 200
			}
			if res.StatusCode != want {
				t.Fatalf("status %d, want %d", res.StatusCode, want)
			}
			rest, at := stripTag(t, got)
			if c.inject {
				if at < 0 {
					t.Fatalf("not injected: %q", got[:min(len(got), 200)])
				}
				if !bytes.Equal(rest, body) {
					t.Fatal("body minus tag differs from upstream")
				}
				return
			}
			if at >= 0 && !strings.Contains(c.name, "already") {
				t.Fatalf("injected but should not be")
			}
			var wantBody []byte
			switch {
			case method == "HEAD", want == 204, want == 304:
			case want == 206:
				wantBody = body[:100]
			default:
				wantBody = body
			}
			if !bytes.Equal(got, wantBody) {
				t.Fatalf("body changed:\n got %q\nwant %q", trunc(got), trunc(wantBody))
			}
			if c.byBody {
				return
			}
			if want == 200 || want == 206 || want == 304 {
				if et := res.Header.Get("ETag"); et != `"abc"` {
					t.Errorf("ETag %q, want the upstream's strong \"abc\"", et)
				}
			}
			if want == 200 && method != "HEAD" && res.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d, want the upstream's %d", res.ContentLength, len(body))
			}
		})
	}
}

func trunc(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// TestInjectPathUsesClientPath: with an upstream path prefix, include and
// exclude patterns match the path the client asked for.
func TestInjectPathUsesClientPath(t *testing.T) {
	doc := page(1 << 10)
	var seen atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path)
		w.Header().Set("Content-Type", "text/html")
		w.Write(doc)
	}))
	defer up.Close()
	e := newEnv(t, up.URL+"/base", func(c *config.Config) {
		c.Sites[0].Inject.Include = []string{"/shop/**"}
	})
	for _, c := range []struct {
		path   string
		inject bool
	}{{"/shop/cart", true}, {"/blog/post", false}} {
		_, body := e.do(e.request("GET", c.path, map[string]string{"Sec-Fetch-Dest": "document"}))
		if got, _ := seen.Load().(string); got != "/base"+c.path {
			t.Errorf("upstream saw %q, want %q", got, "/base"+c.path)
		}
		if _, at := stripTag(t, body); (at >= 0) != c.inject {
			t.Errorf("%s: injected=%v, want %v", c.path, at >= 0, c.inject)
		}
	}
}

// TestInjectMetrics: the outcome of each HTML response is counted.
func TestInjectMetrics(t *testing.T) {
	doc := page(1 << 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/fragment" {
			w.Write([]byte("<li>one</li>"))
			return
		}
		w.Write(doc)
	}))
	defer up.Close()
	e := newEnv(t, up.URL, nil)
	e.do(e.request("GET", "/", map[string]string{"Sec-Fetch-Dest": "document"}))
	e.do(e.request("GET", "/", map[string]string{"Sec-Fetch-Dest": "empty"}))
	e.do(e.request("GET", "/fragment", nil))

	want := map[string]float64{"injected": 1, "not_navigation": 1, "not_document": 1}
	eventually(t, "html_responses_total", func() bool {
		return counterValue(t, e.m.Injections.WithLabelValues("shop", "injected")) == 1 &&
			counterValue(t, e.m.Injections.WithLabelValues("shop", "not_document")) == 1
	})
	for outcome, n := range want {
		if got := counterValue(t, e.m.Injections.WithLabelValues("shop", outcome)); got != n {
			t.Errorf("cobrowse_proxy_html_responses_total{outcome=%q} = %v, want %v", outcome, got, n)
		}
	}
	if n := seriesCount(t, e.reg, "cobrowse_proxy_html_responses_total"); n != len(want) {
		t.Errorf("%d outcome series, want %d", n, len(want))
	}
	if got := counterValue(t, e.m.Requests.WithLabelValues("shop", "200")); got != 3 {
		t.Errorf("requests_total{code=200} = %v, want 3", got)
	}
}

// A document requested as an iframe gets the iframe variant of the loader
// (loader only, no widget); a top-level document the full one.
func TestFrameVariant(t *testing.T) {
	page := []byte("<!doctype html><html><head><title>x</title></head><body>x</body></html>")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
	}))
	defer up.Close()
	e := newEnv(t, up.URL, nil)
	for _, c := range []struct {
		dest  string
		frame bool
	}{{"document", false}, {"iframe", true}, {"frame", true}, {"", false}} {
		hdr := map[string]string{}
		if c.dest != "" {
			hdr["Sec-Fetch-Dest"] = c.dest
		}
		_, got := e.do(e.request("GET", "/", hdr))
		if _, at := stripTag(t, got); at < 0 {
			t.Fatalf("%q: not injected", c.dest)
		}
		if has := bytes.Contains(got, []byte("&amp;frame=1")); has != c.frame {
			t.Errorf("Sec-Fetch-Dest %q: iframe variant %v, want %v", c.dest, has, c.frame)
		}
	}
}
