package tlsconf

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the TLS collectors. They tell an operator the one thing that
// breaks a site silently: a certificate running out.
type Metrics struct {
	// Expiry is cobrowse_proxy_tls_certificate_expiry_timestamp_seconds{name}: the
	// NotAfter of the certificate served for name, as a Unix time. Alert
	// on it minus time() falling below a week or so.
	Expiry *prometheus.GaugeVec
	// Issuance is cobrowse_proxy_tls_issuance_total{outcome}: ACME
	// results, outcome obtained, renewed or failed.
	Issuance *prometheus.CounterVec
}

// Issuance outcomes.
const (
	outcomeObtained = "obtained"
	outcomeRenewed  = "renewed"
	outcomeFailed   = "failed"
)

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cobrowse_proxy_tls_certificate_expiry_timestamp_seconds",
			Help: "Expiry (NotAfter) of the certificate served for a name, as a Unix time.",
		}, []string{"name"}),
		Issuance: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_tls_issuance_total",
			Help: "ACME certificate issuance results by outcome (obtained, renewed, failed).",
		}, []string{"outcome"}),
	}
	for _, o := range []string{outcomeObtained, outcomeRenewed, outcomeFailed} {
		m.Issuance.WithLabelValues(o)
	}
	if reg == nil {
		return m, nil
	}
	// A Manager rebuilt on config reload shares the collectors already
	// registered, so the series carry on.
	var err error
	if m.Expiry, err = register(reg, m.Expiry); err != nil {
		return nil, err
	}
	if m.Issuance, err = register(reg, m.Issuance); err != nil {
		return nil, err
	}
	return m, nil
}

// setExpiry records leaf's expiry under each of its names.
func (m *Metrics) setExpiry(leaf *x509.Certificate) []string {
	names := certNames(leaf)
	for _, n := range names {
		m.Expiry.WithLabelValues(n).Set(float64(leaf.NotAfter.Unix()))
	}
	return names
}

func certNames(leaf *x509.Certificate) []string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = append(names, leaf.Subject.CommonName)
	}
	return names
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register tls metrics: %w", err)
	}
	return c, nil
}
