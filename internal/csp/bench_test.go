package csp

import (
	"net/http"
	"testing"
)

// BenchmarkMergeHeader is the per-response cost of merging a large
// allow-list policy (GitHub's shape) and a nonce policy (Google's).
func BenchmarkMergeHeader(b *testing.B) {
	o := testOptions()
	o.ReportURI = "/__cobrowse/csp-report"
	for _, bc := range []struct{ name, value string }{{"github", githubCSP}, {"google", googleCSP}, {"default-src", "default-src 'self'"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MergeHeader(bc.value, o)
			}
		})
	}
}

func BenchmarkMergeHeadersNone(b *testing.B) {
	o := testOptions()
	h := http.Header{"Content-Type": {"text/html"}}
	b.ReportAllocs()
	for b.Loop() {
		MergeHeaders(h, o)
	}
}

// BenchmarkMerger is the same merge with the per-site part prepared once,
// as the proxy does it.
func BenchmarkMerger(b *testing.B) {
	o := testOptions()
	o.ReportURI = "/__cobrowse/csp-report"
	m := NewMerger(o)
	for _, bc := range []struct{ name, value string }{{"github", githubCSP}, {"google", googleCSP}, {"default-src", "default-src 'self'"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h := http.Header{HeaderEnforce: {bc.value}}
				m.Headers(h, o.SelfOrigin)
			}
		})
	}
}
