package csp

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Header names a policy arrives in.
const (
	HeaderEnforce    = "Content-Security-Policy"
	HeaderReportOnly = "Content-Security-Policy-Report-Only"
)

// MergeOptions says what cobrowse needs from a page's policies.
type MergeOptions struct {
	// Sources are the sources the SDK needs per directive (DefaultSources,
	// widened by config with With). A source ValidateExtra refuses for its
	// directive is never added, whatever Sources says.
	Sources Sources
	// SelfOrigin is the page's origin as the browser sees it, e.g.
	// "https://shop.example.com" or "http://shop.localhost:8080". From it and
	// Prefix the merge builds the source "{SelfOrigin}{Prefix}/", added to
	// the script directives when they would block the same-origin loader
	// (no 'self', no usable nonce) and to connect-src when it would block
	// the token endpoint. Without it such a policy is skipped.
	SelfOrigin string
	// Prefix is the reserved path prefix, e.g. "/__cobrowse".
	Prefix string
	// NewNonce returns a fresh random base64 nonce (at least 128 bits). It
	// is called at most once per merge, only when some policy needs a
	// nonce the page does not already provide (see Merger.Headers).
	NewNonce func() string
	// ReportURI, when set, is added as "report-uri ReportURI" to every
	// header policy that has neither report-uri nor report-to of its own,
	// so violations reach ReportHandler. Never added to <meta> policies,
	// where browsers ignore it.
	ReportURI string
	// AlwaysReport adds ReportURI also to policies that report elsewhere:
	// appended to their report-uri list, or as a report-uri next to their
	// report-to (browsers that use report-to then ignore it).
	AlwaysReport bool
}

// Outcome is what a merge did to one policy; it is a metric label.
type Outcome string

// Outcomes, in the order of precedence Result.Outcome uses.
const (
	// OutcomeSkipped: no safe merge exists; nothing was changed and the
	// caller must not inject the loader.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeNonceUsed: the loader is allowed by the nonce in Result.Nonce
	// (the page's own, or a fresh one added to this policy).
	OutcomeNonceUsed Outcome = "nonce_used"
	// OutcomeMerged: sources were added to the policy.
	OutcomeMerged Outcome = "merged"
	// OutcomeUnchanged: the policy already allowed everything cobrowse needs.
	OutcomeUnchanged Outcome = "unchanged"
)

// Result is the outcome of a merge.
type Result struct {
	// Value is the merged meta content (Merger.Meta); empty for
	// Merger.Headers, which edits the header in place.
	Value string
	// Nonce is the nonce the injected <script> tag must carry (as
	// nonce="Nonce"), "" when none is needed. It always matches the CSP
	// base64-value grammar, so it is safe in an HTML attribute.
	Nonce string
	// Outcome sums up Policies: the first of skipped, nonce_used, merged,
	// unchanged that any policy has; unchanged when there is no policy.
	Outcome Outcome
	// Policies holds one outcome per policy, in order, for the metric.
	Policies []Outcome
	// Reason says why the merge was skipped; empty otherwise.
	Reason string
}

// Merger merges the policies of one site's pages. Build it once per site
// with NewMerger: the per-site work (which directives need which sources)
// is done there, so each response pays only for its own policies.
type Merger struct{ site merger }

// NewMerger prepares a Merger; o.SelfOrigin is ignored (each call gives
// the page's origin).
func NewMerger(o MergeOptions) *Merger { return &Merger{site: *newSiteMerger(o)} }

// Headers merges, in place, every Content-Security-Policy and
// Content-Security-Policy-Report-Only line of h, each policy on its own,
// and returns the one nonce the injected tag must carry, for a page of
// origin selfOrigin. When the result
// is skipped, h is left untouched.
//
// The nonce: browsers enforce every policy, so the tag must satisfy each
// one whose script list needs a nonce ('strict-dynamic', or nonces or
// hashes without 'self' or another source that allows the loader's URL).
// If one page nonce is in all of them, the tag carries it and no nonce is
// added. Otherwise (two policies with different nonces, or a hash-only
// one) the merge does not give up: it adds one fresh nonce from NewNonce
// to each of those policies. That is safe because each already had a
// nonce, a hash or 'strict-dynamic', so its 'unsafe-inline' was already
// off, and only the injected tag knows the fresh nonce. Copying the page's
// nonce from one policy into another would not be safe: it would let the
// page's own scripts through a policy that blocked them. Report-only
// policies take part like the others so the loader does not flood the
// site's report endpoint. The merge is skipped only when a needed nonce
// cannot be made (NewNonce nil or invalid) or the prefix source is needed
// and SelfOrigin is unusable.
func (s *Merger) Headers(h http.Header, selfOrigin string) Result {
	if len(h.Values(HeaderEnforce))+len(h.Values(HeaderReportOnly)) == 0 {
		return Result{Outcome: OutcomeUnchanged}
	}
	return mergeHeaders(s.page(selfOrigin), h)
}

// Meta merges the content of a <meta http-equiv="Content-Security-Policy">
// (the attribute value, entities already decoded; one policy, commas
// included, as browsers read it). It adds the Zoom sources and the prefix
// source for connect-src, never report-uri, and never a nonce: a meta policy
// only governs what is fetched after it, and the loader tag sits before it
// (the rewriter inserts it ahead of any CSP <meta>); the SDK script the
// loader adds is allowed by 'strict-dynamic' (it is not parser-inserted)
// or by the Zoom host source. Result.Nonce is always "".
func (s *Merger) Meta(content, selfOrigin string) Result {
	r := s.page(selfOrigin).run([]string{content}, true)
	r.Value = r.values[0]
	return r.Result
}

func (s *Merger) page(selfOrigin string) *merger {
	m := s.site // the targets are only read, so sharing them is safe
	m.setSelf(selfOrigin)
	return &m
}

func mergeHeaders(m *merger, h http.Header) Result {
	enforce, reportOnly := h.Values(HeaderEnforce), h.Values(HeaderReportOnly)
	lines := append(slices.Clone(enforce), reportOnly...)
	r := m.run(lines, false)
	if r.Outcome != OutcomeSkipped && len(lines) > 0 {
		if len(enforce) > 0 {
			h[HeaderEnforce] = slices.Clone(r.values[:len(enforce)])
		}
		if len(reportOnly) > 0 {
			h[HeaderReportOnly] = slices.Clone(r.values[len(enforce):])
		}
	}
	return r.Result
}

// target is a directive the merge widens.
type target struct {
	name     string
	need     []string // sources to add when not already covered
	explicit bool     // in Sources itself: created from its fallback when absent
	attr     bool     // a *-src-attr directive: only keywords mean anything there
}

// merger holds one merge's normalised options.
type merger struct {
	o          MergeOptions
	targets    []target
	selfScheme string // "https" when SelfOrigin is unusable
	selfOrigin string // normalised scheme://host[:port], or ""
	prefixSrc  string // "{selfOrigin}{prefix}/", or "" when unusable
	reportURI  string // "" when unset or unusable
	always     bool   // MergeOptions.AlwaysReport
}

// parentOf names the Sources entry a sub-directive also gets when the
// policy sets it: browsers use script-src-elem (not script-src) for
// <script src>, and style-src-elem/-attr for style elements and attributes.
// script-src-attr gets nothing: cobrowse adds no inline event handlers.
func parentOf(name string) string {
	switch name {
	case "script-src-elem":
		return "script-src"
	case "style-src-elem", "style-src-attr":
		return "style-src"
	}
	return ""
}

// setSelf sets the page's origin, and from it the prefix source.
func (m *merger) setSelf(origin string) {
	m.selfScheme, m.selfOrigin, m.prefixSrc = "https", "", ""
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return
	}
	m.selfScheme = u.Scheme
	host := strings.ToLower(u.Hostname())
	m.selfOrigin = u.Scheme + "://" + host + portSuffix(u.Scheme, u.Port())
	if p := "/" + strings.Trim(m.o.Prefix, "/") + "/"; strings.Trim(m.o.Prefix, "/") != "" {
		if src := m.selfOrigin + p; parseSource(src).kind == kindHost {
			m.prefixSrc = src
		}
	}
}

// newSiteMerger builds what does not depend on the page: the targets and
// the sources each one needs, the report URI.
func newSiteMerger(o MergeOptions) *merger {
	m := &merger{o: o, selfScheme: "https"}
	if o.ReportURI != "" && !strings.ContainsAny(o.ReportURI, " \t\r\n\f;,'\"") && isASCII(o.ReportURI) {
		m.reportURI = o.ReportURI
		m.always = o.AlwaysReport
	}
	names := map[string]bool{}
	for name := range o.Sources {
		names[name] = true
	}
	for _, sub := range []string{"script-src-elem", "style-src-elem", "style-src-attr"} {
		if len(o.Sources[parentOf(sub)]) > 0 {
			names[sub] = true
		}
	}
	for name := range names {
		t := target{name: name, explicit: len(o.Sources[name]) > 0, attr: strings.HasSuffix(name, "-attr")}
		for _, src := range append(slices.Clone(o.Sources[parentOf(name)]), o.Sources[name]...) {
			if ValidateExtra(name, src) == nil && !slices.Contains(t.need, src) {
				t.need = append(t.need, src)
			}
		}
		if len(t.need) > 0 {
			m.targets = append(m.targets, t)
		}
	}
	// Parents before the directives that fall back to them, so a directive
	// created from its fallback copies the already widened list.
	slices.SortFunc(m.targets, func(a, b target) int {
		return cmp.Or(cmp.Compare(len(fallbackList(a.name)), len(fallbackList(b.name))), strings.Compare(a.name, b.name))
	})
	return m
}

// mergeRun is a Result plus the merged texts, one per input.
type mergeRun struct {
	Result
	values []string
}

// policyRef is one policy of the run with where it came from.
type policyRef struct {
	p        *Policy
	orig     string
	line     int
	skipped  bool // empty: not a policy
	scripts  []scriptList
	nonceHit bool
}

func (m *merger) run(inputs []string, meta bool) mergeRun {
	var refs []*policyRef
	parts := make([][]string, len(inputs))
	for li, in := range inputs {
		if meta {
			parts[li] = []string{in}
		} else {
			parts[li] = strings.Split(in, ",")
		}
		for _, part := range parts[li] {
			p := ParsePolicy(part)
			refs = append(refs, &policyRef{p: &p, orig: part, line: li, skipped: p.Empty()})
		}
	}
	skip := func(reason string) mergeRun {
		r := mergeRun{values: slices.Clone(inputs), Result: Result{Outcome: OutcomeSkipped, Reason: reason}}
		for _, ref := range refs {
			if !ref.skipped {
				r.Policies = append(r.Policies, OutcomeSkipped)
			}
		}
		return r
	}

	for _, ref := range refs {
		if !ref.skipped {
			m.mergeSources(ref.p)
			if !meta {
				ref.scripts = m.scriptLists(ref.p)
			}
		}
	}
	nonce, reason := m.chooseNonce(refs)
	if reason != "" {
		return skip(reason)
	}
	for _, ref := range refs {
		if ref.skipped {
			continue
		}
		if reason := m.apply(ref, nonce); reason != "" {
			return skip(reason)
		}
		addTrustedTypesPolicy(ref.p)
		if !meta && m.reportURI != "" {
			m.addReporting(ref.p)
		}
	}

	r := mergeRun{values: make([]string, len(inputs)), Result: Result{Nonce: nonce, Outcome: OutcomeUnchanged}}
	texts := make([][]string, len(inputs))
	for _, ref := range refs {
		text := ref.p.String()
		texts[ref.line] = append(texts[ref.line], text)
		if ref.skipped {
			continue
		}
		out := OutcomeUnchanged
		switch {
		case ref.nonceHit:
			out = OutcomeNonceUsed
		case text != ref.orig:
			out = OutcomeMerged
		}
		r.Policies = append(r.Policies, out)
		if rank(out) < rank(r.Outcome) {
			r.Outcome = out
		}
	}
	for li := range inputs {
		r.values[li] = strings.Join(texts[li], ",")
	}
	return r
}

func rank(o Outcome) int {
	return slices.Index([]Outcome{OutcomeSkipped, OutcomeNonceUsed, OutcomeMerged, OutcomeUnchanged}, o)
}

// mergeSources adds the Zoom sources to one policy: a present directive
// gets the missing ones appended; an absent one that Sources names is
// created as a copy of the list it falls back to plus the missing ones,
// so nothing else is widened; with no fallback it stays absent.
func (m *merger) mergeSources(p *Policy) {
	for _, t := range m.targets {
		if i := p.index(t.name); i >= 0 {
			if adds := m.missing(p.segs[i].values, t); len(adds) > 0 {
				p.set(i, withAdded(p.segs[i].values, adds))
			}
			continue
		}
		if !t.explicit {
			continue // a sub-directive that is absent inherits its widened parent
		}
		if vals, _, ok := p.Effective(t.name); ok {
			if adds := m.missing(vals, t); len(adds) > 0 {
				p.create(t.name, withAdded(vals, adds))
			}
		}
	}
}

// missing lists the sources of t that list does not already cover.
//
// 'unsafe-inline' is not added to a list with a nonce or a hash: browsers
// ignore it there (CSP2 and later), so adding it would change nothing but
// look like a widening. The SDK's inline styles then stay blocked under
// such a policy, and the violation reports show it; removing the site's
// nonces or hashes to make room would weaken the policy, so we never do.
//
// Under 'strict-dynamic', script-src-elem and worker-src need no host or
// scheme source: every browser that reads those directives also honours
// 'strict-dynamic', which ignores such sources and allows any script or
// worker that a running script creates (the SDK is created by the loader).
// script-src itself still gets them, for browsers without 'strict-dynamic'.
func (m *merger) missing(list []string, t target) []string {
	sdOnly := (t.name == "worker-src" || t.name == "script-src-elem") && hasKeyword(list, "'strict-dynamic'")
	var adds []string
	for _, src := range t.need {
		s := parseSource(src)
		if t.attr && s.kind != kindKeyword {
			continue // host and scheme sources mean nothing for attributes
		}
		if sdOnly && (s.kind == kindHost || s.kind == kindScheme) {
			continue
		}
		if s.kind == kindKeyword && s.keyword == "'unsafe-inline'" && hasNonceOrHash(list) {
			continue
		}
		if !covered(list, src, m.selfScheme, m.selfOrigin) {
			adds = append(adds, src)
		}
	}
	return adds
}

// withAdded is list without 'none' (which means nothing once other sources
// are present) followed by adds; list itself when adds is empty.
func withAdded(list, adds []string) []string {
	if len(adds) == 0 {
		return list
	}
	out := make([]string, 0, len(list)+len(adds))
	for _, v := range list {
		if !strings.EqualFold(v, "'none'") {
			out = append(out, v)
		}
	}
	return append(out, adds...)
}

func hasNonceOrHash(list []string) bool {
	for _, v := range list {
		if k := parseSource(v).kind; k == kindNonce || k == kindHash {
			return true
		}
	}
	return false
}

func hasKeyword(list []string, kw string) bool {
	for _, v := range list {
		if strings.EqualFold(v, kw) {
			return true
		}
	}
	return false
}

// addReporting points p's violation reports at the proxy: where p has no
// reporting of its own, or always with MergeOptions.AlwaysReport.
func (m *merger) addReporting(p *Policy) {
	i := p.index("report-uri")
	switch {
	case i < 0 && (m.always || p.index("report-to") < 0):
		p.add("report-uri", []string{m.reportURI})
	case i >= 0 && m.always && !slices.Contains(p.segs[i].values, m.reportURI):
		p.set(i, append(slices.Clone(p.segs[i].values), m.reportURI))
	}
}

// NewNonce returns a fresh nonce: 128 random bits, base64.
func NewNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// TrustedTypesPolicy is the Trusted Types policy name bootstrap.js creates
// to set the SDK script's URL.
const TrustedTypesPolicy = "cobrowse-proxy"

// addTrustedTypesPolicy lets bootstrap.js create its Trusted Types policy
// where the page lists the policy names it allows: the name is appended
// ('none' is replaced). A policy without the directive allows every name.
func addTrustedTypesPolicy(p *Policy) {
	i := p.index("trusted-types")
	if i < 0 {
		return
	}
	vals := p.segs[i].values
	var kept []string
	for _, v := range vals {
		switch {
		case v == "*" || v == TrustedTypesPolicy:
			return // already allowed
		case strings.EqualFold(v, "'none'"):
		default:
			kept = append(kept, v)
		}
	}
	p.set(i, append(kept, TrustedTypesPolicy))
}
