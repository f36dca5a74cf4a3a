package csp

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// touchedDirectives are the directives a merge with o may change.
func touchedDirectives(o MergeOptions) map[string]bool {
	t := map[string]bool{"script-src": true, "connect-src": true, "trusted-types": true}
	for name := range o.Sources {
		t[name] = true
	}
	// A sub-directive the policy sets gets its parent's sources too.
	for sub, parent := range map[string]string{"script-src-elem": "script-src", "style-src-elem": "style-src", "style-src-attr": "style-src"} {
		if len(o.Sources[parent]) > 0 {
			t[sub] = true
		}
	}
	return t
}

// scriptDirective reports whether name governs script execution.
func scriptDirective(name string) bool {
	return strings.HasPrefix(name, "script-src") || name == "worker-src"
}

// checkMerge asserts the merge invariants for one header value or meta
// content: nothing the original allowed is lost, nothing beyond the Zoom
// sources, the prefix source and the returned nonce is gained, untouched
// directives keep their bytes, and the loader is actually allowed.
func checkMerge(t *testing.T, orig string, r Result, o MergeOptions, meta bool) {
	t.Helper()
	if r.Outcome == OutcomeSkipped {
		if r.Value != orig {
			t.Fatalf("skipped merge changed the policy:\n in: %q\nout: %q", orig, r.Value)
		}
		if r.Reason == "" {
			t.Fatalf("skipped without a reason")
		}
		return
	}
	var before, after []Policy
	if meta {
		before, after = []Policy{ParsePolicy(orig)}, []Policy{ParsePolicy(r.Value)}
		if before[0].Empty() {
			before, after = nil, nil
		}
	} else {
		before, after = ParseHeader(orig), ParseHeader(r.Value)
	}
	if len(before) != len(after) || len(r.Policies) != len(before) {
		t.Fatalf("policy count %d → %d (outcomes %v):\n in: %q\nout: %q", len(before), len(after), r.Policies, orig, r.Value)
	}
	if r.Nonce != "" && !base64Value.MatchString(r.Nonce) {
		t.Fatalf("nonce %q is not base64", r.Nonce)
	}
	// The oracle is built from the options and a reading of CSP written for
	// the test, not from the merger's own tables: a source config names
	// that ValidateExtra (the documented rule for config) accepts, the
	// prefix source of the page's origin (a literal per test origin), and
	// bootstrap.js's Trusted Types name.
	allowedAdds := map[string]bool{}
	for dir, srcs := range o.Sources {
		for _, s := range srcs {
			if ValidateExtra(dir, s) == nil {
				allowedAdds[s] = true
			}
		}
	}
	self := testOrigin(t, o)
	if self.prefixSrc != "" {
		allowedAdds[self.prefixSrc] = true
	}
	allowedAdds[TrustedTypesPolicy] = true
	nonceSrc := "'nonce-" + r.Nonce + "'"
	touched := touchedDirectives(o)
	for i := range before {
		a, b := before[i], after[i]
		checkPolicy(t, a, b, touched, allowedAdds, nonceSrc, r.Nonce != "" && !meta, o, meta)
		if !meta {
			checkLoaderAllowed(t, self, b, r.Nonce)
		}
	}
}

func checkPolicy(t *testing.T, a, b Policy, touched, allowedAdds map[string]bool, nonceSrc string, nonceOK bool, o MergeOptions, meta bool) {
	t.Helper()
	da, db := a.Directives(), b.Directives()
	if len(db) < len(da) {
		t.Fatalf("directives lost:\n in: %q\nout: %q", a.String(), b.String())
	}
	for i, d := range da {
		if db[i].Name != d.Name || db[i].Ignored != d.Ignored {
			t.Fatalf("directive %d changed from %q to %q:\n in: %q\nout: %q", i, d.Text, db[i].Text, a.String(), b.String())
		}
		if (!touched[d.Name] || d.Ignored) && db[i].Text != d.Text {
			// AlwaysReport may only append our report URI to report-uri.
			if !(o.AlwaysReport && d.Name == "report-uri" && db[i].Text == d.Text+" "+o.ReportURI) {
				t.Fatalf("untouched directive %q became %q", d.Text, db[i].Text)
			}
		}
	}
	for _, d := range db[len(da):] {
		if d.Ignored {
			t.Fatalf("added an ignored directive %q", d.Text)
		}
		if d.Name == "report-uri" {
			if meta || o.ReportURI == "" {
				t.Fatalf("report-uri added to %q", b.String())
			}
			if _, ok := a.Get("report-to"); ok && !o.AlwaysReport {
				t.Fatalf("report-uri added next to report-to")
			}
			continue
		}
		if va, _, _ := a.Effective(d.Name); !touched[d.Name] && !slices.Equal(va, d.Values) {
			t.Fatalf("added untouched directive %q that is not a pin of %v", d.Text, va)
		}
		if _, ok := a.Get(d.Name); ok {
			t.Fatalf("added %q although present", d.Name)
		}
	}
	for name := range touched {
		va, _, oka := a.Effective(name)
		vb, _, okb := b.Effective(name)
		if !oka {
			if okb {
				t.Fatalf("%s was unrestricted and now is %v", name, vb)
			}
			continue
		}
		hadNone := false
		for _, v := range va {
			if strings.EqualFold(v, "'none'") {
				hadNone = true
				continue
			}
			if !slices.Contains(vb, v) {
				t.Fatalf("%s lost %q:\n in: %q\nout: %q", name, v, a.String(), b.String())
			}
		}
		var added []string
		for _, v := range vb {
			if !slices.Contains(va, v) {
				added = append(added, v)
			}
		}
		if hadNone && !slices.ContainsFunc(vb, func(v string) bool { return strings.EqualFold(v, "'none'") }) && len(added) == 0 {
			t.Fatalf("%s: 'none' removed without adding", name)
		}
		for _, v := range added {
			switch {
			case v == nonceSrc && nonceOK:
				if !slices.ContainsFunc(va, nonceOrHash.MatchString) && !slices.ContainsFunc(va, func(v string) bool { return strings.EqualFold(v, "'strict-dynamic'") }) {
					t.Fatalf("%s: nonce added to a list whose 'unsafe-inline' was live: %v", name, va)
				}
			case allowedAdds[v]:
			default:
				t.Fatalf("%s gained %q, not a Zoom, prefix or nonce source:\n in: %q\nout: %q", name, v, a.String(), b.String())
			}
			if scriptDirective(name) {
				quoted := len(v) > 1 && v[0] == '\'' && v[len(v)-1] == '\''
				if v == "*" || quoted && !nonceOrHash.MatchString(v) && !strings.EqualFold(v, "'self'") {
					t.Fatalf("%s gained %q", name, v)
				}
			}
		}
	}
}

// checkLoaderAllowed asserts that every script list of the merged policy
// lets the loader tag (carrying nonce) run, and connect-src the token
// endpoint, by CSP3's matching of a URL against a source list
// (refAllows), read independently of the merge's own "covers".
func checkLoaderAllowed(t *testing.T, self origin, p Policy, nonce string) {
	t.Helper()
	for _, name := range []string{"script-src-elem", "script-src"} {
		vals, _, ok := p.Effective(name)
		if !ok {
			continue
		}
		if nonce != "" && slices.ContainsFunc(vals, func(v string) bool { return isNonceSource(v, nonce) }) {
			continue
		}
		strictDynamic := slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, "'strict-dynamic'") })
		if !strictDynamic && refAllows(vals, self, self.prefixPath+"bootstrap.js") {
			continue
		}
		t.Fatalf("%s %v blocks the loader (nonce %q) in %q", name, vals, nonce, p.String())
	}
	if vals, _, ok := p.Effective("connect-src"); ok && !refAllows(vals, self, self.prefixPath+"token") {
		t.Fatalf("connect-src %v blocks the token endpoint in %q", vals, p.String())
	}
}

// origin is a test page's origin, split, with the prefix source the merge
// may add for it.
type origin struct {
	scheme, host, port string // port "" when the scheme's default
	prefixPath         string // "/__cobrowse/"
	prefixSrc          string // "" when the origin is unknown
}

// testOrigin is the literal expectation for the origins the tests use.
func testOrigin(t *testing.T, o MergeOptions) origin {
	t.Helper()
	if o.Prefix != "/__cobrowse" {
		t.Fatalf("no expectation for Prefix %q", o.Prefix)
	}
	switch o.SelfOrigin {
	case "https://shop.example.com":
		return origin{"https", "shop.example.com", "", "/__cobrowse/", "https://shop.example.com/__cobrowse/"}
	case "http://shop.localhost:8080":
		return origin{"http", "shop.localhost", "8080", "/__cobrowse/", "http://shop.localhost:8080/__cobrowse/"}
	case "":
		return origin{prefixPath: "/__cobrowse/"}
	}
	t.Fatalf("no expectation for SelfOrigin %q", o.SelfOrigin)
	return origin{}
}

var (
	base64Value = regexp.MustCompile(`^[A-Za-z0-9+/_-]+={0,2}$`)
	// nonceOrHash is a nonce-source or hash-source; one with a value that
	// is not base64 is no source at all, and browsers ignore it.
	nonceOrHash = regexp.MustCompile(`^'(?i:nonce|sha256|sha384|sha512)-[A-Za-z0-9+/_-]+={0,2}'$`)
	// hostSource is CSP3's host-source: [scheme "://"] host-part [":" port-part] [path-absolute].
	hostSource   = regexp.MustCompile(`^(?:([A-Za-z][A-Za-z0-9+.-]*)://)?(\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?)(?::([0-9]+|\*))?(/(?:[A-Za-z0-9._~!$&'()*+=:@/-]|%[0-9A-Fa-f]{2})*)?$`)
	schemeSource = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):$`)
)

// isNonceSource reports whether v is the nonce-source of nonce ("nonce-"
// is case-insensitive, the value is not).
func isNonceSource(v, nonce string) bool {
	return len(v) == len(nonce)+8 && strings.EqualFold(v[:7], "'nonce-") && v[7:len(v)-1] == nonce && v[len(v)-1] == '\''
}

// refAllows reports whether list allows the same-origin URL path on a page
// of origin self (CSP3 "does url match source list", no redirect). With
// an unknown origin only 'self' is known to match.
func refAllows(list []string, self origin, path string) bool {
	for _, v := range list {
		if strings.EqualFold(v, "'self'") {
			return true
		}
		if self.scheme == "" {
			continue
		}
		if v == "*" { // the URL's scheme is http(s)
			return true
		}
		if m := schemeSource.FindStringSubmatch(v); m != nil {
			if refSchemeMatch(m[1], self.scheme) {
				return true
			}
			continue
		}
		m := hostSource.FindStringSubmatch(v)
		if m == nil || strings.HasPrefix(m[4], "//") {
			continue
		}
		scheme, host, port, p := m[1], strings.ToLower(m[2]), m[3], m[4]
		if scheme == "" {
			scheme = self.scheme
		}
		if !refSchemeMatch(scheme, self.scheme) {
			continue
		}
		if h, ok := strings.CutPrefix(host, "*"); ok {
			if !strings.HasSuffix(self.host, h) {
				continue
			}
		} else if host != self.host {
			continue
		}
		if !refPortMatch(port, self) || !refPathMatch(p, path) {
			continue
		}
		return true
	}
	return false
}

// refSchemeMatch is CSP3 "scheme-part match".
func refSchemeMatch(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	switch {
	case a == b, a == "http" && b == "https", a == "wss" && b == "https":
		return true
	case a == "ws":
		return b == "wss" || b == "http" || b == "https"
	}
	return false
}

// refPortMatch is CSP3 "port-part match" for a URL of origin self.
func refPortMatch(port string, self origin) bool {
	switch port {
	case "*":
		return true
	case "":
		return self.port == "" // the URL has its scheme's default port
	}
	want := self.port
	if want == "" {
		want = map[string]string{"http": "80", "https": "443"}[self.scheme]
	}
	n := strings.TrimLeft(port, "0")
	if n == "" {
		n = "0"
	}
	return n == want
}

// refPathMatch is CSP3 "path-part match": segment by segment after
// percent-decoding; a pattern ending in "/" matches everything under it.
func refPathMatch(pattern, path string) bool {
	if pattern == "" {
		return true
	}
	exact := !strings.HasSuffix(pattern, "/")
	a, b := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(a) > len(b) || exact && len(a) != len(b) {
		return false
	}
	if !exact {
		a = a[:len(a)-1]
	}
	for i, piece := range a {
		pa, err1 := url.PathUnescape(piece)
		pb, err2 := url.PathUnescape(b[i])
		if err1 != nil || err2 != nil || pa != pb {
			return false
		}
	}
	return true
}
