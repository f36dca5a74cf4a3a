package token

import "github.com/prometheus/client_golang/prometheus"

// Refusal reasons, the values of the reason label.
const (
	ReasonCrossOrigin     = "cross_origin"    // customer request not from the site's own page
	ReasonRateLimited     = "rate_limited"    // client over its token bucket
	ReasonUnauthenticated = "unauthenticated" // agent without valid credentials, or agent auth not configured
	ReasonBadRequest      = "bad_request"     // body fields invalid (400)
	ReasonMethod          = "method"          // not POST (405)
	ReasonTooLarge        = "too_large"       // body over the limit (413)
	ReasonMediaType       = "media_type"      // Content-Type not JSON/form (415)
	ReasonUnavailable     = "unavailable"     // secret unreadable: failed closed (503)
)

// Metrics counts issued and refused tokens. Labels are fixed sets (role:
// customer, agent, unknown; reason: the Reason constants), never values
// from a request or the config, so nothing secret can reach them.
type Metrics struct {
	// Issued counts tokens issued, by role.
	Issued *prometheus.CounterVec
	// Refusals counts refused token and agent sign-in requests, by role and reason.
	Refusals *prometheus.CounterVec
}

// NewMetrics creates the collectors, registers them on reg (nil: not
// registered) and initialises every label pair so dashboards see zeros.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_tokens_issued_total",
			Help: "Cobrowse JWTs issued, by role (customer, agent).",
		}, []string{"role"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_token_refusals_total",
			Help: "Token and agent sign-in requests refused, by role and reason.",
		}, []string{"role", "reason"}),
	}
	for _, role := range []Role{RoleCustomer, RoleAgent} {
		m.Issued.WithLabelValues(role.String())
	}
	for _, role := range []string{RoleCustomer.String(), RoleAgent.String(), Role(0).String()} {
		for _, reason := range []string{ReasonCrossOrigin, ReasonRateLimited, ReasonUnauthenticated,
			ReasonBadRequest, ReasonMethod, ReasonTooLarge, ReasonMediaType, ReasonUnavailable} {
			m.Refusals.WithLabelValues(role, reason)
		}
	}
	if reg != nil {
		reg.MustRegister(m.Issued, m.Refusals)
	}
	return m
}

func (m *Metrics) issued(r Role) {
	if m != nil {
		m.Issued.WithLabelValues(r.String()).Inc()
	}
}

func (m *Metrics) refused(r Role, reason string) {
	if m != nil {
		m.Refusals.WithLabelValues(r.String(), reason).Inc()
	}
}
