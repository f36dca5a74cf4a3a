package csp

import (
	"net/http"
	"slices"
	"testing"
)

const freshNonce = "RnJlc2hOb25jZTEyMzQ1Ng=="

// testOptions is a merge for https://shop.example.com with the default sources.
func testOptions() MergeOptions {
	return MergeOptions{
		Sources:    DefaultSources(),
		SelfOrigin: "https://shop.example.com",
		Prefix:     "/__cobrowse",
		NewNonce:   func() string { return freshNonce },
	}
}

const (
	githubCSP = "default-src 'none'; base-uri 'self'; child-src github.githubassets.com github.com/assets-cdn/worker/; connect-src 'self' uploads.github.com; font-src github.githubassets.com; frame-ancestors 'none'; frame-src viewscreen.githubusercontent.com; img-src 'self' data: github.githubassets.com; script-src github.githubassets.com; style-src 'unsafe-inline' github.githubassets.com; upgrade-insecure-requests; worker-src github.com/assets-cdn/worker/"
	googleCSP = "script-src 'nonce-abc123' 'strict-dynamic' 'report-sample' 'unsafe-eval' 'unsafe-inline' https: http:;object-src 'none';base-uri 'self';report-uri https://csp.withgoogle.com/csp/gws/other-hp"
	stripeCSP = "default-src 'self'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; connect-src https://api.stripe.com"
)

// mergeCase is one row of the header merge table: a policy, the options,
// and the literal merged policy, nonce and outcome expected.
type mergeCase struct {
	name    string
	in      string
	opts    func(*MergeOptions)
	want    string
	nonce   string
	outcome Outcome
}

// mergeHeaderCases is the header merge table, shared by TestMergeHeader
// and the CSP Evaluator check (evaluator_test.go).
func mergeHeaderCases() []mergeCase {
	zoomDefaults := "connect-src https://*.zoom.us wss://*.zoom.us https://shop.example.com/__cobrowse/; font-src https://*.zoom.us data:; img-src https://*.zoom.us data: blob:; script-src https://*.zoom.us https://shop.example.com/__cobrowse/; style-src https://*.zoom.us 'unsafe-inline'; frame-src https://*.zoom.us; worker-src https://*.zoom.us blob:"
	return []mergeCase{
		{
			name:    "github: host allow-lists, default-src 'none'",
			in:      githubCSP,
			want:    "default-src 'none'; base-uri 'self'; child-src github.githubassets.com github.com/assets-cdn/worker/; connect-src 'self' uploads.github.com https://*.zoom.us wss://*.zoom.us; font-src github.githubassets.com https://*.zoom.us data:; frame-ancestors 'none'; frame-src viewscreen.githubusercontent.com https://*.zoom.us; img-src 'self' data: github.githubassets.com https://*.zoom.us blob:; script-src github.githubassets.com https://*.zoom.us https://shop.example.com/__cobrowse/; style-src 'unsafe-inline' github.githubassets.com https://*.zoom.us; upgrade-insecure-requests; worker-src github.com/assets-cdn/worker/ blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "google: nonce + strict-dynamic + https: needs nothing, the tag carries the nonce",
			in:      googleCSP,
			want:    googleCSP,
			nonce:   "abc123",
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "stripe: host allow-lists with default-src 'self'",
			in:      stripeCSP,
			want:    "default-src 'self'; script-src 'self' https://js.stripe.com https://*.zoom.us; frame-src https://js.stripe.com https://hooks.stripe.com https://*.zoom.us; connect-src https://api.stripe.com https://*.zoom.us wss://*.zoom.us https://shop.example.com/__cobrowse/; font-src 'self' https://*.zoom.us data:; img-src 'self' https://*.zoom.us data: blob:; style-src 'self' https://*.zoom.us 'unsafe-inline'; worker-src 'self' https://js.stripe.com https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "default-src only: each needed directive is a copy plus Zoom",
			in:      "default-src 'self'",
			want:    "default-src 'self'; connect-src 'self' https://*.zoom.us wss://*.zoom.us; font-src 'self' https://*.zoom.us data:; img-src 'self' https://*.zoom.us data: blob:; script-src 'self' https://*.zoom.us; style-src 'self' https://*.zoom.us 'unsafe-inline'; frame-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "'none' is replaced, not appended to",
			in:      "img-src 'none'; script-src 'none'; default-src 'none'",
			want:    "img-src https://*.zoom.us data: blob:; script-src https://*.zoom.us https://shop.example.com/__cobrowse/; default-src 'none'; connect-src https://*.zoom.us wss://*.zoom.us https://shop.example.com/__cobrowse/; font-src https://*.zoom.us data:; style-src https://*.zoom.us 'unsafe-inline'; frame-src https://*.zoom.us; worker-src https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "uppercase names, trailing semicolon and whitespace kept",
			in:      "SCRIPT-SRC 'self';  IMG-SRC *; ",
			want:    "SCRIPT-SRC 'self' https://*.zoom.us;  IMG-SRC * data: blob:; worker-src 'self' https://*.zoom.us blob: ",
			outcome: OutcomeMerged,
		},
		{
			name:    "duplicates: the first counts, the rest stay verbatim",
			in:      "script-src 'self'; script-src *",
			want:    "script-src 'self' https://*.zoom.us; script-src *; worker-src 'self' https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "already allowed: host wildcard present; * covers https but not data:, blob:",
			in:      "script-src 'self' https://*.zoom.us; connect-src 'self' https://*.zoom.us wss://*.zoom.us; img-src *; style-src 'self'",
			want:    "script-src 'self' https://*.zoom.us; connect-src 'self' https://*.zoom.us wss://*.zoom.us; img-src * data: blob:; style-src 'self' https://*.zoom.us 'unsafe-inline'; worker-src 'self' https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "scheme-less wildcard covers https on an https page, not wss",
			in:      "script-src 'self' *.zoom.us; connect-src 'self' *.zoom.us",
			want:    "script-src 'self' *.zoom.us; connect-src 'self' *.zoom.us wss://*.zoom.us; worker-src 'self' *.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "* is not trusted to cover wss (older WebKit)",
			in:      "connect-src *; script-src *",
			want:    "connect-src * wss://*.zoom.us; script-src *; worker-src * blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "nothing cobrowse needs is restricted",
			in:      "frame-ancestors 'none'; upgrade-insecure-requests",
			want:    "frame-ancestors 'none'; upgrade-insecure-requests",
			outcome: OutcomeUnchanged,
		},
		{
			name:    "everything already allowed: byte-identical",
			in:      "default-src 'self' https://*.zoom.us wss://*.zoom.us data: blob: 'unsafe-inline'",
			want:    "default-src 'self' https://*.zoom.us wss://*.zoom.us data: blob: 'unsafe-inline'",
			outcome: OutcomeUnchanged,
		},
		{
			name:    "hashes with 'self': the loader's URL is allowed, no nonce",
			in:      "script-src 'self' 'sha256-AAAA'",
			want:    "script-src 'self' 'sha256-AAAA' https://*.zoom.us; worker-src 'self' 'sha256-AAAA' https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "hashes only: the prefix source, not a first nonce (that would need base-uri)",
			in:      "script-src 'sha256-AAAA' 'unsafe-inline'",
			want:    "script-src 'sha256-AAAA' 'unsafe-inline' https://*.zoom.us https://shop.example.com/__cobrowse/; worker-src 'sha256-AAAA' 'unsafe-inline' https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "hashes only and no origin for a prefix source: a fresh nonce",
			in:      "script-src 'sha256-AAAA'; base-uri 'none'",
			opts:    func(o *MergeOptions) { o.SelfOrigin = "" },
			want:    "script-src 'sha256-AAAA' https://*.zoom.us 'nonce-" + freshNonce + "'; base-uri 'none'; worker-src 'sha256-AAAA' https://*.zoom.us blob:",
			nonce:   freshNonce,
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "hash + strict-dynamic: a fresh nonce, no worker-src needed",
			in:      "script-src 'sha256-AAAA' 'strict-dynamic'; object-src 'none'",
			want:    "script-src 'sha256-AAAA' 'strict-dynamic' https://*.zoom.us 'nonce-" + freshNonce + "'; object-src 'none'",
			nonce:   freshNonce,
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "'unsafe-inline' without hashes: the prefix, never a nonce (it would switch 'unsafe-inline' off)",
			in:      "script-src 'unsafe-inline' https://cdn.example",
			want:    "script-src 'unsafe-inline' https://cdn.example https://*.zoom.us https://shop.example.com/__cobrowse/; worker-src 'unsafe-inline' https://cdn.example https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "style-src with a nonce gets no 'unsafe-inline' (browsers would ignore it)",
			in:      "style-src 'self' 'nonce-xyz'",
			want:    "style-src 'self' 'nonce-xyz' https://*.zoom.us",
			outcome: OutcomeMerged,
		},
		{
			name:    "script-src-elem is widened too; script-src 'none' replaced",
			in:      "script-src-elem 'self'; script-src 'none'",
			want:    "script-src-elem 'self' https://*.zoom.us; script-src https://*.zoom.us https://shop.example.com/__cobrowse/; worker-src https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "script-src-elem with strict-dynamic: nonce only; script-src made for older browsers",
			in:      "script-src-elem 'nonce-q' 'strict-dynamic'; default-src 'none'",
			want:    "script-src-elem 'nonce-q' 'strict-dynamic'; default-src 'none'; " + zoomDefaults,
			nonce:   "q",
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "style-src-elem and style-src-attr follow style-src",
			in:      "style-src-attr 'none'; style-src-elem 'self'",
			want:    "style-src-attr 'unsafe-inline'; style-src-elem 'self' https://*.zoom.us 'unsafe-inline'",
			outcome: OutcomeMerged,
		},
		{
			name:    "frame-src and worker-src fall back to child-src",
			in:      "child-src 'self'",
			want:    "child-src 'self'; frame-src 'self' https://*.zoom.us; worker-src 'self' blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "several policies in one header, one nonce common to both",
			in:      "script-src 'nonce-n1' 'strict-dynamic', script-src 'nonce-n1' 'strict-dynamic' 'nonce-n2'",
			want:    "script-src 'nonce-n1' 'strict-dynamic' https://*.zoom.us, script-src 'nonce-n1' 'strict-dynamic' 'nonce-n2' https://*.zoom.us",
			nonce:   "n1",
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "several policies with different nonces: one fresh nonce added to both",
			in:      "script-src 'nonce-a' 'strict-dynamic', script-src 'nonce-b' 'strict-dynamic'",
			want:    "script-src 'nonce-a' 'strict-dynamic' https://*.zoom.us 'nonce-" + freshNonce + "', script-src 'nonce-b' 'strict-dynamic' https://*.zoom.us 'nonce-" + freshNonce + "'",
			nonce:   freshNonce,
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "empty policies in the list are kept as they are",
			in:      " , script-src 'self' ,, ",
			want:    " , script-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob: ,, ",
			outcome: OutcomeMerged,
		},
		{
			name:    "a directive with non-ASCII is ignored, so script-src is added after it",
			in:      "script-src 'self' é; default-src 'none'",
			want:    "script-src 'self' é; default-src 'none'; " + zoomDefaults,
			outcome: OutcomeMerged,
		},
		{
			name:    "report-uri added where there is no reporting",
			in:      "script-src 'self'",
			opts:    func(o *MergeOptions) { o.ReportURI = "/__cobrowse/csp-report" },
			want:    "script-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us blob:; report-uri /__cobrowse/csp-report",
			outcome: OutcomeMerged,
		},
		{
			name:    "report-uri not added next to report-to",
			in:      "script-src 'self'; report-to main",
			opts:    func(o *MergeOptions) { o.ReportURI = "/__cobrowse/csp-report" },
			want:    "script-src 'self' https://*.zoom.us; report-to main; worker-src 'self' https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "alwaysReport appends to the site's report-uri",
			in:      "img-src 'self'; report-uri https://r.example/csp",
			opts:    func(o *MergeOptions) { o.ReportURI = "/__cobrowse/csp-report"; o.AlwaysReport = true },
			want:    "img-src 'self' https://*.zoom.us data: blob:; report-uri https://r.example/csp /__cobrowse/csp-report",
			outcome: OutcomeMerged,
		},
		{
			name:    "alwaysReport adds report-uri next to report-to",
			in:      "img-src 'self'; report-to main",
			opts:    func(o *MergeOptions) { o.ReportURI = "/__cobrowse/csp-report"; o.AlwaysReport = true },
			want:    "img-src 'self' https://*.zoom.us data: blob:; report-to main; report-uri /__cobrowse/csp-report",
			outcome: OutcomeMerged,
		},
		{
			name:    "google keeps its own report-uri",
			in:      googleCSP,
			opts:    func(o *MergeOptions) { o.ReportURI = "/__cobrowse/csp-report" },
			want:    googleCSP,
			nonce:   "abc123",
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "http development origin with a port",
			in:      "script-src shop.localhost:8080; connect-src http://shop.localhost",
			opts:    func(o *MergeOptions) { o.SelfOrigin = "http://shop.localhost:8080" },
			want:    "script-src shop.localhost:8080 https://*.zoom.us; connect-src http://shop.localhost https://*.zoom.us wss://*.zoom.us http://shop.localhost:8080/__cobrowse/; worker-src shop.localhost:8080 https://*.zoom.us blob:",
			outcome: OutcomeMerged,
		},
		{
			name: "config extras: media-src and a second Zoom domain",
			in:   "default-src 'self'; media-src 'none'; script-src 'self'",
			opts: func(o *MergeOptions) {
				o.Sources = o.Sources.With(map[string][]string{"media-src": {"https://*.zoom.us"}, "Script-Src": {"https://*.zoomgov.com"}})
			},
			want:    "default-src 'self'; media-src https://*.zoom.us; script-src 'self' https://*.zoom.us https://*.zoomgov.com; connect-src 'self' https://*.zoom.us wss://*.zoom.us; font-src 'self' https://*.zoom.us data:; img-src 'self' https://*.zoom.us data: blob:; style-src 'self' https://*.zoom.us 'unsafe-inline'; frame-src 'self' https://*.zoom.us; worker-src 'self' https://*.zoom.us https://*.zoomgov.com blob:",
			outcome: OutcomeMerged,
		},
		{
			name:    "creating child-src pins worker-src, which fell back to script-src",
			in:      "default-src 'self'; script-src 'self' https://js.stripe.com",
			opts:    func(o *MergeOptions) { o.Sources = Sources{"child-src": {"https://*.zoom.us"}} },
			want:    "default-src 'self'; script-src 'self' https://js.stripe.com; child-src 'self' https://*.zoom.us; worker-src 'self' https://js.stripe.com",
			outcome: OutcomeMerged,
		},
		{
			name: "unsafe extras are never added, whatever Sources says",
			in:   "script-src 'self'; img-src 'self'",
			opts: func(o *MergeOptions) {
				o.Sources = Sources{"script-src": {"*", "'unsafe-eval'", "'unsafe-inline'", "https:"}, "img-src": {"*"}}
			},
			want:    "script-src 'self'; img-src 'self'",
			outcome: OutcomeUnchanged,
		},
		{
			name:    "no SelfOrigin and the loader blocked: skipped, untouched",
			in:      "script-src 'none'",
			opts:    func(o *MergeOptions) { o.SelfOrigin = "" },
			want:    "script-src 'none'",
			outcome: OutcomeSkipped,
		},
		{
			name:    "no nonce source and strict-dynamic without a nonce: skipped, untouched",
			in:      "script-src 'strict-dynamic'",
			opts:    func(o *MergeOptions) { o.NewNonce = nil },
			want:    "script-src 'strict-dynamic'",
			outcome: OutcomeSkipped,
		},
		{
			name:    "a nonce source that returns junk: skipped",
			in:      "script-src 'strict-dynamic'",
			opts:    func(o *MergeOptions) { o.NewNonce = func() string { return `x' 'unsafe-inline` } },
			want:    "script-src 'strict-dynamic'",
			outcome: OutcomeSkipped,
		},
		{
			name:    "a page nonce with a quote is no nonce: not reused",
			in:      "script-src 'nonce-a\"b' 'strict-dynamic'; base-uri 'self'",
			want:    "script-src 'nonce-a\"b' 'strict-dynamic' https://*.zoom.us 'nonce-" + freshNonce + "'; base-uri 'self'",
			nonce:   freshNonce,
			outcome: OutcomeNonceUsed,
		},
		{
			name:    "strict-dynamic without nonces or hashes and without base-uri: skipped, no first nonce",
			in:      "script-src 'strict-dynamic' https:",
			want:    "script-src 'strict-dynamic' https:",
			outcome: OutcomeSkipped,
		},
		{
			name:    "strict-dynamic without nonces or hashes, with base-uri: a fresh nonce",
			in:      "script-src 'strict-dynamic' https:; base-uri 'none'; object-src 'none'",
			want:    "script-src 'strict-dynamic' https: 'nonce-" + freshNonce + "'; base-uri 'none'; object-src 'none'",
			nonce:   freshNonce,
			outcome: OutcomeNonceUsed,
		},
	}
}

func TestMergeHeader(t *testing.T) {
	tests := mergeHeaderCases()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.opts != nil {
				tt.opts(&o)
			}
			r := MergeHeader(tt.in, o)
			if r.Value != tt.want {
				t.Errorf("value\n got: %s\nwant: %s", r.Value, tt.want)
			}
			if r.Nonce != tt.nonce {
				t.Errorf("nonce %q, want %q", r.Nonce, tt.nonce)
			}
			if r.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s (%s)", r.Outcome, tt.outcome, r.Reason)
			}
			checkMerge(t, tt.in, r, o, false)
			if r.Outcome != OutcomeSkipped {
				// Idempotent: merging the merged policy changes nothing.
				o.NewNonce = func() string { return "U2Vjb25kTm9uY2UxMjM0NTY=" }
				if again := MergeHeader(r.Value, o); again.Value != r.Value || again.Nonce != r.Nonce {
					t.Errorf("second merge changed it:\n%s\n%s (nonce %q)", r.Value, again.Value, again.Nonce)
				}
			}
		})
	}
}

func TestMergeHeaders(t *testing.T) {
	t.Run("enforced and report-only share one nonce", func(t *testing.T) {
		h := http.Header{}
		h.Add("Content-Security-Policy", "script-src 'nonce-site' 'strict-dynamic'; object-src 'none'")
		h.Add("Content-Security-Policy", "img-src 'self'")
		h.Add("Content-Security-Policy-Report-Only", "script-src 'nonce-site' 'strict-dynamic'; report-uri /r")
		r := MergeHeaders(h, testOptions())
		if r.Nonce != "site" || r.Outcome != OutcomeNonceUsed {
			t.Fatalf("nonce %q outcome %s", r.Nonce, r.Outcome)
		}
		want := []string{
			"script-src 'nonce-site' 'strict-dynamic' https://*.zoom.us; object-src 'none'",
			"img-src 'self' https://*.zoom.us data: blob:",
		}
		if got := h.Values("Content-Security-Policy"); !slices.Equal(got, want) {
			t.Errorf("enforced\n got %q\nwant %q", got, want)
		}
		wantRO := []string{"script-src 'nonce-site' 'strict-dynamic' https://*.zoom.us; report-uri /r"}
		if got := h.Values("Content-Security-Policy-Report-Only"); !slices.Equal(got, wantRO) {
			t.Errorf("report-only\n got %q\nwant %q", got, wantRO)
		}
		if want := []Outcome{OutcomeNonceUsed, OutcomeMerged, OutcomeNonceUsed}; !slices.Equal(r.Policies, want) {
			t.Errorf("outcomes %v, want %v", r.Policies, want)
		}
	})
	t.Run("different nonces across header lines: fresh nonce in both", func(t *testing.T) {
		h := http.Header{}
		h.Add("Content-Security-Policy", "script-src 'nonce-one' 'strict-dynamic'")
		h.Add("Content-Security-Policy-Report-Only", "script-src 'nonce-two'")
		r := MergeHeaders(h, testOptions())
		if r.Nonce != freshNonce {
			t.Fatalf("nonce %q", r.Nonce)
		}
		if got, want := h.Get("Content-Security-Policy"), "script-src 'nonce-one' 'strict-dynamic' https://*.zoom.us 'nonce-"+freshNonce+"'"; got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
		if got, want := h.Get("Content-Security-Policy-Report-Only"), "script-src 'nonce-two' https://*.zoom.us 'nonce-"+freshNonce+"'; worker-src 'nonce-two' https://*.zoom.us blob:"; got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
	t.Run("skipped leaves the header alone", func(t *testing.T) {
		h := http.Header{}
		h.Add("Content-Security-Policy", "img-src 'none'")
		h.Add("Content-Security-Policy", "script-src 'strict-dynamic'")
		o := testOptions()
		o.NewNonce = nil
		r := MergeHeaders(h, o)
		if r.Outcome != OutcomeSkipped || r.Reason == "" {
			t.Fatalf("outcome %s reason %q", r.Outcome, r.Reason)
		}
		if got := h.Values("Content-Security-Policy"); !slices.Equal(got, []string{"img-src 'none'", "script-src 'strict-dynamic'"}) {
			t.Errorf("header changed: %q", got)
		}
	})
	t.Run("no policy", func(t *testing.T) {
		h := http.Header{"Content-Type": {"text/html"}}
		r := MergeHeaders(h, testOptions())
		if r.Outcome != OutcomeUnchanged || len(r.Policies) != 0 || len(h) != 1 {
			t.Fatalf("%+v %v", r, h)
		}
	})
	t.Run("adding to one line does not clobber the other", func(t *testing.T) {
		h := http.Header{}
		h.Add("Content-Security-Policy", "img-src 'self'")
		h.Add("Content-Security-Policy-Report-Only", "img-src 'self'")
		MergeHeaders(h, testOptions())
		h.Add("Content-Security-Policy", "x")
		if got := h.Get("Content-Security-Policy-Report-Only"); got != "img-src 'self' https://*.zoom.us data: blob:" {
			t.Errorf("report-only is %q", got)
		}
	})
}

func TestMergeMeta(t *testing.T) {
	tests := []struct{ in, want string }{
		{ // no nonce, no report-uri; the SDK script is allowed by strict-dynamic
			"script-src 'nonce-m' 'strict-dynamic'; img-src 'self'",
			"script-src 'nonce-m' 'strict-dynamic' https://*.zoom.us; img-src 'self' https://*.zoom.us data: blob:",
		},
		{ // one policy: the comma is part of a value, not a separator
			"default-src 'self', img-src *",
			// ("'self'," and "img-src" are junk sources of default-src; its "*" covers https)
			"default-src 'self', img-src *; connect-src 'self', img-src * wss://*.zoom.us; font-src 'self', img-src * data:; img-src 'self', img-src * data: blob:; style-src 'self', img-src * 'unsafe-inline'; worker-src 'self', img-src * blob:",
		},
		{ // connect-src still gets the token endpoint
			"connect-src https://api.example.com",
			"connect-src https://api.example.com https://*.zoom.us wss://*.zoom.us https://shop.example.com/__cobrowse/",
		},
		{"", ""},
	}
	for _, tt := range tests {
		o := testOptions()
		o.ReportURI = "/__cobrowse/csp-report"
		r := MergeMeta(tt.in, o)
		if r.Value != tt.want || r.Nonce != "" {
			t.Errorf("MergeMeta(%q)\n got %s (nonce %q)\nwant %s", tt.in, r.Value, r.Nonce, tt.want)
		}
		checkMerge(t, tt.in, r, o, true)
	}
}

// TestRoundTrip: policies that need no change come back byte for byte.
func TestRoundTrip(t *testing.T) {
	for _, in := range []string{
		"", " ", ";", ";;", " ; ; ", "a", "A B  C\t;\tD", "frame-ancestors 'none';", "x é; y",
		googleCSP, "default-src * data: blob: wss://*.zoom.us 'unsafe-inline'",
		"script-src 'self' https://*.zoom.us;;; connect-src 'self' https://*.zoom.us wss://*.zoom.us ;\r\n",
	} {
		if got := ParsePolicy(in).String(); got != in {
			t.Errorf("ParsePolicy(%q).String() = %q", in, got)
		}
		o := testOptions()
		if r := MergeHeader(in, o); r.Outcome == OutcomeUnchanged && r.Value != in {
			t.Errorf("unchanged merge of %q gave %q", in, r.Value)
		}
	}
}

func TestParse(t *testing.T) {
	ps := ParseHeader("Script-Src 'self' X;script-src *; ; img-src é, ,default-src 'none'")
	if len(ps) != 2 {
		t.Fatalf("%d policies", len(ps))
	}
	d, ok := ps[0].Get("script-src")
	if !ok || !slices.Equal(d.Values, []string{"'self'", "X"}) || d.Text != "Script-Src 'self' X" {
		t.Errorf("script-src = %+v", d)
	}
	if _, ok := ps[0].Get("img-src"); ok {
		t.Errorf("non-ASCII directive used")
	}
	ds := ps[0].Directives()
	if len(ds) != 3 || !ds[1].Ignored || !ds[2].Ignored || ds[0].Ignored {
		t.Errorf("directives %+v", ds)
	}
	if v, from, ok := ps[1].Effective("worker-src"); !ok || from != "default-src" || v[0] != "'none'" {
		t.Errorf("effective worker-src = %v %s %v", v, from, ok)
	}
}

// A Merger prepared once per site gives the same results as the one-shot
// functions, for pages of different origins.
func TestMergerMatchesOneShot(t *testing.T) {
	o := testOptions()
	o.ReportURI = "/__cobrowse/csp-report"
	m := NewMerger(o)
	for _, origin := range []string{o.SelfOrigin, "http://shop.localhost:8080", "https://[::1]"} {
		oo := o
		oo.SelfOrigin = origin
		for _, in := range []string{githubCSP, googleCSP, "default-src 'self'", "script-src https://cdn.example", "img-src 'none'"} {
			h := http.Header{HeaderEnforce: {in}}
			got := m.Headers(h, origin)
			want := MergeHeader(in, oo)
			if got.Outcome != want.Outcome || (got.Nonce == "") != (want.Nonce == "") {
				t.Errorf("%s %q: outcome %s nonce %q, one-shot %s %q", origin, in, got.Outcome, got.Nonce, want.Outcome, want.Nonce)
			}
			if want.Nonce == "" && got.Outcome != OutcomeSkipped && h.Get(HeaderEnforce) != want.Value {
				t.Errorf("%s %q:\n got %s\nwant %s", origin, in, h.Get(HeaderEnforce), want.Value)
			}
			if mg, mw := m.Meta(in, origin), MergeMeta(in, oo); mg.Value != mw.Value || mg.Outcome != mw.Outcome {
				t.Errorf("meta %s %q: %q vs %q", origin, in, mg.Value, mw.Value)
			}
		}
	}
}

// TestMergeTrustedTypes: where a policy lists the Trusted Types policy
// names it allows, bootstrap.js's name is added ('none' replaced); `*` or
// the name already there, or no trusted-types at all, need nothing.
func TestMergeTrustedTypes(t *testing.T) {
	tests := []struct {
		in, want string
		outcome  Outcome
	}{
		{"trusted-types foo; object-src 'none'", "trusted-types foo cobrowse-proxy; object-src 'none'", OutcomeMerged},
		{"object-src 'none'; trusted-types 'none'", "object-src 'none'; trusted-types cobrowse-proxy", OutcomeMerged},
		{"trusted-types 'NONE' a 'allow-duplicates'", "trusted-types a 'allow-duplicates' cobrowse-proxy", OutcomeMerged},
		{"trusted-types", "trusted-types cobrowse-proxy", OutcomeMerged},
		{"trusted-types a *", "trusted-types a *", OutcomeUnchanged},
		{"trusted-types a cobrowse-proxy", "trusted-types a cobrowse-proxy", OutcomeUnchanged},
		{"require-trusted-types-for 'script'", "require-trusted-types-for 'script'", OutcomeUnchanged},
	}
	for _, tt := range tests {
		r := MergeHeader(tt.in, testOptions())
		if r.Value != tt.want || r.Outcome != tt.outcome {
			t.Errorf("MergeHeader(%q) = %q %s, want %q %s", tt.in, r.Value, r.Outcome, tt.want, tt.outcome)
		}
	}
}

// TestMergeHeadersOneKind: a response with only one of the two headers
// does not get the other one, not even as an empty entry.
func TestMergeHeadersOneKind(t *testing.T) {
	for _, name := range []string{HeaderEnforce, HeaderReportOnly} {
		h := http.Header{name: {"img-src 'self'"}}
		r := NewMerger(testOptions()).Headers(h, "https://shop.example.com")
		if r.Outcome != OutcomeMerged || len(h) != 1 || h.Get(name) != "img-src 'self' https://*.zoom.us data: blob:" {
			t.Errorf("%s only: outcome %s, header %q", name, r.Outcome, h)
		}
	}
}
