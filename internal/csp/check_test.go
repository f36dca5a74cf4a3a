package csp

import (
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
	m := newMerger(o)
	allowedAdds := map[string]bool{}
	for _, tg := range m.targets {
		for _, s := range tg.need {
			allowedAdds[s] = true
		}
	}
	if m.prefixSrc != "" {
		allowedAdds[m.prefixSrc] = true
	}
	allowedAdds[TrustedTypesPolicy] = true
	nonceSrc := "'nonce-" + r.Nonce + "'"
	touched := touchedDirectives(o)
	for i := range before {
		a, b := before[i], after[i]
		checkPolicy(t, a, b, touched, allowedAdds, nonceSrc, r.Nonce != "" && !meta, o, meta)
		if !meta {
			checkLoaderAllowed(t, m, b, r.Nonce)
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
// lets the loader tag (carrying nonce) run.
func checkLoaderAllowed(t *testing.T, m *merger, p Policy, nonce string) {
	t.Helper()
	for _, name := range []string{"script-src-elem", "script-src"} {
		vals, _, ok := p.Effective(name)
		if !ok {
			continue
		}
		if nonce != "" && slices.Contains(nonces(vals), nonce) {
			continue
		}
		if !hasKeyword(vals, "'strict-dynamic'") && m.allowsPrefix(vals) {
			continue
		}
		t.Fatalf("%s %v blocks the loader (nonce %q) in %q", name, vals, nonce, p.String())
	}
	if vals, _, ok := p.Effective("connect-src"); ok && !m.allowsPrefix(vals) {
		t.Fatalf("connect-src %v blocks the token endpoint in %q", vals, p.String())
	}
}
