package inject

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// decodableTest accepts the codings internal/encoding can undo.
func decodableTest(ce string) bool {
	switch strings.ToLower(strings.TrimSpace(ce)) {
	case "", "identity", "gzip", "x-gzip", "deflate", "br", "zstd":
		return true
	}
	return false
}

func TestDecide(t *testing.T) {
	type hdr = map[string]string
	on := Policy{Enabled: true, Iframes: true}
	noIframes := Policy{Enabled: true}
	excludeAdmin := Policy{Enabled: true, PathAllowed: func(p string) bool { return !strings.HasPrefix(p, "/admin") }}

	tests := []struct {
		name   string
		method string // default GET
		path   string // default /
		reqH   hdr    // default Sec-Fetch-Dest: document
		status int    // default 200
		resH   hdr    // default Content-Type: text/html
		policy *Policy
		want   Decision
	}{
		// The common cases.
		{name: "get document", want: Decision{Inject: true}},
		{name: "post document", method: http.MethodPost, want: Decision{Inject: true}},

		// Policy.
		{name: "disabled", policy: &Policy{}, want: Decision{Reason: ReasonDisabled}},
		{name: "disabled wins over everything", policy: &Policy{Iframes: true}, method: http.MethodHead, status: 304, want: Decision{Reason: ReasonDisabled}},
		{name: "path excluded", path: "/admin/users", policy: &excludeAdmin, want: Decision{Reason: ReasonPath}},
		{name: "path allowed", path: "/shop", policy: &excludeAdmin, want: Decision{Inject: true}},
		{name: "path excluded, no sec-fetch-dest", path: "/admin", reqH: hdr{}, policy: &excludeAdmin, want: Decision{Reason: ReasonPath}},
		{name: "nil PathAllowed allows all", path: "/admin", want: Decision{Inject: true}},

		// Methods.
		{name: "head", method: http.MethodHead, want: Decision{Reason: ReasonMethod}},
		{name: "put", method: http.MethodPut, want: Decision{Reason: ReasonMethod}},
		{name: "delete", method: http.MethodDelete, want: Decision{Reason: ReasonMethod}},
		{name: "options", method: http.MethodOptions, want: Decision{Reason: ReasonMethod}},

		// Statuses: error pages are injected so a session survives a 404.
		{name: "201", status: 201, want: Decision{Inject: true}},
		{name: "404", status: 404, want: Decision{Inject: true}},
		{name: "500", status: 500, want: Decision{Inject: true}},
		{name: "503", status: 503, want: Decision{Inject: true}},
		{name: "204", status: 204, want: Decision{Reason: ReasonStatus}},
		{name: "206", status: 206, want: Decision{Reason: ReasonStatus}},
		{name: "304", status: 304, want: Decision{Reason: ReasonStatus}},
		{name: "301", status: 301, want: Decision{Reason: ReasonStatus}},
		{name: "302", status: 302, want: Decision{Reason: ReasonStatus}},
		{name: "101", status: 101, want: Decision{Reason: ReasonStatus}},
		{name: "600", status: 600, want: Decision{Reason: ReasonStatus}},

		// Content types.
		{name: "text/html charset utf-8", resH: hdr{"Content-Type": "text/html; charset=utf-8"}, want: Decision{Inject: true}},
		{name: "TEXT/HTML uppercase", resH: hdr{"Content-Type": "TEXT/HTML; CHARSET=UTF-8"}, want: Decision{Inject: true}},
		{name: "text/html no space", resH: hdr{"Content-Type": "text/html;charset=utf-8"}, want: Decision{Inject: true}},
		{name: "text/html spaces", resH: hdr{"Content-Type": "  text/html ; charset=\"utf-8\""}, want: Decision{Inject: true}},
		{name: "text/html latin1", resH: hdr{"Content-Type": "text/html; charset=iso-8859-1"}, want: Decision{Inject: true}},
		{name: "text/html shift_jis", resH: hdr{"Content-Type": "text/html; charset=Shift_JIS"}, want: Decision{Inject: true}},
		{name: "xhtml", resH: hdr{"Content-Type": "application/xhtml+xml"}, want: Decision{Inject: true}},
		{name: "xhtml charset", resH: hdr{"Content-Type": "application/xhtml+xml; charset=utf-8"}, want: Decision{Inject: true}},
		{name: "text/plain", resH: hdr{"Content-Type": "text/plain"}, want: Decision{Reason: ReasonContentType}},
		{name: "application/json", resH: hdr{"Content-Type": "application/json"}, want: Decision{Reason: ReasonContentType}},
		{name: "text/html-ish prefix", resH: hdr{"Content-Type": "text/htmlx"}, want: Decision{Reason: ReasonContentType}},
		{name: "image/svg+xml", resH: hdr{"Content-Type": "image/svg+xml"}, want: Decision{Reason: ReasonContentType}},
		{name: "missing content type", resH: hdr{}, want: Decision{Reason: ReasonContentType}},
		// Browsers render these as HTML, so they are injected.
		{name: "malformed params", resH: hdr{"Content-Type": "text/html; charset"}, want: Decision{Inject: true}},
		{name: "malformed params with wide charset", resH: hdr{"Content-Type": "text/html;;charset=utf-16"}, want: Decision{Reason: ReasonCharset}},
		{name: "utf-16", resH: hdr{"Content-Type": "text/html;charset=utf-16"}, want: Decision{Reason: ReasonCharset}},
		{name: "UTF-16LE quoted", resH: hdr{"Content-Type": `text/html; charset="UTF-16LE"`}, want: Decision{Reason: ReasonCharset}},
		{name: "utf-16be", resH: hdr{"Content-Type": "text/html; charset=utf-16be"}, want: Decision{Reason: ReasonCharset}},
		{name: "utf-32", resH: hdr{"Content-Type": "text/html; charset=UTF-32"}, want: Decision{Reason: ReasonCharset}},
		{name: "ucs-2", resH: hdr{"Content-Type": "text/html; charset=ucs-2"}, want: Decision{Reason: ReasonCharset}},
		{name: "unicode", resH: hdr{"Content-Type": "text/html; charset=unicode"}, want: Decision{Reason: ReasonCharset}},
		{name: "utf-7", resH: hdr{"Content-Type": "text/html; charset=utf-7"}, want: Decision{Reason: ReasonCharset}},
		{name: "xhtml utf-16", resH: hdr{"Content-Type": "application/xhtml+xml; charset=utf-16"}, want: Decision{Reason: ReasonCharset}},

		// Content-Disposition.
		{name: "attachment", resH: hdr{"Content-Type": "text/html", "Content-Disposition": "attachment"}, want: Decision{Reason: ReasonAttachment}},
		{name: "attachment filename", resH: hdr{"Content-Type": "text/html", "Content-Disposition": `attachment; filename="a.html"`}, want: Decision{Reason: ReasonAttachment}},
		{name: "ATTACHMENT uppercase", resH: hdr{"Content-Type": "text/html", "Content-Disposition": `ATTACHMENT; FILENAME="A.HTML"`}, want: Decision{Reason: ReasonAttachment}},
		{name: "attachment filename*", resH: hdr{"Content-Type": "text/html", "Content-Disposition": `attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.html`}, want: Decision{Reason: ReasonAttachment}},
		{name: "attachment unquoted space (malformed)", resH: hdr{"Content-Type": "text/html", "Content-Disposition": "attachment; filename=my page.html"}, want: Decision{Reason: ReasonAttachment}},
		{name: "attachment no semicolon (malformed)", resH: hdr{"Content-Type": "text/html", "Content-Disposition": "  Attachment filename=a.html"}, want: Decision{Reason: ReasonAttachment}},
		{name: "inline", resH: hdr{"Content-Type": "text/html", "Content-Disposition": "inline"}, want: Decision{Inject: true}},
		{name: "inline filename", resH: hdr{"Content-Type": "text/html", "Content-Disposition": `inline; filename="attachment.html"`}, want: Decision{Inject: true}},

		// Content-Encoding.
		{name: "gzip", resH: hdr{"Content-Type": "text/html", "Content-Encoding": "gzip"}, want: Decision{Inject: true}},
		{name: "br", resH: hdr{"Content-Type": "text/html", "Content-Encoding": "br"}, want: Decision{Inject: true}},
		{name: "compress", resH: hdr{"Content-Type": "text/html", "Content-Encoding": "compress"}, want: Decision{Reason: ReasonEncoding}},
		{name: "unknown coding", resH: hdr{"Content-Type": "text/html", "Content-Encoding": "x-custom"}, want: Decision{Reason: ReasonEncoding}},

		// Requests for fragments of HTML, by libraries that set a header.
		{name: "htmx", reqH: hdr{"HX-Request": "true", "Sec-Fetch-Dest": "empty"}, want: Decision{Reason: ReasonFragment}},
		{name: "htmx no sec-fetch", reqH: hdr{"HX-Request": "true"}, want: Decision{Reason: ReasonFragment}},
		{name: "turbo frame", reqH: hdr{"Turbo-Frame": "cart"}, want: Decision{Reason: ReasonFragment}},
		{name: "unpoly", reqH: hdr{"X-Up-Target": ".main"}, want: Decision{Reason: ReasonFragment}},
		{name: "pjax", reqH: hdr{"X-PJAX": "true"}, want: Decision{Reason: ReasonFragment}},
		{name: "jquery xhr", reqH: hdr{"X-Requested-With": "XMLHttpRequest"}, want: Decision{Reason: ReasonFragment}},
		{name: "xhr lowercase", reqH: hdr{"X-Requested-With": "xmlhttprequest"}, want: Decision{Reason: ReasonFragment}},
		{name: "x-requested-with app id", reqH: hdr{"X-Requested-With": "com.example.app"}, want: Decision{RequireDocument: true, Inject: true}},

		// Sec-Fetch-Dest.
		{name: "dest document", reqH: hdr{"Sec-Fetch-Dest": "document"}, want: Decision{Inject: true}},
		{name: "dest iframe", reqH: hdr{"Sec-Fetch-Dest": "iframe"}, want: Decision{Inject: true, Frame: true}},
		{name: "dest frame", reqH: hdr{"Sec-Fetch-Dest": "frame"}, want: Decision{Inject: true, Frame: true}},
		{name: "dest iframe, iframes off", reqH: hdr{"Sec-Fetch-Dest": "iframe"}, policy: &noIframes, want: Decision{Reason: ReasonIframe}},
		{name: "dest frame, iframes off", reqH: hdr{"Sec-Fetch-Dest": "frame"}, policy: &noIframes, want: Decision{Reason: ReasonIframe}},
		{name: "dest document, iframes off", reqH: hdr{"Sec-Fetch-Dest": "document"}, policy: &noIframes, want: Decision{Inject: true}},
		{name: "no sec-fetch-dest", reqH: hdr{}, want: Decision{Inject: true, RequireDocument: true}},
		{name: "sec-fetch-dest empty (fetch)", reqH: hdr{"Sec-Fetch-Dest": "empty"}, want: Decision{Reason: ReasonNotNavigation}},
		{name: "sec-fetch-dest script", reqH: hdr{"Sec-Fetch-Dest": "script"}, want: Decision{Reason: ReasonNotNavigation}},
		{name: "sec-fetch-dest object", reqH: hdr{"Sec-Fetch-Dest": "object"}, want: Decision{Reason: ReasonNotNavigation}},
		{name: "sec-fetch-dest empty string", reqH: hdr{"Sec-Fetch-Dest": ""}, want: Decision{Inject: true, RequireDocument: true}},
	}

	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			path := tc.path
			if path == "" {
				path = "/"
			}
			req := httptest.NewRequest(method, "https://shop.example"+path, nil)
			reqH := tc.reqH
			if reqH == nil {
				reqH = hdr{"Sec-Fetch-Dest": "document"}
			}
			for k, v := range reqH {
				req.Header.Set(k, v)
			}
			status := tc.status
			if status == 0 {
				status = 200
			}
			res := &http.Response{StatusCode: status, Header: http.Header{}, Request: req}
			resH := tc.resH
			if resH == nil {
				resH = hdr{"Content-Type": "text/html"}
			}
			for k, v := range resH {
				res.Header.Set(k, v)
			}
			p := on
			if tc.policy != nil {
				p = *tc.policy
			}
			got := Decide(req, res, p, decodableTest)
			if got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
			if got.Inject != (got.Reason == "") {
				t.Errorf("Inject=%v with Reason %q", got.Inject, got.Reason)
			}
			seen[tc.want.Reason] = true
		})
	}

	for _, r := range []string{ReasonDisabled, ReasonMethod, ReasonStatus, ReasonContentType, ReasonCharset,
		ReasonAttachment, ReasonEncoding, ReasonNotNavigation, ReasonFragment, ReasonIframe, ReasonPath} {
		if !seen[r] {
			t.Errorf("no case covers reason %q", r)
		}
	}
}

// decideFixture is a typical navigation: a browser loading a page whose
// upstream answers with gzip-compressed HTML.
func decideFixture(contentType string) (*http.Request, *http.Response, Policy) {
	req := httptest.NewRequest(http.MethodGet, "https://shop.example/products/42", nil)
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	res := &http.Response{StatusCode: 200, Header: http.Header{}}
	res.Header.Set("Content-Type", contentType)
	res.Header.Set("Content-Encoding", "gzip")
	p := Policy{Enabled: true, Iframes: true, PathAllowed: func(string) bool { return true }}
	return req, res, p
}

// Decide runs on every response. Report its allocations on the injected path:
// with no Content-Type parameters the documented fast path should not
// allocate; with "; charset=utf-8" (what most servers send) it goes through
// mime.ParseMediaType. The second figure is logged rather than asserted.
func TestDecideAllocs(t *testing.T) {
	for _, ct := range []string{"text/html", "text/html; charset=utf-8"} {
		req, res, p := decideFixture(ct)
		var d Decision
		n := testing.AllocsPerRun(1000, func() { d = Decide(req, res, p, decodableTest) })
		if !d.Inject {
			t.Fatalf("%q: not injected: %+v", ct, d)
		}
		t.Logf("Decide, Content-Type %q: %.0f allocs/op", ct, n)
	}
}

func BenchmarkDecide(b *testing.B) {
	for _, ct := range []string{"text/html", "text/html; charset=utf-8"} {
		b.Run(ct, func(b *testing.B) {
			req, res, p := decideFixture(ct)
			b.ReportAllocs()
			for b.Loop() {
				if !Decide(req, res, p, decodableTest).Inject {
					b.Fatal("not injected")
				}
			}
		})
	}
}

// TestAcceptsHTML: text/html anywhere in any Accept line, in any case.
func TestAcceptsHTML(t *testing.T) {
	for _, tt := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"*/*"}, false},
		{[]string{"application/json, text/plain"}, false},
		{[]string{"text/htm"}, false},
		{[]string{"TEXT/HTML"}, true},
		{[]string{"text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}, true},
		{[]string{"application/json", "image/webp, text/html"}, true},
	} {
		h := http.Header{}
		for _, v := range tt.accept {
			h.Add("Accept", v)
		}
		if got := AcceptsHTML(h); got != tt.want {
			t.Errorf("AcceptsHTML(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}
