// Package benchmark holds the end-to-end benchmarks that compare
// cobrowse-proxy with no proxy and with a bare httputil.ReverseProxy on
// loopback, side by side in one run:
//
//	go test ./internal/benchmark -run='^$' -bench=. -benchmem
//
// It has no non-test code.
package benchmark
