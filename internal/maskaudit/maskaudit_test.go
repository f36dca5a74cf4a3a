package maskaudit

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.yaml.in/yaml/v3"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

const host = "shop.example"

// post sends body to h as a same-origin page of http://shop.example would,
// with hdr overriding or (empty value) removing headers.
func post(t *testing.T, h http.Handler, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://"+host+"/__cobrowse/mask-report", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", "http://"+host)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func fields(n int, kind string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"kind":"` + kind + `","selector":"input[name=f` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `]"}`)
	}
	return `{"path":"/pay","fields":[` + b.String() + `]}`
}

const ssnReport = `{"path":"/pay","fields":[{"kind":"ssn","selector":"form#pay input[name=\"ssn\"]"}]}`

func TestReportHandler(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   string
		hdr    map[string]string
		code   int
	}{
		{"accepted", "POST", ssnReport, nil, 204},
		{"every kind", "POST", `{"path":"/","fields":[` + func() string {
			var parts []string
			for _, k := range Kinds() {
				parts = append(parts, `{"kind":"`+k+`","selector":"#`+k+`"}`)
			}
			return strings.Join(parts, ",")
		}() + `]}`, nil, 204},
		{"same origin without Sec-Fetch-Site", "POST", ssnReport, map[string]string{"Sec-Fetch-Site": ""}, 204},
		{"json with charset", "POST", ssnReport, map[string]string{"Content-Type": "application/json; charset=utf-8"}, 204},
		{"GET", "GET", "", nil, 405},
		{"cross-site", "POST", ssnReport, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site other origin", "POST", ssnReport, map[string]string{"Origin": "http://other.shop.example", "Sec-Fetch-Site": "same-site"}, 403},
		{"other origin, no Sec-Fetch-Site", "POST", ssnReport, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": ""}, 403},
		{"other scheme", "POST", ssnReport, map[string]string{"Origin": "https://" + host, "Sec-Fetch-Site": ""}, 403},
		{"no origin at all (curl)", "POST", ssnReport, map[string]string{"Origin": "", "Sec-Fetch-Site": ""}, 403},
		{"form post", "POST", ssnReport, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"oversized", "POST", `{"path":"/` + strings.Repeat("a", MaxBody) + `","fields":[]}`, nil, 413},
		{"too many fields", "POST", fields(MaxFields+1, "ssn"), nil, 400},
		{"most fields", "POST", fields(MaxFields, "ssn"), nil, 204},
		{"no fields", "POST", `{"path":"/pay","fields":[]}`, nil, 400},
		{"unknown kind", "POST", `{"path":"/pay","fields":[{"kind":"shoe_size","selector":"#s"}]}`, nil, 400},
		{"kind in other case", "POST", `{"path":"/pay","fields":[{"kind":"SSN","selector":"#s"}]}`, nil, 400},
		{"a value member", "POST", `{"path":"/pay","fields":[{"kind":"ssn","selector":"#s","value":"078-05-1120"}]}`, nil, 400},
		{"a site member", "POST", `{"site":"other","path":"/pay","fields":[{"kind":"ssn","selector":"#s"}]}`, nil, 400},
		{"empty selector", "POST", `{"path":"/pay","fields":[{"kind":"ssn","selector":""}]}`, nil, 400},
		{"long selector", "POST", `{"path":"/pay","fields":[{"kind":"ssn","selector":"#` + strings.Repeat("s", MaxSelector) + `"}]}`, nil, 400},
		{"longest selector", "POST", `{"path":"/pay","fields":[{"kind":"ssn","selector":"#` + strings.Repeat("s", MaxSelector-1) + `"}]}`, nil, 204},
		{"control character in selector", "POST", `{"path":"/pay","fields":[{"kind":"ssn","selector":"#s\n"}]}`, nil, 400},
		{"relative path", "POST", `{"path":"pay","fields":[{"kind":"ssn","selector":"#s"}]}`, nil, 400},
		{"full URL as path", "POST", `{"path":"https://x.example/pay","fields":[{"kind":"ssn","selector":"#s"}]}`, nil, 400},
		{"not JSON", "POST", `kind=ssn`, nil, 400},
		{"two objects", "POST", ssnReport + ssnReport, nil, 400},
		{"array", "POST", `[` + ssnReport + `]`, nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			h := s.Handler("shop", HandlerOptions{})
			r := httptest.NewRequest(tt.method, "http://"+host+"/__cobrowse/mask-report", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Origin", "http://"+host)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			for k, v := range tt.hdr {
				if v == "" {
					r.Header.Del(k)
				} else {
					r.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.code)
			}
			if tt.code == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow %q", w.Header().Get("Allow"))
			}
			kept := s.listing("", maxTop)
			if tt.code != 204 && len(kept.Sites) != 0 {
				t.Errorf("refused report kept: %+v", kept)
			}
			if tt.code == 204 && (len(kept.Sites) != 1 || kept.Sites[0].Gaps == 0) {
				t.Errorf("accepted report not kept: %+v", kept)
			}
		})
	}
}

// The scheme comes from the caller (TLS may end at a trusted proxy).
func TestReportHandlerScheme(t *testing.T) {
	s := New(Options{})
	h := s.Handler("shop", HandlerOptions{Scheme: func(*http.Request) string { return "https" }})
	if w := post(t, h, ssnReport, map[string]string{"Origin": "https://" + host}); w.Code != 204 {
		t.Errorf("https origin behind a TLS-ending proxy: %d", w.Code)
	}
	if w := post(t, h, ssnReport, map[string]string{"Origin": "http://" + host}); w.Code != 403 {
		t.Errorf("http origin when the client used https: %d", w.Code)
	}
}

// The path is kept without query or fragment, cut to MaxPath bytes.
func TestReportPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/pay", "/pay"},
		{"/pay?ssn=078-05-1120", "/pay"},
		{"/pay#ssn", "/pay"},
		{"/pay/?a=1#b", "/pay/"},
		{"/" + strings.Repeat("p", 300), "/" + strings.Repeat("p", MaxPath-1)},
		{"/" + strings.Repeat("p", MaxPath-2) + "é", "/" + strings.Repeat("p", MaxPath-2)},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(report{Path: tt.in, Fields: []field{{"ssn", "#ssn"}}})
		rep, err := parseReport(body)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if rep.Path != tt.want {
			t.Errorf("path %q kept as %q, want %q", tt.in, rep.Path, tt.want)
		}
	}
}

// Each client address has its own bucket; past it, 429 with Retry-After.
func TestReportRateLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := New(Options{Rate: ratelimit.Limit{Every: time.Minute, Burst: 2, MaxClients: 10}, Now: func() time.Time { return now }})
	client := netip.MustParseAddr("192.0.2.1")
	h := s.Handler("shop", HandlerOptions{ClientAddr: func(*http.Request) netip.Addr { return client }})
	other := s.Handler("other", HandlerOptions{ClientAddr: func(*http.Request) netip.Addr { return client }})
	for i, want := range []int{204, 204, 429} {
		if w := post(t, h, ssnReport, nil); w.Code != want {
			t.Fatalf("report %d: %d, want %d", i, w.Code, want)
		} else if want == 429 && w.Header().Get("Retry-After") != "60" {
			t.Errorf("Retry-After %q, want 60", w.Header().Get("Retry-After"))
		}
	}
	if w := post(t, other, ssnReport, nil); w.Code != 429 {
		t.Errorf("the same client on another site: %d, want 429 (one limit per client)", w.Code)
	}
	client = netip.MustParseAddr("192.0.2.2")
	if w := post(t, h, ssnReport, nil); w.Code != 204 {
		t.Errorf("another client: %d, want 204", w.Code)
	}
	client = netip.MustParseAddr("192.0.2.1")
	now = now.Add(time.Minute)
	if w := post(t, h, ssnReport, nil); w.Code != 204 {
		t.Errorf("after a minute: %d, want 204", w.Code)
	}
}

// A gap is logged once, however often it is reported; the metric counts
// every field of every report, under the handler's site.
func TestReportDedupAndMetric(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	s := New(Options{Registerer: reg, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	shop := s.Handler("shop", HandlerOptions{})
	bank := s.Handler("bank", HandlerOptions{})
	two := `{"path":"/pay","fields":[{"kind":"ssn","selector":"#ssn"},{"kind":"card_cvc","selector":"#cvc"},{"kind":"ssn","selector":"#ssn"}]}`
	for range 3 {
		if w := post(t, shop, two, nil); w.Code != 204 {
			t.Fatalf("status %d", w.Code)
		}
	}
	if w := post(t, shop, `{"path":"/pay?x=1","fields":[{"kind":"ssn","selector":"#ssn"}]}`, nil); w.Code != 204 {
		t.Fatalf("status %d", w.Code)
	}
	if w := post(t, bank, `{"path":"/pay","fields":[{"kind":"ssn","selector":"#ssn"}]}`, nil); w.Code != 204 {
		t.Fatalf("status %d", w.Code)
	}
	for _, c := range []struct {
		site, kind string
		want       float64
	}{{"shop", "ssn", 4}, {"shop", "card_cvc", 3}, {"bank", "ssn", 1}} {
		if got := testutil.ToFloat64(s.unmasked.WithLabelValues(c.site, c.kind)); got != c.want {
			t.Errorf("unmasked_fields_total{site=%s,kind=%s} = %v, want %v", c.site, c.kind, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "cobrowse_proxy_unmasked_fields_total"); n != 3 {
		t.Errorf("%d series registered, want 3", n)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want one per gap (3):\n%s", len(lines), logs.String())
	}
	first := lines[0]
	if first["level"] != "INFO" || first["site"] != "shop" || first["kind"] != "ssn" || first["path"] != "/pay" || first["selector"] != "#ssn" {
		t.Errorf("first log line %v", first)
	}
	l := s.listing("shop", maxTop)
	if len(l.Sites) != 1 || len(l.Sites[0].Top) != 2 {
		t.Fatalf("listing %+v", l)
	}
	if g := l.Sites[0].Top[0]; g.Selector != "#ssn" || g.Hits != 4 || g.Kind != "ssn" {
		t.Errorf("top gap %+v, want #ssn with 4 hits", g)
	}
}

// Past MaxGapsPerSite or MaxGaps, new gaps are counted but not kept, and
// the store says so once.
func TestStoreBounds(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), MaxGapsPerSite: 2, MaxGaps: 3})
	shop, bank := s.Handler("shop", HandlerOptions{}), s.Handler("bank", HandlerOptions{})
	send := func(h http.Handler, path string) {
		t.Helper()
		if w := post(t, h, `{"path":"`+path+`","fields":[{"kind":"ssn","selector":"#ssn"}]}`, nil); w.Code != 204 {
			t.Fatalf("status %d", w.Code)
		}
	}
	for _, p := range []string{"/a", "/b", "/c", "/d", "/a"} {
		send(shop, p)
	}
	send(bank, "/a")
	send(bank, "/b") // the global bound: 3
	l := s.listing("", maxTop)
	if len(l.Sites) != 2 || l.Sites[0].Site != "bank" || l.Sites[1].Site != "shop" {
		t.Fatalf("listing %+v", l)
	}
	if b, sh := l.Sites[0], l.Sites[1]; sh.Gaps != 2 || sh.Dropped != 2 || b.Gaps != 1 || b.Dropped != 1 {
		t.Errorf("shop kept %d dropped %d, bank kept %d dropped %d; want 2/2 and 1/1", sh.Gaps, sh.Dropped, b.Gaps, b.Dropped)
	}
	if sh := l.Sites[1]; sh.Top[0].Path != "/a" || sh.Top[0].Hits != 2 {
		t.Errorf("a kept gap is still counted: %+v", sh.Top[0])
	}
	if n := strings.Count(logs.String(), "gap store full"); n != 2 {
		t.Errorf("%d store-full lines, want one per site:\n%s", n, logs.String())
	}
	if testutil.ToFloat64(s.unmasked.WithLabelValues("shop", "ssn")) != 5 {
		t.Errorf("dropped gaps must still be counted")
	}
}

// FuzzReport: whatever the body, the parser does not panic, and a report
// it accepts has only kinds from Kinds, 1 to MaxFields distinct fields,
// bounded printable selectors and a bounded path without query.
func FuzzReport(f *testing.F) {
	f.Add([]byte(ssnReport))
	f.Add([]byte(fields(MaxFields, "card_number")))
	f.Add([]byte(`{"path":"/pay?x#y","fields":[{"kind":"iban","selector":"#i"},{"kind":"iban","selector":"#i"}]}`))
	f.Add([]byte(`{"path":"/","fields":[{"kind":"ssn","selector":"#s","value":"1"}]}`))
	f.Add([]byte(`{"path":"/\u00e9","fields":[{"kind":"ssn","selector":"\u2028"}]} `))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := parseReport(body)
		if err != nil {
			return
		}
		if len(rep.Path) > MaxPath || !strings.HasPrefix(rep.Path, "/") || strings.ContainsAny(rep.Path, "?#") || !printable(rep.Path) {
			t.Errorf("path %q accepted", rep.Path)
		}
		if len(rep.Fields) == 0 || len(rep.Fields) > MaxFields {
			t.Errorf("%d fields accepted", len(rep.Fields))
		}
		seen := map[field]bool{}
		for _, fl := range rep.Fields {
			if !knownKind(fl.Kind) {
				t.Errorf("kind %q accepted", fl.Kind)
			}
			if fl.Selector == "" || len(fl.Selector) > MaxSelector || !printable(fl.Selector) {
				t.Errorf("selector %q accepted", fl.Selector)
			}
			if seen[fl] {
				t.Errorf("field %+v twice", fl)
			}
			seen[fl] = true
		}
	})
}

// A suggestion is one YAML list item whose value is the selector,
// whatever quotes and brackets the selector holds.
func TestSuggestIsYAML(t *testing.T) {
	for _, sel := range []string{`#ssn`, `form#pay input[name="ssn"]`, `input[name='tin']`, `input[aria-label="Tax: 'id' # 2"]`, `- [x]: {y}`, `input[name="a\"b"]`} {
		var got []string
		if err := yaml.Unmarshal([]byte(yamlItem(sel)), &got); err != nil || len(got) != 1 || got[0] != sel {
			t.Errorf("%s -> %s -> %q (%v)", sel, yamlItem(sel), got, err)
		}
	}
}

// The listing is JSON by default and HTML for browsers, and the HTML
// escapes what browsers reported.
func TestAdmin(t *testing.T) {
	s := New(Options{})
	shop := s.Handler("shop", HandlerOptions{})
	evil := `input[name="</td><script>alert(1)</script>"]`
	body, _ := json.Marshal(report{Path: "/pay/<img src=x onerror=alert(2)>", Fields: []field{{"ssn", evil}, {"iban", "#iban"}}})
	post(t, shop, string(body), nil)
	post(t, shop, `{"path":"/pay","fields":[{"kind":"iban","selector":"#iban"}]}`, nil)
	post(t, s.Handler("bank", HandlerOptions{}), `{"path":"/","fields":[{"kind":"tax_id","selector":"input[name='tin']"}]}`, nil)
	srv := httptest.NewServer(s.Admin())
	defer srv.Close()

	get := func(query, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/mask-audit"+query, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	res, js := get("", "")
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var l Listing
	if err := json.Unmarshal([]byte(js), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Sites) != 2 || l.Sites[0].Site != "bank" || l.Sites[1].Site != "shop" {
		t.Fatalf("sites %+v", l.Sites)
	}
	if top := l.Sites[1].Top; len(top) != 3 || top[0].Selector != "#iban" || top[0].Hits != 1 {
		t.Errorf("shop's top %+v", top)
	}
	if sug := l.Sites[0].Top[0].Suggest; sug != `- 'input[name=''tin'']'` {
		t.Errorf("suggestion %s", sug)
	}

	_, js = get("?site=bank&limit=1", "application/json")
	if err := json.Unmarshal([]byte(js), &l); err != nil || len(l.Sites) != 1 || l.Sites[0].Site != "bank" {
		t.Errorf("?site=bank: %s", js)
	}
	_, js = get("?site=shop&limit=1", "")
	if json.Unmarshal([]byte(js), &l); len(l.Sites[0].Top) != 1 || l.Sites[0].Gaps != 3 {
		t.Errorf("?limit=1: %s", js)
	}
	if res, _ := get("?limit=x", ""); res.StatusCode != 400 {
		t.Errorf("?limit=x: %d", res.StatusCode)
	}

	for _, c := range []struct {
		query, accept string
		html          bool
	}{
		{"?format=html", "", true},
		{"?format=html", "application/json", true},
		{"?format=json", "text/html", false},
		{"", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"", "application/json, text/html;q=0.5", false},
		{"", "text/html;q=0", false},
		{"", "*/*", false},
	} {
		res, body := get(c.query, c.accept)
		isHTML := strings.HasPrefix(res.Header.Get("Content-Type"), "text/html")
		if isHTML != c.html {
			t.Errorf("%s Accept %q: Content-Type %q", c.query, c.accept, res.Header.Get("Content-Type"))
			continue
		}
		if !isHTML {
			continue
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "<img") || strings.Contains(body, "</td><script") {
			t.Errorf("reported markup not escaped:\n%s", body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&lt;img src=x") {
			t.Errorf("escaped selector or path missing:\n%s", body)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("CSP %q", csp)
		}
	}

	req, _ := http.NewRequest("POST", srv.URL+"/mask-audit", nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 405 {
		t.Errorf("POST: %v %v", res, err)
	}
}

// BenchmarkReportHandler: one accepted report of three fields already
// known (the common case: the same gaps on every page view).
func BenchmarkReportHandler(b *testing.B) {
	s := New(Options{Rate: ratelimit.Limit{Every: time.Nanosecond, Burst: 1 << 30, MaxClients: 10}})
	h := s.Handler("shop", HandlerOptions{})
	body := `{"path":"/pay","fields":[{"kind":"ssn","selector":"form#pay input[name=\"ssn\"]"},{"kind":"card_cvc","selector":"#cvc"},{"kind":"iban","selector":"#iban"}]}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "http://"+host+"/__cobrowse/mask-report", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "http://"+host)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
