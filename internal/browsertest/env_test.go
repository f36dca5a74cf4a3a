package browsertest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
)

const (
	sdkKey     = "KEY123abc"
	sdkSecret  = "browser-test-secret-0123456789abcdef"
	sdkVersion = "3.6.0"
	cdnHost    = "us01-zcb.zoom.us"
	// sdkURL is the loader URL the page must use: the real CDN URL.
	sdkURL = "https://" + cdnHost + "/static/resource/sdk/" + sdkKey + "/js/" + sdkVersion
	// defaultPIN is what the fake SDK reports when no PIN was brought.
	defaultPIN = "482913"
	// widgetMask is the selector bootstrap adds for the widget's root.
	widgetMask = ".cobrowse-proxy-widget"
)

//go:embed testdata/fake-sdk.js
var fakeSDK []byte

// request is one request the proxy or the CDN stub saw.
type request struct {
	Host, Method, URI, Dest, Site string
}

// recorder records requests and the response headers of pages.
type recorder struct {
	mu   sync.Mutex
	reqs []request
	csp  map[string]string // Host+URI → Content-Security-Policy sent to the browser
}

func (rc *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{Host: r.Host, Method: r.Method, URI: r.URL.RequestURI(),
			Dest: r.Header.Get("Sec-Fetch-Dest"), Site: r.Header.Get("Sec-Fetch-Site")})
		rc.mu.Unlock()
		h.ServeHTTP(&cspWriter{ResponseWriter: w, rc: rc, key: r.Host + r.URL.RequestURI()}, r)
	})
}

func (rc *recorder) find(match func(request) bool) []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []request
	for _, r := range rc.reqs {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

func (rc *recorder) policy(key string) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.csp[key]
}

// cspWriter notes the policy a response carries; Unwrap keeps flushing.
type cspWriter struct {
	http.ResponseWriter
	rc    *recorder
	key   string
	wrote bool
}

func (w *cspWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if v := w.Header().Get("Content-Security-Policy"); v != "" {
			w.rc.mu.Lock()
			if w.rc.csp == nil {
				w.rc.csp = map[string]string{}
			}
			w.rc.csp[w.key] = v
			w.rc.mu.Unlock()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cspWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *cspWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// env is one test's world: the CDN stub, the upstreams, two proxies (the
// second with bring-your-own-PIN tokens) and a browser.
type env struct {
	t         *testing.T
	ctx       context.Context
	proxy     *recorder // requests to the proxies
	cdn       *recorder // requests to the CDN stub
	port      string    // the main proxy's port (shop.localhost, widgets.localhost)
	byopPort  string    // the BYOP proxy's port (api.localhost)
	artifacts string
	cfg       *config.Config
	console   *consoleLog
	sdkDown   atomic.Bool // the CDN stub answers 503 for the SDK
}

func (e *env) url(host, path string) string {
	port := e.port
	if host == "api.localhost" {
		port = e.byopPort
	}
	return "http://" + host + ":" + port + path
}

// chromePath finds Chromium, or skips the test.
func chromePath(t *testing.T) string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "Chromium is not installed: apt-get install -y chromium (CI installs it), or set CHROME_PATH"
	if os.Getenv("CI") != "" {
		t.Fatal(msg) // CI must run the browser tests, not skip them
	}
	t.Skip(msg)
	return ""
}

func newEnv(t *testing.T) *env {
	t.Helper()
	chrome := chromePath(t)
	e := &env{t: t, proxy: &recorder{}, cdn: &recorder{}}
	e.artifacts = os.Getenv("COBROWSE_ARTIFACTS")
	if e.artifacts == "" {
		e.artifacts = t.TempDir()
	}
	e.artifacts = filepath.Join(e.artifacts, t.Name())
	if err := os.MkdirAll(e.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	// The CDN stub: HTTPS with a certificate for the real host name, whose
	// key Chromium is told to trust (and nothing else).
	cdnCert, spki := selfSigned(t, cdnHost)
	cdn := httptest.NewUnstartedServer(e.cdn.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, deskStubPath) {
			serveDeskStub(w, r) // agent_test.go
			return
		}
		if r.URL.Path != "/static/resource/sdk/"+sdkKey+"/js/"+sdkVersion || e.sdkDown.Load() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(fakeSDK)
	})))
	cdn.TLS = &tls.Config{Certificates: []tls.Certificate{cdnCert}}
	cdn.StartTLS()
	t.Cleanup(cdn.Close)
	_, cdnPort, _ := net.SplitHostPort(cdn.Listener.Addr().String())

	// The proxies listen first, so the upstream pages can name their port.
	lnA := listen(t)
	lnB := listen(t)
	_, e.port, _ = net.SplitHostPort(lnA.Addr().String())
	_, e.byopPort, _ = net.SplitHostPort(lnB.Addr().String())

	shop := serve(t, shopUpstream(e))
	widgets := serve(t, widgetsUpstream())
	api := serve(t, apiUpstream())

	e.cfg = mainConfig(shop.URL, widgets.URL)
	startProxy(t, e.cfg, lnA, e.proxy)
	startProxy(t, byopConfig(api.URL), lnB, e.proxy)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		// The page asks for https://us01-zcb.zoom.us/...; Chromium connects
		// to the stub instead and trusts only the stub's key.
		chromedp.Flag("host-resolver-rules", "MAP "+cdnHost+":443 127.0.0.1:"+cdnPort),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
	})
	e.ctx = bctx
	// Start the browser, then listen for CSP violations from the start of
	// every document (before any page script, bootstrap.js included), and
	// remember the globals a page starts with.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: startScript}); err != nil {
		t.Fatal(err)
	}
	e.console = watchConsole(bctx)
	t.Cleanup(func() {
		for _, m := range e.console.all() {
			t.Logf("browser console: %s", m)
		}
	})
	return e
}

// startScript runs first in every document.
const startScript = `
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile, sample: e.sample});
});
window.__startGlobals = Object.getOwnPropertyNames(window);
`

type consoleLog struct {
	mu   sync.Mutex
	msgs []string
	exc  []string
}

func (c *consoleLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

func (c *consoleLog) exceptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.exc...)
}

func watchConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
			if m.IsException() {
				c.exc = append(c.exc, m.Text)
			}
			c.mu.Unlock()
		}
	}()
	return c
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func startProxy(t *testing.T, cfg *config.Config, ln net.Listener, rc *recorder) {
	t.Helper()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h, err := server.NewHandler(cfg, slog.New(slog.DiscardHandler), metrics.New(prometheus.NewRegistry(), "test"), encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(rc.wrap(h))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
}

func boolp(b bool) *bool { return &b }

// mainConfig: shop.localhost (restyled, relabelled widget, strict pages)
// and widgets.localhost (default widget; its /embed is shown in an iframe).
func mainConfig(shop, widgets string) *config.Config {
	return &config.Config{
		Zoom: config.Zoom{SDKKey: sdkKey, SDKSecret: sdkSecret, SDKVersion: sdkVersion},
		Masking: config.Masking{
			Selectors:  []string{".card-number", "#ssn"},
			Attributes: []string{"data-private"},
		},
		Sites: []config.Site{
			{
				Name: "shop", Hosts: []string{"shop.localhost"}, Upstream: shop,
				Settings: config.Settings{
					Annotation:   &config.Annotation{AllowCustomerAnnotation: boolp(true)},
					RemoteAssist: &config.RemoteAssist{Enable: boolp(true), RemoteAssistTypes: []string{"scroll_page"}},
					Extra:        map[string]any{"futureOption": "kept"},
				},
				Widget:  config.Widget{Position: "bottom-left", Label: "Need help?"},
				Masking: config.SiteMasking{Selectors: []string{".order-address"}},
			},
			{Name: "widgets", Hosts: []string{"widgets.localhost"}, Upstream: widgets,
				Masking: config.SiteMasking{Selectors: []string{"input[name=cvc]"}}},
		},
	}
}

// byopConfig: api.localhost, whose pages have their own button (widget
// off), with bring-your-own-PIN tokens.
func byopConfig(api string) *config.Config {
	return &config.Config{
		Zoom:  config.Zoom{SDKKey: sdkKey, SDKSecret: sdkSecret, SDKVersion: sdkVersion},
		Token: config.Token{BYOP: true},
		Sites: []config.Site{
			{Name: "api", Hosts: []string{"api.localhost"}, Upstream: api, Widget: config.Widget{Enabled: boolp(false)}},
		},
	}
}

// selfSigned returns a certificate for host and the base64 SHA-256 of its
// SubjectPublicKeyInfo, for --ignore-certificate-errors-spki-list.
func selfSigned(t *testing.T, host string) (tls.Certificate, string) {
	t.Helper()
	p := testcert.New(t, time.Now().Add(24*time.Hour), 1, host)
	sum := sha256.Sum256(p.Cert.RawSubjectPublicKeyInfo)
	return p.TLS(t), base64.StdEncoding.EncodeToString(sum[:])
}

// --- Upstreams -------------------------------------------------------------

const fragment = `<p id="fragment-content">Three items in your cart.</p>`

const siteCSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#222}
main{max-width:640px;margin:40px auto;background:#fff;padding:24px 32px;border-radius:10px}
label{display:block;margin:12px 0}input{font:inherit;padding:6px}`

const appJS = `document.addEventListener("DOMContentLoaded", function () {
  fetch("/fragment", {headers: {"HX-Request": "true"}}).then(function (r) { return r.text(); }).then(function (t) {
    window.__fragment = t;
    document.getElementById("frag").innerHTML = t;
  });
});`

func shopPage(scriptAttr string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo shop</title>
<link rel="stylesheet" href="/site.css"><script ` + scriptAttr + ` src="/app.js"></script></head>
<body><main><h1>Checkout</h1><p>Review your order and pay.</p>
<label>Card number <input class="card-number" autocomplete="cc-number" value="4111 1111 1111 1111"></label>
<label>Address <input class="order-address" value="1 Main St"></label>
<div id="frag"></div></main></body></html>`
}

// plainPage has no script of its own (app.js assigns innerHTML, which
// Trusted Types would block).
const plainPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Account</title>
<link rel="stylesheet" href="/site.css"></head><body><main><h1>Account</h1><p>Your orders.</p></main></body></html>`

func shopUpstream(e *env) http.Handler {
	mux := http.NewServeMux()
	html := func(w http.ResponseWriter, policy, body string) {
		if policy != "" {
			w.Header().Set("Content-Security-Policy", policy)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, body)
	}
	// A strict, nonce-based policy (the kind Google's CSP guide
	// recommends), also for styles.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		html(w, "default-src 'self'; script-src 'nonce-"+nonce+"' 'strict-dynamic'; style-src 'self' 'nonce-"+nonce+
			"'; object-src 'none'; base-uri 'none'", shopPage(`nonce="`+nonce+`"`))
	})
	// A host allow-list policy.
	mux.HandleFunc("GET /allowlist", func(w http.ResponseWriter, r *http.Request) {
		html(w, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'",
			shopPage(""))
	})
	// Trusted Types enforced: with cobrowse-proxy among the allowed policy
	// names, and without it.
	mux.HandleFunc("GET /trusted-types", func(w http.ResponseWriter, r *http.Request) {
		html(w, "require-trusted-types-for 'script'; trusted-types cobrowse-proxy", plainPage)
	})
	mux.HandleFunc("GET /trusted-types-allowlist", func(w http.ResponseWriter, r *http.Request) {
		html(w, "require-trusted-types-for 'script'; trusted-types site-policy", plainPage)
	})
	mux.HandleFunc("GET /iframe", func(w http.ResponseWriter, r *http.Request) {
		html(w, "", `<!doctype html><html><head><title>Pay</title><link rel="stylesheet" href="/site.css"><script src="/frames.js"></script></head>
<body><main><h1>Pay</h1><iframe src="http://widgets.localhost:`+e.port+`/embed" title="Payment form" width="420" height="160"></iframe></main></body></html>`)
	})
	// An htmx-style fragment: HTML, but fetched, not navigated to.
	mux.HandleFunc("GET /fragment", func(w http.ResponseWriter, r *http.Request) { html(w, "", fragment) })
	mux.HandleFunc("GET /site.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		io.WriteString(w, siteCSS)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, appJS)
	})
	mux.HandleFunc("GET /frames.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, `window.__frameReports = [];
window.addEventListener("message", function (e) {
  if (e.data && e.data.cobrowseFrameReport) window.__frameReports.push({origin: e.origin, data: e.data});
});`)
	})
	return mux
}

func widgetsUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /embed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>Payment form</title><script src="/embed.js"></script></head>
<body><form><label>CVC <input name="cvc" value="123"></label></form></body></html>`)
	})
	// The iframe reports what it has to the top page once the SDK is ready
	// and the document loaded (it is cross-origin: the test cannot look).
	mux.HandleFunc("GET /embed.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, `(function () {
  var ready = new Promise(function (res) { window.CobrowseProxy ? window.CobrowseProxy.on("ready", res) : res(); });
  var loaded = new Promise(function (res) { window.addEventListener("load", res); });
  Promise.all([ready, loaded]).then(function () {
    var cp = window.CobrowseProxy, fz = window.__fakeZoom || {};
    var boot = document.querySelector('script[src*="/__cobrowse/bootstrap.js"]');
    parent.postMessage({cobrowseFrameReport: true, hasApi: !!cp, frame: !!(cp && cp.frame), ready: !!(cp && cp.ready),
      widget: !!document.querySelector("[data-cobrowse-proxy]"), bootstrapSrc: boot ? boot.src : "",
      sdkSrc: fz.src || "", initArgs: fz.initArgs || null}, "*");
  });
})();`)
	})
	return mux
}

func apiUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /own", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>Own button</title><script src="/own.js"></script></head>
<body><h1>Account</h1><button id="help" data-cobrowse-start><span id="help-text">Talk to support</span></button>
<a id="stop" href="#" data-cobrowse-end>Stop sharing</a></body></html>`)
	})
	mux.HandleFunc("GET /own.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, `window.__pins = []; window.__states = [];
CobrowseProxy.on("pincode_updated", function (d) { window.__pins.push(d.pincode); });
CobrowseProxy.on("state", function (s) { window.__states.push(s.state); });`)
	})
	return mux
}

func newNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// --- Browser helpers -------------------------------------------------------

func (e *env) do(actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		e.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates expr in the page and decodes its JSON value into T.
func eval[T any](e *env, expr string) T {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		e.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// wait polls expr until it is truthy (10 s at most).
func (e *env) wait(what, expr string) {
	e.t.Helper()
	_, err := chromedp.Run(e.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		e.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// shadow is the JS path to an element inside the widget's shadow root.
func shadow(sel string) chromedp.JSPath {
	return chromedp.JSPath(`document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector(` + jsString(sel) + `)`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the viewport and the widget's area as PNGs.
func (e *env) screenshot(name string) string {
	e.t.Helper()
	full, err := chromedp.Run(e.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Fatal(err)
	}
	e.write(name+"-page.png", full)
	r := eval[struct{ X, Y, W, H float64 }](e, `(() => { const b = document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector(".root").getBoundingClientRect();
	  const p = 24, x = Math.max(0, b.left - p), y = Math.max(0, b.top - p);
	  return {X: x, Y: y, W: Math.min(innerWidth - x, b.width + 2 * p), H: Math.min(innerHeight - y, b.height + 2 * p)}; })()`)
	res, err := chromedp.Call(e.ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format: page.CaptureScreenshotFormatPng,
		Clip:   &page.Viewport{X: r.X, Y: r.Y, Width: r.W, Height: r.H, Scale: 1},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.write(name+".png", res.Data)
}

func (e *env) write(name string, data []byte) string {
	p := filepath.Join(e.artifacts, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// noViolations fails the test if the page reported a CSP violation.
func (e *env) noViolations(where string) {
	e.t.Helper()
	v := eval[[]map[string]any](e, `window.__cspViolations`)
	if len(v) > 0 {
		e.t.Errorf("%s: securitypolicyviolation fired: %v", where, v)
	}
	if exc := e.console.exceptions(); len(exc) > 0 {
		e.t.Errorf("%s: uncaught exceptions: %v", where, exc)
	}
}

// --- JWT check, with the standard library only -----------------------------

// verifyJWT checks an HS256 token against the test secret and returns its
// claims, numbers kept as json.Number so their JSON type can be checked.
func verifyJWT(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	mac := hmac.New(sha256.New, []byte(sdkSecret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatalf("token signature does not verify with the SDK secret")
	}
	var header map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &header); err != nil || header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Fatalf("token header %s", hb)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(pb)))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// checkCustomerClaims checks what docs/zoom.md requires of a customer token.
func checkCustomerClaims(t *testing.T, claims map[string]any, byop bool) {
	t.Helper()
	num := func(k string) int64 {
		n, ok := claims[k].(json.Number)
		if !ok {
			t.Fatalf("claim %s = %#v, want a JSON number", k, claims[k])
		}
		v, err := n.Int64()
		if err != nil {
			t.Fatalf("claim %s = %s: %v", k, n, err)
		}
		return v
	}
	if claims["app_key"] != sdkKey {
		t.Errorf("app_key %v, want %s", claims["app_key"], sdkKey)
	}
	if r := num("role_type"); r != 1 {
		t.Errorf("role_type %d, want 1 (customer)", r)
	}
	iat, exp := num("iat"), num("exp")
	if now := time.Now().Unix(); iat < now-120 || iat > now+5 {
		t.Errorf("iat %d is not now (%d)", iat, now)
	}
	if exp-iat != int64(config.DefaultTokenTTL/time.Second) {
		t.Errorf("exp - iat = %d, want %d", exp-iat, int64(config.DefaultTokenTTL/time.Second))
	}
	if id, _ := claims["user_id"].(string); id == "" {
		t.Errorf("user_id %v, want a non-empty string", claims["user_id"])
	}
	if name, _ := claims["user_name"].(string); name == "" || len(name) > 80 {
		t.Errorf("user_name %v", claims["user_name"])
	}
	if byop {
		if num("enable_byop") != 1 {
			t.Errorf("enable_byop %v, want 1", claims["enable_byop"])
		}
	} else if _, ok := claims["enable_byop"]; ok {
		t.Errorf("enable_byop present without BYOP")
	}
}
