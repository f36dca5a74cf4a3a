package csp

import (
	"slices"
)

// The loader tag <script src="{prefix}/bootstrap.js"> is same-origin and
// parser-inserted. Each policy must let it run: through its URL ('self', a
// host source, or the prefix source the merge adds), or through a nonce
// when the policy relies on nonces or 'strict-dynamic' (which makes browsers
// ignore URLs). A policy of hashes alone gets the prefix source, not a fresh
// nonce: adding the first nonce would make the policy nonce-based, and
// without base-uri an injected <base href> could then carry it elsewhere. The SDK script the loader then creates carries the
// same nonce, and under 'strict-dynamic' is allowed anyway because it is
// not parser-inserted.

// scriptList is one source list that decides whether the loader may run:
// script-src-elem (CSP3 browsers) and script-src or, failing that,
// default-src (browsers without -elem support, and CSP3 ones when -elem is
// absent).
type scriptList struct {
	idx    int // live directive index; -1: create script-src from default-src
	values []string
	class  listClass
}

type listClass int

const (
	classFree  listClass = iota // the loader's URL is allowed ('self', a host, …)
	classNonce                  // needs a nonce: 'strict-dynamic', or nonces/hashes
	classURL                    // add the prefix source
)

// nonces returns the valid nonce values in list, in order.
func nonces(list []string) []string {
	var out []string
	for _, v := range list {
		if s := parseSource(v); s.kind == kindNonce {
			out = append(out, s.value)
		}
	}
	return out
}

// scriptLists returns the lists that govern the loader tag in p, classified.
func (m *merger) scriptLists(p *Policy) []scriptList {
	var out []scriptList
	if i := p.index("script-src-elem"); i >= 0 {
		out = append(out, scriptList{idx: i, values: p.segs[i].values})
	}
	if i := p.index("script-src"); i >= 0 {
		out = append(out, scriptList{idx: i, values: p.segs[i].values})
	} else if i := p.index("default-src"); i >= 0 {
		out = append(out, scriptList{idx: -1, values: p.segs[i].values})
	}
	for k := range out {
		l := &out[k]
		sd := hasKeyword(l.values, "'strict-dynamic'")
		switch {
		case !sd && m.allowsPrefix(l.values):
			l.class = classFree
		case sd || len(nonces(l.values)) > 0:
			l.class = classNonce
		case hasNonceOrHash(l.values) && m.prefixSrc == "":
			// Hashes alone, and no prefix source to add: only a fresh
			// nonce can allow the loader.
			l.class = classNonce
		default:
			// A list of hashes without 'strict-dynamic' still honours
			// URLs: the prefix source allows the loader without turning
			// the policy nonce-based, which would make a missing base-uri
			// matter (a <base href> could take the nonce elsewhere).
			l.class = classURL
		}
	}
	return out
}

// allowsPrefix reports whether list already allows the reserved prefix.
func (m *merger) allowsPrefix(list []string) bool {
	if m.prefixSrc == "" {
		return hasKeyword(list, "'self'")
	}
	return covered(list, m.prefixSrc, m.selfScheme, m.selfOrigin)
}

// chooseNonce picks the tag's nonce (see Merger.Headers): a page nonce that
// every needing list has, else a fresh one; with no list needing one, a
// page nonce common to all lists that have nonces, so the tag looks like
// the page's own scripts; else none.
func (m *merger) chooseNonce(refs []*policyRef) (nonce, reason string) {
	var need, withNonces [][]string
	for _, ref := range refs {
		for _, l := range ref.scripts {
			if l.class == classNonce {
				need = append(need, l.values)
			} else if len(nonces(l.values)) > 0 {
				withNonces = append(withNonces, l.values)
			}
		}
	}
	if n := commonNonce(need); n != "" || len(need) == 0 {
		if n == "" {
			n = commonNonce(withNonces)
		}
		return n, ""
	}
	if m.o.NewNonce == nil {
		return "", "a policy needs a nonce for the loader and no nonce source is configured"
	}
	n := m.o.NewNonce()
	if len(n) < 16 || !isBase64Value(n) {
		return "", "the nonce source returned a value that is not base64 of at least 16 characters"
	}
	for _, ref := range refs {
		for _, l := range ref.scripts {
			if l.class == classNonce && !nonceBased(l.values) && ref.p.index("base-uri") < 0 {
				// Only degenerate policies get here ('strict-dynamic' with
				// no usable nonce or hash, so no script of the page runs).
				return "", "the loader would need the first nonce of a policy without base-uri, which an injected <base> tag could redirect"
			}
		}
	}
	return n, ""
}

// nonceBased reports whether a script list already relies on nonces (or on
// hashes with 'strict-dynamic'), the policies whose relative script URLs a
// <base> tag can redirect; CSP Evaluator flags them without base-uri.
func nonceBased(list []string) bool {
	return len(nonces(list)) > 0 || hasKeyword(list, "'strict-dynamic'") && hasNonceOrHash(list)
}

// commonNonce returns the first nonce of lists[0] that every list has.
func commonNonce(lists [][]string) string {
	if len(lists) == 0 {
		return ""
	}
	for _, n := range nonces(lists[0]) {
		if !slices.ContainsFunc(lists[1:], func(l []string) bool { return !slices.Contains(nonces(l), n) }) {
			return n
		}
	}
	return ""
}

// apply makes one policy allow the loader tag (carrying nonce) and the
// token endpoint.
func (m *merger) apply(ref *policyRef, nonce string) string {
	p := ref.p
	for _, l := range ref.scripts {
		var add string
		switch l.class {
		case classNonce:
			if !slices.Contains(nonces(l.values), nonce) {
				add = "'nonce-" + nonce + "'"
			}
		case classURL:
			if m.prefixSrc == "" {
				return "the policy blocks same-origin scripts and SelfOrigin/Prefix are not usable to allow the loader"
			}
			add = m.prefixSrc
		}
		if add != "" {
			if l.idx >= 0 {
				p.set(l.idx, withAdded(p.segs[l.idx].values, []string{add}))
			} else {
				vals, _, _ := p.Effective("script-src")
				p.create("script-src", withAdded(vals, []string{add}))
			}
		}
		if nonce != "" && (l.class == classNonce || slices.Contains(nonces(l.values), nonce)) {
			ref.nonceHit = true
		}
	}
	// The widget asks {prefix}/token with fetch: connect-src must allow it.
	if vals, _, ok := p.Effective("connect-src"); ok && !m.allowsPrefix(vals) {
		if m.prefixSrc == "" {
			return "the policy blocks same-origin fetches and SelfOrigin/Prefix are not usable to allow the token endpoint"
		}
		if i := p.index("connect-src"); i >= 0 {
			p.set(i, withAdded(vals, []string{m.prefixSrc}))
		} else {
			p.create("connect-src", withAdded(vals, []string{m.prefixSrc}))
		}
	}
	return ""
}
