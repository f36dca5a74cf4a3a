package tlsconf

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
)

// The expiry gauge holds a Unix time, so by Prometheus naming conventions
// its name ends in _timestamp_seconds; dashboards compute the time left as
// the value minus time().
func TestExpiryMetricName(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m.setExpiry(testcert.New(t, notAfter, 0, "a.test").Cert)
	want := `
# HELP cobrowse_proxy_tls_certificate_expiry_timestamp_seconds Expiry (NotAfter) of the certificate served for a name, as a Unix time.
# TYPE cobrowse_proxy_tls_certificate_expiry_timestamp_seconds gauge
cobrowse_proxy_tls_certificate_expiry_timestamp_seconds{name="a.test"} 1.893553445e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cobrowse_proxy_tls_certificate_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}
