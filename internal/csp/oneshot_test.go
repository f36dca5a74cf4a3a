package csp

import "net/http"

// The one-shot merges the tests use, built on the per-site Merger that the
// proxy uses, so the tests exercise the production path.

// MergeHeader merges every policy of one Content-Security-Policy header
// value for a page of o.SelfOrigin.
func MergeHeader(value string, o MergeOptions) Result {
	h := http.Header{HeaderEnforce: {value}}
	r := NewMerger(o).Headers(h, o.SelfOrigin)
	r.Value = h.Get(HeaderEnforce)
	return r
}

// MergeHeaders merges every CSP line of h for a page of o.SelfOrigin.
func MergeHeaders(h http.Header, o MergeOptions) Result {
	return NewMerger(o).Headers(h, o.SelfOrigin)
}

// MergeMeta merges a <meta> policy for a page of o.SelfOrigin.
func MergeMeta(content string, o MergeOptions) Result {
	return NewMerger(o).Meta(content, o.SelfOrigin)
}
