package browsertest

import (
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/cascadia"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/maskaudit"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

//go:embed testdata/audit-snippets.html
var auditSnippets string

// The values typed into (or prefilled in) fields, and a query secret: none
// may reach the proxy.
const (
	typedSSN     = "078-05-1120"
	typedNote    = "555-44-3333"
	prefilledSSN = "111-22-3333"
	querySecret  = "qs3cr3t"
)

// seen is one request the proxy received, body included.
type seen struct {
	Host, URI, Origin, FetchSite, Body string
	Status                             int
}

// auditEnv: one proxy with two sites, audit.localhost (masking rules of
// every kind) and plain.localhost (none), on an upstream serving the audit
// pages, a CDN stub serving the fake SDK, a browser, and every request the
// proxy received.
type auditEnv struct {
	t      *testing.T
	ctx    context.Context
	port   string
	reg    *prometheus.Registry
	shared *server.Shared

	mu     sync.Mutex
	reqs   []seen
	notify chan struct{}
}

func (e *auditEnv) url(host, path string) string { return "http://" + host + ":" + e.port + path }

// auditConfig: no automatic masking, so that what is masked is exactly
// what each site lists.
func auditConfig(upstream string) *config.Config {
	return &config.Config{
		Zoom:    config.Zoom{SDKKey: sdkKey, SDKSecret: sdkSecret, SDKVersion: sdkVersion},
		Masking: config.Masking{AutoMaskSensitiveInputs: boolp(false)},
		Sites: []config.Site{
			{Name: "audit", Hosts: []string{"audit.localhost"}, Upstream: upstream, Widget: config.Widget{Enabled: boolp(false)},
				Masking: config.SiteMasking{
					Selectors:  []string{".pii-mask", `input[type="password"]`},
					Attributes: []string{"data-private", "data-sensitive=yes"},
				}},
			{Name: "plain", Hosts: []string{"plain.localhost"}, Upstream: upstream},
		},
	}
}

// auditPage has a sensitive field no rule covers (ssn), one that looks
// sensitive only by its label (iban2, whose mask attribute has the wrong
// value), fields covered by a selector, an attribute on an ancestor, an
// attribute with its value and a selector for passwords, and fields that
// are not sensitive. late.js renders a date-of-birth field when asked.
const auditPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pay</title><script src="/late.js"></script></head>
<body><form id="pay">
<label>Social Security Number <input name="ssn" value="` + prefilledSSN + `"></label>
<label>Notes <input name="notes"></label>
<label>Email <input name="email" type="email"></label>
<label>Card number <input name="card" class="pii-mask"></label>
<div data-private><label>Passport number <input name="passport"></label></div>
<label>Password <input type="password" name="pw"></label>
<label>IBAN <input name="iban" data-sensitive="yes"></label>
<label>IBAN (second account) <input name="iban2" data-sensitive="no"></label>
</form><div id="late"></div></body></html>`

const lateJS = `window.__renderLate = function () {
  var f = document.createElement("form"); f.id = "profile";
  var l = document.createElement("label"); l.textContent = "Date of birth ";
  var i = document.createElement("input"); i.name = "birth";
  l.appendChild(i); f.appendChild(l); document.getElementById("late").appendChild(f);
};`

// bigPage has 5,000 elements: 500 rows of ten, each with a labelled
// input; every 50th looks like an SSN field, every 100th is masked.
func bigPage() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Big</title></head><body>`)
	for i := range 500 {
		name := fmt.Sprintf("field_%d", i)
		class := ""
		if i%50 == 0 {
			name = fmt.Sprintf("ssn_%d", i)
		}
		if i%100 == 0 {
			class = ` class="pii-mask"`
		}
		fmt.Fprintf(&b, `<div class="row"><label>Field %d <input name="%s"%s></label><span>text</span><p>para <a href="#">link</a> <b>b</b> <i>i</i> <em>em</em> <strong>s</strong></p></div>`, i, name, class)
	}
	b.WriteString(`</body></html>`)
	return b.String()
}

func auditUpstream() http.Handler {
	mux := http.NewServeMux()
	html := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, body)
		}
	}
	mux.HandleFunc("GET /form", html(auditPage))
	mux.HandleFunc("GET /snippets", html(auditSnippets))
	mux.HandleFunc("GET /big", html(bigPage()))
	mux.HandleFunc("GET /other", html(`<!doctype html><html><head><title>Other</title></head><body><p>Another site.</p></body></html>`))
	// The SSN page under the kinds of policy the other browser tests use;
	// the report must get through each (the CSP merge allows the prefix).
	mux.HandleFunc("GET /csp/{kind}", func(w http.ResponseWriter, r *http.Request) {
		policy := map[string]string{
			"strict":        "default-src 'self'; script-src 'nonce-" + newNonce() + "' 'strict-dynamic'; object-src 'none'; base-uri 'none'",
			"allowlist":     "default-src 'none'; script-src 'self'; connect-src https://api.example.com; form-action 'self'",
			"trusted-types": "require-trusted-types-for 'script'; trusted-types cobrowse-proxy",
		}[r.PathValue("kind")]
		w.Header().Set("Content-Security-Policy", policy)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>CSP</title></head>
<body><form id="pay"><label>SSN <input name="ssn"></label></form></body></html>`)
	})
	mux.HandleFunc("GET /embedded", html(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Embedded payment</title></head>
<body><form id="embedded"><label>Card security code <input name="csc"></label></form></body></html>`))
	mux.HandleFunc("GET /frame", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Frame</title></head>
<body><iframe src="http://audit.localhost:`+r.URL.Query().Get("port")+`/embedded" title="Payment"></iframe></body></html>`)
	})
	mux.HandleFunc("GET /late.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, lateJS)
	})
	return mux
}

// record keeps every request (bodies up to 64 KiB) with its status.
func (e *auditEnv) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		e.mu.Lock()
		e.reqs = append(e.reqs, seen{Host: r.Host, URI: r.URL.RequestURI(), Origin: r.Header.Get("Origin"),
			FetchSite: r.Header.Get("Sec-Fetch-Site"), Body: string(body), Status: sw.code})
		e.mu.Unlock()
		select {
		case e.notify <- struct{}{}:
		default:
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// waitFor waits (10 s at most) until cond holds for the requests so far,
// and returns them.
func (e *auditEnv) waitFor(what string, cond func([]seen) bool) []seen {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		reqs := slices.Clone(e.reqs)
		e.mu.Unlock()
		if cond(reqs) {
			return reqs
		}
		select {
		case <-e.notify:
		case <-deadline:
			e.t.Fatalf("waiting for %s; requests: %+v", what, reqs)
		}
	}
}

// reported lists the fields in the accepted mask reports of host, as
// "kind selector", sorted.
func reported(reqs []seen, host string) []string {
	var out []string
	for _, r := range reqs {
		if !strings.HasSuffix(r.URI, "/mask-report") || r.Status != http.StatusNoContent || !strings.HasPrefix(r.Host, host+":") {
			continue
		}
		var rep struct {
			Fields []struct{ Kind, Selector string }
		}
		json.Unmarshal([]byte(r.Body), &rep)
		for _, f := range rep.Fields {
			out = append(out, f.Kind+" "+f.Selector)
		}
	}
	sort.Strings(out)
	return out
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	chrome := chromePath(t)
	e := &auditEnv{t: t, reg: prometheus.NewRegistry(), notify: make(chan struct{}, 1)}

	cdnCert, spki := selfSigned(t, cdnHost)
	cdn := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(fakeSDK)
	}))
	cdn.TLS = &tls.Config{Certificates: []tls.Certificate{cdnCert}}
	cdn.StartTLS()
	t.Cleanup(cdn.Close)
	_, cdnPort, _ := net.SplitHostPort(cdn.Listener.Addr().String())

	upstream := serve(t, auditUpstream())
	cfg := auditConfig(upstream.URL)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	e.shared = server.NewShared(slog.New(slog.DiscardHandler), metrics.New(e.reg, "test"), encoding.New(encoding.Options{}))
	h, err := e.shared.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	_, e.port, _ = net.SplitHostPort(ln.Addr().String())
	s := httptest.NewUnstartedServer(e.record(h))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP "+cdnHost+":443 127.0.0.1:"+cdnPort),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	e.ctx = bctx
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: startScript}); err != nil {
		t.Fatal(err)
	}
	return e
}

// browser adapts auditEnv to env's helpers (eval, wait).
func (e *auditEnv) browser() *env { return &env{t: e.t, ctx: e.ctx} }

// A page's unmasked SSN field and a field rendered later are reported and
// counted; masked fields (selector, ancestor attribute, attribute value)
// and ordinary ones are not; what the customer typed, the prefilled value
// and the query never reach the proxy; the report endpoint refuses a
// cross-site page.
func TestMaskAudit(t *testing.T) {
	e := newAuditEnv(t)
	b := e.browser()
	b.do(chromedp.Navigate(e.url("audit.localhost", "/form?ref="+querySecret)))
	b.do(chromedp.SendKeys(chromedp.CSS(`input[name="ssn"]`), typedSSN),
		chromedp.SendKeys(chromedp.CSS(`input[name="notes"]`), typedNote))

	ssn := `ssn form#pay input[name="ssn"]`
	iban := `iban form#pay input[name="iban2"]`
	dob := `date_of_birth form#profile input[name="birth"]`
	e.waitFor("the SSN field's report", func(r []seen) bool { return slices.Contains(reported(r, "audit.localhost"), ssn) })
	b.do(chromedp.Evaluate[chromedp.Void](`window.__renderLate()`))
	reqs := e.waitFor("the late field's report", func(r []seen) bool { return slices.Contains(reported(r, "audit.localhost"), dob) })

	if got, want := reported(reqs, "audit.localhost"), []string{dob, iban, ssn}; !slices.Equal(got, want) {
		t.Errorf("reported %q, want %q (each once; masked and ordinary fields not at all)", got, want)
	}
	for _, r := range reqs {
		for _, secret := range []string{typedSSN, typedNote, prefilledSSN, querySecret} {
			if strings.Contains(r.URI, secret) && !strings.HasPrefix(r.URI, "/form?") || strings.Contains(r.Body, secret) {
				t.Errorf("%q left the page: %s %s %s", secret, r.Host, r.URI, r.Body)
			}
		}
		if strings.HasSuffix(r.URI, "/mask-report") && !strings.Contains(r.Body, `"path":"/form"`) {
			t.Errorf("report without the path /form: %s", r.Body)
		}
	}

	// The metric, by the site the report came to.
	for kind, want := range map[string]float64{"ssn": 1, "iban": 1, "date_of_birth": 1, "passport": 0, "card_number": 0, "password": 0} {
		if got := counterValue(t, e.reg, "audit", kind); got != want {
			t.Errorf("unmasked_fields_total{site=audit,kind=%s} = %v, want %v", kind, got, want)
		}
	}

	// The admin listing has the three gaps, with a selector to paste.
	rec := httptest.NewRecorder()
	e.shared.Audit.Admin().ServeHTTP(rec, httptest.NewRequest("GET", "/mask-audit?site=audit", nil))
	var l maskaudit.Listing
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || len(l.Sites) != 1 || l.Sites[0].Gaps != 3 {
		t.Fatalf("admin listing (%v): %s", err, rec.Body)
	}
	for _, g := range l.Sites[0].Top {
		if g.Path != "/form" || g.Hits != 1 || !strings.HasPrefix(g.Suggest, "- 'form#") {
			t.Errorf("gap %+v", g)
		}
	}

	// A page of another site posting a report: refused.
	b.do(chromedp.Navigate(e.url("plain.localhost", "/other")))
	b.do(chromedp.Evaluate[chromedp.Void](`fetch(` + jsString(e.url("audit.localhost", "/__cobrowse/mask-report")) + `, {method: "POST", mode: "no-cors",
	  body: JSON.stringify({path: "/x", fields: [{kind: "ssn", selector: "#forged"}]})}).catch(() => {})`))
	reqs = e.waitFor("the cross-site report", func(r []seen) bool {
		return slices.ContainsFunc(r, func(s seen) bool { return strings.Contains(s.Body, "#forged") })
	})
	for _, r := range reqs {
		if strings.Contains(r.Body, "#forged") && (r.Status != http.StatusForbidden || r.Origin != e.url("plain.localhost", "")) {
			t.Errorf("cross-site report: status %d, Origin %q, Sec-Fetch-Site %q; want 403", r.Status, r.Origin, r.FetchSite)
		}
	}
	if got := counterValue(t, e.reg, "audit", "ssn"); got != 1 {
		t.Errorf("the refused report was counted: ssn = %v", got)
	}
}

// The audit's script loads and its report gets through under a strict
// nonce-based policy, a host allow-list whose connect-src leaves out the
// page's own origin, and enforced Trusted Types, with no violation.
func TestMaskAuditUnderCSP(t *testing.T) {
	e := newAuditEnv(t)
	b := e.browser()
	for _, kind := range []string{"strict", "allowlist", "trusted-types"} {
		b.do(chromedp.Navigate(e.url("audit.localhost", "/csp/"+kind)))
		e.waitFor("the report from the "+kind+" page", func(r []seen) bool {
			return slices.ContainsFunc(r, func(s seen) bool {
				return s.Status == http.StatusNoContent && strings.Contains(s.Body, `"path":"/csp/`+kind+`"`)
			})
		})
		if v := eval[[]map[string]any](b, `window.__cspViolations`); len(v) > 0 {
			t.Errorf("%s page: securitypolicyviolation fired: %v", kind, v)
		}
	}
}

// In an iframe (another site's page embedding audit.localhost), the
// iframe variant of bootstrap.js runs the audit too and reports to the
// iframe's own origin.
func TestMaskAuditInIframe(t *testing.T) {
	e := newAuditEnv(t)
	b := e.browser()
	b.do(chromedp.Navigate(e.url("plain.localhost", "/frame?port="+e.port)))
	reqs := e.waitFor("the iframe's report", func(r []seen) bool {
		return slices.Contains(reported(r, "audit.localhost"), `card_cvc form#embedded input[name="csc"]`)
	})
	for _, r := range reqs {
		if strings.HasSuffix(r.URI, "/bootstrap.js") || strings.Contains(r.URI, "/bootstrap.js?") {
			if strings.HasPrefix(r.Host, "audit.localhost:") && !strings.Contains(r.URI, "frame=1") {
				t.Errorf("the iframe loaded %s, want the iframe variant", r.URI)
			}
		}
	}
	if got := reported(reqs, "plain.localhost"); len(got) != 0 {
		t.Errorf("the embedding page reported %q", got)
	}
}

// counterValue reads cobrowse_proxy_unmasked_fields_total{site,kind} (0 if
// absent).
func counterValue(t *testing.T, reg *prometheus.Registry, site, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cobrowse_proxy_unmasked_fields_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["site"] == site && labels["kind"] == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// The classifier on form markup seen in the wild (testdata/audit-snippets.html):
// every field gets the kind its data-want names, and each reported
// selector finds exactly its field.
func TestMaskAuditClassifier(t *testing.T) {
	e := newAuditEnv(t)
	b := e.browser()
	b.do(chromedp.Navigate(e.url("plain.localhost", "/snippets")))
	b.wait("the audit", `window.CobrowseProxy && window.CobrowseProxy.audit`)
	type row struct {
		HTML, Want, Got, Selector string
		Matches                   int
	}
	rows := eval[[]row](b, `(() => {
	  const got = new Map();
	  for (const f of CobrowseProxy.audit.find()) {
	    const els = document.querySelectorAll(f.selector);
	    for (const el of els) got.set(el, {kind: f.kind, sel: f.selector, n: els.length});
	  }
	  return [...document.querySelectorAll("[data-want]")].map(el => { const g = got.get(el) || {kind: "", sel: "", n: 0};
	    return {HTML: el.outerHTML.slice(0, 140), Want: el.dataset.want, Got: g.kind, Selector: g.sel, Matches: g.n}; });
	})()`)
	if len(rows) < 40 {
		t.Fatalf("%d fields on the page", len(rows))
	}
	for _, r := range rows {
		if r.Got != r.Want {
			t.Errorf("%s: classified %q, want %q", r.HTML, r.Got, r.Want)
		}
		if r.Want != "" && r.Matches != 1 {
			t.Errorf("%s: its selector matches %d elements, want 1", r.HTML, r.Matches)
		}
		// Ready to paste: config validation parses selectors with cascadia.
		if _, err := cascadia.ParseGroup(r.Selector); r.Selector != "" && err != nil {
			t.Errorf("selector %s would be refused by the config: %v", r.Selector, err)
		}
	}
}

// The audit's cost: one scan (find) of a page with 5,000 elements, 500 of
// them labelled inputs, timed in the page with performance.now(). Logged,
// not asserted (go test -v -run MaskAuditCost ./internal/browsertest/).
func TestMaskAuditCost(t *testing.T) {
	e := newAuditEnv(t)
	b := e.browser()
	b.do(chromedp.Navigate(e.url("audit.localhost", "/big")))
	b.wait("the audit", `window.CobrowseProxy && window.CobrowseProxy.audit`)
	res := eval[struct {
		Elements, Found int
		Ms              []float64
	}](b, `(() => {
	  const ms = []; let found = 0;
	  for (let i = 0; i < 20; i++) { const t0 = performance.now(); found = CobrowseProxy.audit.find().length; ms.push(performance.now() - t0); }
	  return {Elements: document.body.getElementsByTagName("*").length, Found: found, Ms: ms};
	})()`)
	if res.Found != 5 {
		t.Errorf("found %d unmasked SSN fields, want 5 (10 look like SSNs, 5 are masked)", res.Found)
	}
	first := res.Ms[0]
	sorted := slices.Clone(res.Ms)
	slices.Sort(sorted)
	t.Logf("masking audit, one scan of %d elements (500 inputs): first %.2f ms, median %.2f ms, max %.2f ms over %d scans (Chromium headless)",
		res.Elements, first, sorted[len(sorted)/2], sorted[len(sorted)-1], len(sorted))
}
