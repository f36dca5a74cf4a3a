package tlsconf

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// testPebble is Let's Encrypt's test CA running in this process, wired as
// cmd/pebble/main.go does, with real challenge validation: its VA resolves
// names through testDNS (every name is 127.0.0.1) and connects to the ports
// the test's own listeners use.
type testPebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// HTTPSRoots is a PEM file trusting Pebble's own HTTPS (tls.acme.caRoots).
	HTTPSRoots string
	// IssuerRoots trusts the certificates Pebble issues.
	IssuerRoots *x509.CertPool
}

func startPebble(t *testing.T, httpPort, tlsPort int) *testPebble {
	t.Helper()
	return startPebbleWrapped(t, httpPort, tlsPort, nil)
}

// startPebbleWrapped is startPebble with wrap around Pebble's ACME
// handler (to count orders, say); nil: none.
func startPebbleWrapped(t *testing.T, httpPort, tlsPort int, wrap func(http.Handler) http.Handler) *testPebble {
	t.Helper()
	// Speed only: no random 0-5s sleep before each validation and no
	// deliberately rejected nonces. Validation itself stays real
	// (PEBBLE_VA_ALWAYS_VALID is not set).
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "")

	logger := log.New(io.Discard, "pebble ", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.Lmicroseconds)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test profile"},
	})
	validator := va.New(logger, httpPort, tlsPort, false, startDNS(t), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	var h http.Handler = front.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roots := filepath.Join(t.TempDir(), "pebble-https.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(roots, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := x509.NewCertPool()
	issuer.AddCert(authority.GetRootCert(0).Cert)
	return &testPebble{Directory: srv.URL + "/dir", HTTPSRoots: roots, IssuerRoots: issuer}
}

// startDNS serves A 127.0.0.1 for every name, and no AAAA, over TCP (what
// Pebble's VA uses) on loopback. It returns the address.
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Net: "tcp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA && strings.HasSuffix(qq.Name, ".test.") {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}
