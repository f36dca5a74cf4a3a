package csp

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the CSP collectors. The merge is pure, so the caller counts
// its outcomes (ObserveMerge); ReportHandler counts violations itself.
type Metrics struct {
	// Violations counts violation reports that involve cobrowse (a Zoom
	// host, the reserved prefix, or a resource the SDK or loader asked
	// for), by site, effective directive and blocked host. blocked_host is
	// a known Zoom host (the CDN's), the Zoom source another Zoom host
	// matched ("*.zoom.us"), a fixed word ("inline", "eval", "data", "blob",
	// "self-prefix", …) or "other": every label comes from the config or a
	// fixed list, whatever clients send.
	Violations *prometheus.CounterVec
	// Policies counts merged policies by site and outcome (merged,
	// unchanged, nonce_used, skipped).
	Policies *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_csp_violations_total",
			Help: "CSP violation reports involving cobrowse, by site, effective directive and blocked host (a Zoom host, a keyword such as inline or data, self-prefix, or other).",
		}, []string{"site", "directive", "blocked_host"}),
		Policies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_csp_policies_total",
			Help: "Content-Security-Policy policies seen on injected pages, by site and merge outcome (merged, unchanged, nonce_used, skipped).",
		}, []string{"site", "outcome"}),
	}
	reg.MustRegister(m.Violations, m.Policies)
	return m
}

// ObserveMerge counts each policy of r under site. A nil m counts nothing.
func (m *Metrics) ObserveMerge(site string, r Result) {
	if m == nil {
		return
	}
	for _, o := range r.Policies {
		m.Policies.WithLabelValues(site, string(o)).Inc()
	}
}
