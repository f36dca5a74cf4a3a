package tlsconf

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
)

// newPair makes a self-signed certificate for name, valid until
// notAfter, and its key; it returns the PEM bytes.
func newPair(t *testing.T, name string, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	p := testcert.New(t, notAfter, 0, name)
	return p.CertPEM, p.KeyPEM
}

// writeFiles writes the pair with a modification time of at, so that
// successive versions always look changed.
func writeFiles(t *testing.T, certFile, keyFile string, certPEM, keyPEM []byte, at time.Time) {
	t.Helper()
	for f, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// servedName handshakes with the Manager's TLS config and returns the
// served certificate's common name.
func servedName(t *testing.T, m *Manager) string {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	srv := tls.Server(c1, m.TLSConfig())
	go srv.Handshake()
	cl := tls.Client(c2, &tls.Config{InsecureSkipVerify: true, ServerName: "x.test", NextProtos: []string{"h2"}})
	cl.SetDeadline(time.Now().Add(5 * time.Second))
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	st := cl.ConnectionState()
	if st.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN %q, want h2", st.NegotiatedProtocol)
	}
	return st.PeerCertificates[0].Subject.CommonName
}

func TestFilesRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	t0 := time.Now().Add(-time.Hour)
	expA := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	ca, ka := newPair(t, "a.test", expA)
	writeFiles(t, certFile, keyFile, ca, ka, t0)

	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := New(ctx, Options{
		TLS:        config.TLS{Mode: config.TLSModeFiles, Files: config.TLSFiles{CertFile: certFile, KeyFile: keyFile, ReloadInterval: 20 * time.Millisecond}},
		HTTPSAddr:  "127.0.0.1:8443",
		Registerer: reg,
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Ready(); err != nil {
		t.Errorf("Ready() = %v", err)
	}
	if got := servedName(t, m); got != "a.test" {
		t.Fatalf("served %q, want a.test", got)
	}
	if got := testutil.ToFloat64(m.metrics.Expiry.WithLabelValues("a.test")); got != float64(expA.Unix()) {
		t.Errorf("expiry a.test = %v, want %v", got, expA.Unix())
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// A rotated pair is picked up by the poll, without a restart.
	cb, kb := newPair(t, "b.test", expA.Add(time.Hour))
	writeFiles(t, certFile, keyFile, cb, kb, t0.Add(time.Minute))
	for servedName(t, m) != "b.test" {
		select {
		case <-ctx.Done():
			t.Fatal("rotated certificate not served before the deadline")
		case <-time.After(10 * time.Millisecond):
		}
	}
	m.Close() // stop polling; the rest uses Reload directly
	if got := testutil.ToFloat64(m.metrics.Expiry.WithLabelValues("b.test")); got != float64(expA.Add(time.Hour).Unix()) {
		t.Errorf("expiry b.test = %v", got)
	}
	if m.metrics.Expiry.DeleteLabelValues("a.test") {
		t.Error("expiry series of the replaced a.test certificate was kept")
	}

	// Bad pairs are refused and the certificate in force is kept.
	cc, _ := newPair(t, "c.test", expA)
	cexp, kexp := newPair(t, "expired.test", time.Now().Add(-time.Hour))
	bad := []struct {
		name      string
		cert, key []byte
	}{
		{"key does not match", cc, kb},
		{"half written", cc[:len(cc)/2], kb},
		{"expired", cexp, kexp},
		{"empty", nil, nil},
	}
	for i, b := range bad {
		writeFiles(t, certFile, keyFile, b.cert, b.key, t0.Add(time.Duration(2+i)*time.Minute))
		if err := m.Reload(); err == nil {
			t.Errorf("%s: Reload() = nil, want refusal", b.name)
		}
		if err := m.Reload(); err != nil {
			t.Errorf("%s: second Reload() of the same files = %v, want nil (refused once)", b.name, err)
		}
		if got := servedName(t, m); got != "b.test" {
			t.Errorf("%s: served %q, want the old b.test", b.name, got)
		}
	}
	// A good pair after bad ones is taken.
	writeFiles(t, certFile, keyFile, ca, ka, t0.Add(time.Hour))
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedName(t, m); got != "a.test" {
		t.Errorf("served %q, want a.test", got)
	}
}

func TestFilesRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c, _ := newPair(t, "a.test", time.Now().Add(time.Hour))
	_, k := newPair(t, "b.test", time.Now().Add(time.Hour))
	writeFiles(t, certFile, keyFile, c, k, time.Now())
	_, err := New(context.Background(), Options{TLS: config.TLS{Mode: config.TLSModeFiles, Files: config.TLSFiles{CertFile: certFile, KeyFile: keyFile}}})
	if err == nil {
		t.Fatal("New accepted a key that does not match the certificate")
	}
}
