package csp

import (
	"net/url"
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
	for _, sub := range []string{"script-src-elem", "style-src-elem", "style-src-attr"} {
		if len(o.Sources[parentOf(sub)]) > 0 {
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
	if r.Nonce != "" && !isBase64Value(r.Nonce) {
		t.Fatalf("nonce %q is not base64", r.Nonce)
	}
	// The oracle is built from the options alone, not from the merger's
	// own tables: any source the config names, and the prefix source.
	allowedAdds := map[string]bool{}
	for _, srcs := range o.Sources {
		for _, s := range srcs {
			allowedAdds[s] = true
		}
	}
	self := refSelf(o.SelfOrigin)
	if self != "" {
		allowedAdds[self+"/"+strings.Trim(o.Prefix, "/")+"/"] = true
	}
	allowedAdds[TrustedTypesPolicy] = true
	nonceSrc := "'nonce-" + r.Nonce + "'"
	touched := touchedDirectives(o)
	for i := range before {
		a, b := before[i], after[i]
		checkPolicy(t, a, b, touched, allowedAdds, nonceSrc, r.Nonce != "" && !meta, o, meta)
		if !meta {
			checkLoaderAllowed(t, self, o.Prefix, b, r.Nonce)
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
				if !hasNonceOrHash(va) && !hasKeyword(va, "'strict-dynamic'") {
					t.Fatalf("%s: nonce added to a list whose 'unsafe-inline' was live: %v", name, va)
				}
			case allowedAdds[v]:
			default:
				t.Fatalf("%s gained %q, not a Zoom, prefix or nonce source:\n in: %q\nout: %q", name, v, a.String(), b.String())
			}
			if scriptDirective(name) {
				s := parseSource(v)
				if s.kind == kindStar || (s.kind == kindKeyword && s.keyword != "'self'") {
					t.Fatalf("%s gained %q", name, v)
				}
			}
		}
	}
}

// checkLoaderAllowed asserts that every script list of the merged policy
// lets the loader tag (carrying nonce) run, and connect-src the token
// endpoint, by a reading of CSP source matching written for the test.
func checkLoaderAllowed(t *testing.T, self, prefix string, p Policy, nonce string) {
	t.Helper()
	for _, name := range []string{"script-src-elem", "script-src"} {
		vals, _, ok := p.Effective(name)
		if !ok {
			continue
		}
		// Keywords are case-insensitive, nonce values are not.
		hasNonce := slices.ContainsFunc(vals, func(v string) bool {
			return nonce != "" && len(v) == len(nonce)+8 && strings.EqualFold(v[:7], "'nonce-") && v[7:len(v)-1] == nonce && v[len(v)-1] == '\''
		})
		if hasNonce {
			continue
		}
		strictDynamic := slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, "'strict-dynamic'") })
		if !strictDynamic && refAllowsPrefix(vals, self, prefix) {
			continue
		}
		t.Fatalf("%s %v blocks the loader (nonce %q) in %q", name, vals, nonce, p.String())
	}
	if vals, _, ok := p.Effective("connect-src"); ok && !refAllowsPrefix(vals, self, prefix) {
		t.Fatalf("connect-src %v blocks the token endpoint in %q", vals, p.String())
	}
}

// refSelf is origin as scheme://host[:port] in lower case, "" when it is
// not an http(s) origin.
func refSelf(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host
}

// refAllowsPrefix: does a source list allow {self}{prefix}/…? Only the
// forms a test policy uses are read: 'self', *, a scheme (https:), the
// origin itself, the origin with a path that the prefix starts with, and
// the same host without scheme.
func refAllowsPrefix(list []string, self, prefix string) bool {
	if self == "" {
		return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, "'self'") })
	}
	scheme, host, _ := strings.Cut(self, "://")
	path := "/" + strings.Trim(prefix, "/") + "/"
	for _, v := range list {
		lv := strings.ToLower(v)
		switch {
		case lv == "'self'", lv == "*", lv == scheme+":":
			return true
		case lv == self, lv == self+"/", lv == host, lv == host+"/":
			return true
		case strings.HasPrefix(lv, self+"/") && strings.HasSuffix(lv, "/") && strings.HasPrefix(path, lv[len(self):]):
			return true
		}
	}
	return false
}
