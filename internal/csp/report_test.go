package csp

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// counter reads one series of a CounterVec.
func counter(t *testing.T, v *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	return testutil.ToFloat64(v.WithLabelValues(labels...))
}

func seriesCount(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type reportEnv struct {
	h    *ReportHandler
	reg  *prometheus.Registry
	logs *bytes.Buffer
	now  time.Time
}

func newReportEnv() *reportEnv {
	e := &reportEnv{reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}, now: time.Unix(1_700_000_000, 0)}
	e.h = &ReportHandler{
		Site:       "shop",
		Sources:    DefaultSources(),
		KnownHosts: []string{"us01-zcb.zoom.us"},
		Prefix:     "/__cobrowse",
		Metrics:    NewMetrics(e.reg),
		Logger:     slog.New(slog.NewJSONHandler(e.logs, nil)),
		Now:        func() time.Time { return e.now },
		ClientAddr: func(r *http.Request) netip.Addr {
			a, _ := netip.ParseAddr(r.Header.Get("X-Test-IP"))
			return a
		},
	}
	return e
}

func (e *reportEnv) post(ip, ctype, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/__cobrowse/csp-report", strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	r.Header.Set("X-Test-IP", ip)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func TestReportHandlerFormats(t *testing.T) {
	e := newReportEnv()
	// report-uri format: the SDK script blocked; the query (a token) must not be logged.
	w := e.post("1.1.1.1", "application/csp-report", `{"csp-report":{
		"document-uri":"https://shop.example.com/cart?session=secret",
		"blocked-uri":"https://us01-zcb.zoom.us/sdkapi/zcb/frame-templates/desk?access_token=eyJSECRET",
		"violated-directive":"frame-src https://x","effective-directive":"frame-src",
		"original-policy":"frame-src https://x","disposition":"enforce"}}`)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if got := counter(t, e.h.Metrics.Violations, "shop", "frame-src", "us01-zcb.zoom.us"); got != 1 {
		t.Errorf("frame-src counter = %v", got)
	}
	if l := e.logs.String(); !strings.Contains(l, `"level":"WARN"`) || !strings.Contains(l, "us01-zcb.zoom.us/sdkapi/zcb/frame-templates/desk") ||
		strings.Contains(l, "SECRET") || strings.Contains(l, "secret") {
		t.Errorf("log line: %s", l)
	}

	// Reporting API: four reports, three involve cobrowse.
	e.logs.Reset()
	w = e.post("1.1.1.1", "application/reports+json", `[
		{"type":"csp-violation","url":"https://shop.example.com/","body":{"documentURL":"https://shop.example.com/","blockedURL":"wss://us01-zcb.zoom.us/ws","effectiveDirective":"connect-src","disposition":"enforce"}},
		{"type":"csp-violation","body":{"documentURL":"https://shop.example.com/","blockedURL":"https://tracker.example/pixel","effectiveDirective":"img-src"}},
		{"type":"csp-violation","body":{"documentURL":"https://shop.example.com/","blockedURL":"inline","effectiveDirective":"style-src-elem","sourceFile":"https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0"}},
		{"type":"csp-violation","body":{"documentURL":"https://shop.example.com/p","blockedURL":"https://shop.example.com/__cobrowse/bootstrap.js?v=1","effectiveDirective":"script-src-elem"}},
		{"type":"deprecation","body":{"id":"x"}}
	]`)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	for _, c := range []struct {
		dir, host string
		want      float64
	}{
		{"connect-src", "us01-zcb.zoom.us", 1},
		{"style-src-elem", "inline", 1},
		{"script-src-elem", "self-prefix", 1},
	} {
		if got := counter(t, e.h.Metrics.Violations, "shop", c.dir, c.host); got != c.want {
			t.Errorf("%s/%s = %v, want %v", c.dir, c.host, got, c.want)
		}
	}
	if n := seriesCount(t, e.reg, "cobrowse_proxy_csp_violations_total"); n != 4 {
		t.Errorf("%d series, want 4 (the tracker violation is not counted)", n)
	}
	if n := strings.Count(e.logs.String(), "\n"); n != 3 {
		t.Errorf("%d log lines, want 3:\n%s", n, e.logs)
	}

	// Old browsers send application/json.
	if w := e.post("1.1.1.1", "application/json; charset=utf-8", `{"csp-report":{"blocked-uri":"https://zoom.us.evil.example/x","effective-directive":"script-src"}}`); w.Code != http.StatusNoContent {
		t.Errorf("application/json: %d", w.Code)
	}
	if n := seriesCount(t, e.reg, "cobrowse_proxy_csp_violations_total"); n != 4 {
		t.Errorf("a look-alike host was counted")
	}
}

func TestReportHandlerRejects(t *testing.T) {
	e := newReportEnv()
	r := httptest.NewRequest(http.MethodGet, "/__cobrowse/csp-report", nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %q", w.Code, w.Header().Get("Allow"))
	}
	if w := e.post("2.2.2.2", "text/plain", `{}`); w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", w.Code)
	}
	big := `{"csp-report":{"blocked-uri":"` + strings.Repeat("a", 70<<10) + `"}}`
	if w := e.post("2.2.2.2", "application/csp-report", big); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB: %d", w.Code)
	}
	for _, body := range []string{`nope`, `{"other":1}`, `[{"type":1}]`, ``} {
		if w := e.post("2.2.2.2", "application/csp-report", body); w.Code != http.StatusBadRequest {
			t.Errorf("%q: %d", body, w.Code)
		}
	}
}

func TestReportHandlerRateLimit(t *testing.T) {
	e := newReportEnv()
	e.h.Limiter = ratelimit.New(ratelimit.Limit{Every: time.Second, Burst: 3, MaxClients: 2}, e.h.Now)
	body := `{"csp-report":{"blocked-uri":"https://x.example/"}}`
	for i := range 3 {
		if w := e.post("3.3.3.3", "application/csp-report", body); w.Code != http.StatusNoContent {
			t.Fatalf("report %d: %d", i, w.Code)
		}
	}
	w := e.post("3.3.3.3", "application/csp-report", body)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("4th report: %d", w.Code)
	}
	if w := e.post("4.4.4.4", "application/csp-report", body); w.Code != http.StatusNoContent {
		t.Errorf("another client: %d", w.Code)
	}
	e.now = e.now.Add(1100 * time.Millisecond)
	if w := e.post("3.3.3.3", "application/csp-report", body); w.Code != http.StatusNoContent {
		t.Errorf("after a second: %d", w.Code)
	}
	if w := e.post("3.3.3.3", "application/csp-report", body); w.Code != http.StatusTooManyRequests {
		t.Errorf("one token per second: %d", w.Code)
	}

	// Beyond MaxClients a new client is still served: the limiter forgets
	// idle (then arbitrary) buckets rather than refusing newcomers.
	if w := e.post("5.5.5.5", "application/csp-report", body); w.Code != http.StatusNoContent {
		t.Errorf("third client beyond MaxClients: %d", w.Code)
	}
}

// TestReportHandlerBoundedLabels: 60 made-up Zoom hosts in 3 requests
// (the attack seen) add no label of their own, and the real CDN host keeps
// its label afterwards; labels come from KnownHosts and Sources only.
func TestReportHandlerBoundedLabels(t *testing.T) {
	e := newReportEnv()
	for req := range 3 {
		var batch []string
		for i := range 20 {
			batch = append(batch, fmt.Sprintf(`{"type":"csp-violation","body":{"blockedURL":"https://junk%d.zoom.us/x","effectiveDirective":"made-up-directive"}}`, req*20+i))
		}
		e.now = e.now.Add(time.Minute) // stay under the rate limit
		if w := e.post("6.6.6.6", "application/reports+json", "["+strings.Join(batch, ",")+"]"); w.Code != http.StatusNoContent {
			t.Fatalf("report %d: %d", req, w.Code)
		}
	}
	e.now = e.now.Add(time.Minute)
	body := `{"csp-report":{"blocked-uri":"https://US01-ZCB.zoom.us/static/x.js","effective-directive":"script-src-elem"}}`
	if w := e.post("6.6.6.6", "application/csp-report", body); w.Code != http.StatusNoContent {
		t.Fatalf("real host: %d", w.Code)
	}
	if got := counter(t, e.h.Metrics.Violations, "shop", "other", "*.zoom.us"); got != 60 {
		t.Errorf("*.zoom.us = %v, want 60", got)
	}
	if got := counter(t, e.h.Metrics.Violations, "shop", "script-src-elem", "us01-zcb.zoom.us"); got != 1 {
		t.Errorf("us01-zcb.zoom.us = %v, want 1", got)
	}
	if n := seriesCount(t, e.reg, "cobrowse_proxy_csp_violations_total"); n != 2 {
		t.Errorf("%d series, want 2", n)
	}
}

// TestReportHandlerBoundedLog: no field of a report makes a log line long.
func TestReportHandlerBoundedLog(t *testing.T) {
	e := newReportEnv()
	big := strings.Repeat("A", 12000)
	body := `{"csp-report":{"blocked-uri":"https://us01-zcb.zoom.us/` + big + `","document-uri":"https://shop.example/` + big +
		`","source-file":"` + big + `","effective-directive":"script-src","disposition":"` + big + `"}}`
	if w := e.post("7.7.7.7", "application/csp-report", body); w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	if len(lines) != 1 || len(lines[0]) > 1500 {
		t.Errorf("%d log lines, the first %d bytes long, want one under 1500:\n%.300s", len(lines), len(lines[0]), lines[0])
	}
}

func TestMetricsObserveMerge(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	r := MergeHeader("script-src 'nonce-a' 'strict-dynamic', img-src 'self', frame-ancestors 'none'", testOptions())
	m.ObserveMerge("shop", r)
	for out, want := range map[Outcome]float64{OutcomeNonceUsed: 1, OutcomeMerged: 1, OutcomeUnchanged: 1, OutcomeSkipped: 0} {
		if got := counter(t, m.Policies, "shop", string(out)); got != want {
			t.Errorf("%s = %v, want %v", out, got, want)
		}
	}
	(*Metrics)(nil).ObserveMerge("shop", r) // a nil Metrics counts nothing
}

// A Reporting API batch counts and logs at most maxReportsPerRequest
// violations for one rate-limit token.
func TestReportHandlerBatchCap(t *testing.T) {
	e := newReportEnv()
	entry := `{"type":"csp-violation","body":{"blockedURL":"https://us01-zcb.zoom.us/x","effectiveDirective":"connect-src"}}`
	batch := "[" + strings.Repeat(entry+",", 99) + entry + "]"
	if w := e.post("7.7.7.7", "application/reports+json", batch); w.Code != http.StatusNoContent {
		t.Fatalf("batch: %d", w.Code)
	}
	if got := counter(t, e.h.Metrics.Violations, "shop", "connect-src", "us01-zcb.zoom.us"); got != maxReportsPerRequest {
		t.Errorf("counted %v violations from one batch of 100, want %d", got, maxReportsPerRequest)
	}
}

// BenchmarkReportHandler: one Zoom violation report, end to end through
// the handler (parse, classify, count, log).
func BenchmarkReportHandler(b *testing.B) {
	e := newReportEnv()
	e.h.Logger = slog.New(slog.DiscardHandler)
	e.h.Limiter = ratelimit.New(ratelimit.Limit{Every: time.Nanosecond, Burst: 1 << 30, MaxClients: 10}, nil)
	body := `{"csp-report":{"document-uri":"https://shop.example.com/","blocked-uri":"https://eu01-zcb.zoom.us/x.js","effective-directive":"script-src-elem"}}`
	b.ReportAllocs()
	for b.Loop() {
		if w := e.post("8.8.8.8", "application/csp-report", body); w.Code != http.StatusNoContent {
			b.Fatal(w.Code)
		}
	}
}

// TestReportHandlerInvolved: which violations count. A blocked Zoom host or
// reserved-prefix URL counts whatever caused it; any other blocked URL
// counts when the loader or the SDK caused it (its source file) or the
// sample shows the reserved prefix; without a Prefix only Zoom counts.
func TestReportHandlerInvolved(t *testing.T) {
	tests := []struct {
		name                            string
		prefix                          string
		blocked, source, sample, direct string
		label                           string // "" when not counted
	}{
		{"zoom host blocked, from the site's script", "/__cobrowse", "https://us01-zcb.zoom.us/x.js", "https://shop.example.com/app.js", "", "script-src-elem", "us01-zcb.zoom.us"},
		{"other zoom host: the source's label", "/__cobrowse", "https://eu01.zoom.us/x.js", "", "", "script-src-elem", "*.zoom.us"},
		{"inline from the loader", "/__cobrowse", "inline", "https://shop.example.com/__cobrowse/bootstrap.js", "", "script-src-elem", "inline"},
		{"inline from the SDK", "/__cobrowse", "eval", "https://us01-zcb.zoom.us/sdk.js", "", "script-src", "eval"},
		{"inline whose sample shows the prefix", "/__cobrowse", "inline", "https://shop.example.com/app.js", "fetch('/__cobrowse/token')", "script-src-elem", "inline"},
		{"inline from the site", "/__cobrowse", "inline", "https://shop.example.com/app.js", "fetch('/api/x')", "script-src-elem", ""},
		{"a data: image from the SDK", "/__cobrowse", "data:image/png;base64,AAAA", "https://us01-zcb.zoom.us/sdk.js", "", "img-src", "data"},
		{"a blob: worker from the SDK", "/__cobrowse", "blob:https://shop.example.com/1234", "https://us01-zcb.zoom.us/sdk.js", "", "worker-src", "blob"},
		{"a junk blocked value from the SDK", "/__cobrowse", "javascript", "https://us01-zcb.zoom.us/sdk.js", "", "script-src", "other"},
		{"a data: image from the site", "/__cobrowse", "data:image/png;base64,AAAA", "https://shop.example.com/app.js", "", "img-src", ""},
		{"source file not a URL", "/__cobrowse", "inline", "/__cobrowse/bootstrap.js", "", "script-src-elem", ""},
		{"no prefix: the site's own script is not the loader", "", "inline", "https://shop.example.com/x.js", "", "script-src-elem", ""},
		{"no prefix: a sample with a slash is not the loader", "", "inline", "", "a/b", "script-src-elem", ""},
		{"no prefix: a Zoom source file still counts", "", "inline", "https://us01-zcb.zoom.us/sdk.js", "a/b", "script-src-elem", "inline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newReportEnv()
			e.h.Prefix = tt.prefix
			body := fmt.Sprintf(`{"csp-report":{"document-uri":"https://shop.example.com/","blocked-uri":%q,"source-file":%q,"script-sample":%q,"effective-directive":%q}}`,
				tt.blocked, tt.source, tt.sample, tt.direct)
			if w := e.post("9.9.9.9", "application/csp-report", body); w.Code != http.StatusNoContent {
				t.Fatalf("status %d", w.Code)
			}
			n := seriesCount(t, e.reg, "cobrowse_proxy_csp_violations_total")
			switch {
			case tt.label == "" && n != 0:
				t.Errorf("counted (%d series), want not counted", n)
			case tt.label != "" && (n != 1 || counter(t, e.h.Metrics.Violations, "shop", tt.direct, tt.label) != 1):
				t.Errorf("%d series, want one of %s/%s", n, tt.direct, tt.label)
			}
		})
	}
}

// TestStripURL: log lines carry no user info, query or fragment, and no
// more than 200 bytes of a URL.
func TestStripURL(t *testing.T) {
	long := "https://shop.example.com/" + strings.Repeat("a", 300)
	tests := []struct{ in, want string }{
		{"https://user:pw@us01-zcb.zoom.us/x?access_token=s#frag", "https://us01-zcb.zoom.us/x"},
		{"https://us01-zcb.zoom.us/x?", "https://us01-zcb.zoom.us/x"},
		{"https://us01-zcb.zoom.us/x#a?b", "https://us01-zcb.zoom.us/x"},
		{"inline", "inline"},
		{"data:image/png?x=1", "data:image/png"},
		{"/rel/path?q=1", "/rel/path"},
		{"%zz?x=1#y", "%zz"},
		{long, long[:200]},
		{long[:200], long[:200]},
		{long[:199], long[:199]},
	}
	for _, tt := range tests {
		if got := stripURL(tt.in); got != tt.want {
			t.Errorf("stripURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
