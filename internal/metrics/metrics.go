// Package metrics defines cobrowse-proxy's Prometheus collectors. They are
// registered on a registry the caller passes in (never the global one), so
// tests and several servers in one process do not collide.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector the proxy updates.
type Metrics struct {
	// Registerer is where these collectors live; other packages' collectors
	// (token, csp) are registered on it too.
	Registerer prometheus.Registerer
	// Requests counts proxied requests by site and response status code.
	Requests *prometheus.CounterVec
	// Duration observes the time until the response headers were sent, by site.
	Duration *prometheus.HistogramVec
	// Injections counts HTML decisions by site and outcome: "injected", or
	// why a response was left alone (a skip reason or a rewriter result).
	Injections *prometheus.CounterVec
	// UpstreamErrors counts requests that got no usable upstream answer, by
	// site and kind (timeout, refused, aborted, idle_timeout, other).
	UpstreamErrors *prometheus.CounterVec
	// ClientErrors counts proxied requests that failed on the client's
	// side, by site and kind: client_gone (it left before the answer was
	// complete) or client_body (its request body was malformed or cut
	// short). Kept apart from UpstreamErrors so that an alert on the
	// upstream does not fire for clients that close tabs.
	ClientErrors *prometheus.CounterVec
	// UnknownHost counts requests refused because no site serves the Host.
	UnknownHost prometheus.Counter
	// Reserved counts requests to the reserved prefix, by endpoint and status code.
	Reserved *prometheus.CounterVec
	// ConnsRefused counts connections closed on accept because their client
	// address already had server.maxConnsPerClient open.
	ConnsRefused prometheus.Counter
}

// New creates the collectors and registers them, with the Go and process
// collectors and a build_info gauge, on reg.
func New(reg prometheus.Registerer, version string) *Metrics {
	m := &Metrics{
		Registerer: reg,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_requests_total",
			Help: "Proxied requests by site and response status code.",
		}, []string{"site", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cobrowse_proxy_request_duration_seconds",
			Help:    "Time from request to response headers for proxied requests, by site.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"site"}),
		Injections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_html_responses_total",
			Help: "HTML injection decisions by site and outcome (injected, or why the response was passed through unchanged).",
		}, []string{"site", "outcome"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_upstream_errors_total",
			Help: "Requests that got no usable answer from the upstream, by site and kind.",
		}, []string{"site", "kind"}),
		ClientErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_client_errors_total",
			Help: "Proxied requests that failed on the client's side, by site and kind (client_gone, client_body).",
		}, []string{"site", "kind"}),
		UnknownHost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobrowse_proxy_unknown_host_total",
			Help: "Requests refused because no configured site serves their Host.",
		}),
		Reserved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_reserved_requests_total",
			Help: "Requests to the reserved path prefix, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		ConnsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobrowse_proxy_connections_refused_total",
			Help: "Connections closed on accept because their client address already had server.maxConnsPerClient open.",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "cobrowse_proxy_build_info",
		Help:        "Always 1; the version label says which build is running.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	reg.MustRegister(m.Requests, m.Duration, m.Injections, m.UpstreamErrors, m.ClientErrors, m.UnknownHost, m.Reserved, m.ConnsRefused, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
