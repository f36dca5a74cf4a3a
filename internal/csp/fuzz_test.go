package csp

import (
	"testing"
)

// FuzzMerge checks the merge invariants (checkMerge) on arbitrary header
// values and meta contents: parse the merged policy again; for every
// directive cobrowse touches the effective list only grows, and only by
// Zoom sources, the prefix source or the returned nonce (never `*` or an
// unsafe keyword in a script directive, a nonce only where 'unsafe-inline'
// was already off); other directives keep their bytes; the loader and the
// token endpoint are allowed; a second merge changes nothing; a policy
// parses and serialises back to the same bytes.
//
// flags: bit 0 an http development origin, bit 1 a ReportURI, bit 2 no
// SelfOrigin, bit 3 config extras, bit 4 no NewNonce.
func FuzzMerge(f *testing.F) {
	for _, s := range []string{
		githubCSP, googleCSP, stripeCSP,
		"default-src 'self'", "default-src 'none'", "img-src 'none'; script-src 'none'",
		"SCRIPT-SRC 'self';  IMG-SRC *; ", "script-src 'self'; script-src *",
		"script-src 'nonce-a' 'strict-dynamic', script-src 'nonce-b' 'strict-dynamic'",
		"script-src 'sha256-AAAA' 'unsafe-inline'", "script-src-elem 'nonce-q' 'strict-dynamic'; default-src 'none'",
		"style-src-attr 'none'; style-src-elem 'self' 'nonce-x'", "child-src 'self'; report-to x",
		" , script-src 'self' ,, ", "script-src 'self' é; default-src 'none'", "connect-src *; worker-src 'none'",
		"default-src 'self' 'none' *.zoom.us:443/x/", "script-src 'NONCE-abc' 'Strict-Dynamic'",
		// Source matching the oracle reads on its own (check_test.go refAllows).
		"sCript-srC http:", "script-src */; connect-src *:*", "script-src ws:; connect-src wss://shop.example.com",
		"script-src https://SHOP.example.com:0443/__cobrowse/; connect-src shop.example.com/__cobrowse/token",
		"script-src https://shop.example.com/%5F_cobrowse/; connect-src https://*.example.com/__cobrowse",
		"script-src http://shop.localhost:8080/; connect-src shop.localhost:8080 shop.localhost:*",
	} {
		for _, flags := range []uint8{0, 1, 2, 4, 8, 16} {
			f.Add(s, flags)
		}
	}
	f.Fuzz(func(t *testing.T, value string, flags uint8) {
		o := testOptions()
		if flags&1 != 0 {
			o.SelfOrigin = "http://shop.localhost:8080"
		}
		if flags&2 != 0 {
			o.ReportURI = "/__cobrowse/csp-report"
		}
		if flags&4 != 0 {
			o.SelfOrigin = ""
		}
		if flags&8 != 0 {
			o.Sources = o.Sources.With(map[string][]string{
				"media-src": {"https://*.zoom.us"}, "script-src-elem": {"https://cdn.zoom.us"},
				"child-src": {"https://*.zoomgov.com"}, "style-src-attr": {"'unsafe-inline'"},
				"manifest-src": {"'self'"},
			})
		}
		if flags&16 != 0 {
			o.NewNonce = nil
		}
		for _, p := range ParseHeader(value) {
			_ = p.Directives()
		}
		if got := ParsePolicy(value).String(); got != value {
			t.Fatalf("round trip %q → %q", value, got)
		}

		r := MergeHeader(value, o)
		checkMerge(t, value, r, o, false)
		if r.Outcome != OutcomeSkipped {
			o2 := o
			o2.NewNonce = func() string { return "U2Vjb25kTm9uY2UxMjM0NTY=" }
			if again := MergeHeader(r.Value, o2); again.Value != r.Value || again.Nonce != r.Nonce {
				t.Fatalf("second merge changed it:\n%q\n%q nonce %q→%q", r.Value, again.Value, r.Nonce, again.Nonce)
			}
		}

		m := MergeMeta(value, o)
		checkMerge(t, value, m, o, true)
		if m.Nonce != "" {
			t.Fatalf("meta merge returned nonce %q", m.Nonce)
		}
	})
}
