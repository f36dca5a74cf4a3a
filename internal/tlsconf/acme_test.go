package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// acmeRig is the proxy side of an ACME test: both listeners on loopback,
// served the way internal/server serves them, with a Manager against an
// in-process Pebble.
type acmeRig struct {
	m         *Manager
	pebble    *testPebble
	reg       *prometheus.Registry
	httpAddr  string
	httpsAddr string
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newACMERig(t *testing.T, ctx context.Context, names []string, mutate func(a *config.TLSACME), more ...func(o *Options, p *testPebble)) *acmeRig {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, hp := splitPort(httpLn.Addr().String())
	_, tp := splitPort(httpsLn.Addr().String())
	p := startPebble(t, hp, tp)
	return startACMERig(t, ctx, httpLn, httpsLn, p, names, mutate, more...)
}

// startACMERig serves a Manager on the listeners against Pebble p; more
// adjust its Options (Redis storage, say).
func startACMERig(t *testing.T, ctx context.Context, httpLn, httpsLn net.Listener, p *testPebble, names []string, mutate func(a *config.TLSACME), more ...func(o *Options, p *testPebble)) *acmeRig {
	t.Helper()

	a := config.TLSACME{
		Email:      "ops@example.com",
		CA:         p.Directory,
		CARoots:    p.HTTPSRoots,
		Challenges: []string{config.ChallengeHTTP01, config.ChallengeTLSALPN01},
		Storage:    t.TempDir(),
		OnDemand:   config.TLSOnDemand{RatePerMinute: 10},
	}
	if mutate != nil {
		mutate(&a)
	}
	reg := prometheus.NewRegistry()
	o := Options{
		TLS:        config.TLS{Mode: config.TLSModeACME, ACME: a},
		Names:      names,
		HTTPAddr:   httpLn.Addr().String(),
		HTTPSAddr:  httpsLn.Addr().String(),
		Logger:     testLogger(t),
		Registerer: reg,
	}
	for _, f := range more {
		f(&o, p)
	}
	m, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.Host)
	})
	httpSrv := &http.Server{Handler: m.HTTPHandler(app), ReadHeaderTimeout: 5 * time.Second}
	httpsSrv := &http.Server{Handler: app, TLSConfig: m.TLSConfig(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(testLogger(t).Handler(), slog.LevelDebug)}
	go httpSrv.Serve(httpLn)
	go httpsSrv.ServeTLS(httpsLn, "", "")
	t.Cleanup(func() {
		httpSrv.Close()
		httpsSrv.Close()
		m.Close()
	})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &acmeRig{m: m, pebble: p, reg: reg, httpAddr: httpLn.Addr().String(), httpsAddr: httpsLn.Addr().String()}
}

// client connects every request to the rig's HTTPS listener, trusting only
// Pebble's issuing root.
func (r *acmeRig) client() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: r.pebble.IssuerRoots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, r.httpsAddr)
			},
		},
	}
}

func waitReady(t *testing.T, ctx context.Context, m *Manager) {
	t.Helper()
	for {
		err := m.Ready()
		if err == nil {
			return
		}
		if !errors.Is(err, errNotReady) {
			t.Fatalf("Ready() = %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no certificate before the deadline: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkServes fetches https://name/ and checks the chain verifies to
// Pebble's root for name and that HTTP/2 was negotiated.
func (r *acmeRig) checkServes(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+name+"/", nil)
	resp, err := r.client().Do(req)
	if err != nil {
		t.Fatalf("GET https://%s/: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hello from "+name {
		t.Errorf("GET https://%s/ = %d %q", name, resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 || resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("protocol %s (ALPN %q), want HTTP/2", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	if len(resp.TLS.VerifiedChains) == 0 {
		t.Fatal("no verified chain")
	}
	leaf := resp.TLS.VerifiedChains[0][0]
	if err := leaf.VerifyHostname(name); err != nil {
		t.Error(err)
	}
	chain := resp.TLS.VerifiedChains[0]
	if root := chain[len(chain)-1]; !strings.Contains(root.Subject.CommonName, "Pebble") {
		t.Errorf("chain ends at %q, want Pebble's root", root.Subject.CommonName)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x", resp.TLS.Version)
	}
}

func (r *acmeRig) checkMetrics(t *testing.T, name string, obtained int) {
	t.Helper()
	met := r.m.metrics
	if got := testutil.ToFloat64(met.Issuance.WithLabelValues(outcomeObtained)); got != float64(obtained) {
		t.Errorf("issuance obtained = %v, want %d", got, obtained)
	}
	if got := testutil.ToFloat64(met.Issuance.WithLabelValues(outcomeFailed)); got != 0 {
		t.Errorf("issuance failed = %v, want 0", got)
	}
	exp := testutil.ToFloat64(met.Expiry.WithLabelValues(name))
	if now := float64(time.Now().Unix()); exp < now+3600 {
		t.Errorf("expiry gauge for %s = %v, want well after now (%v)", name, exp, now)
	}
	// The periodic refresh reads it back from the cache (what keeps it
	// right when another replica renews).
	met.Expiry.WithLabelValues(name).Set(0)
	r.m.acme.refreshExpiry()
	if got := testutil.ToFloat64(met.Expiry.WithLabelValues(name)); got != exp {
		t.Errorf("expiry after refresh = %v, want %v", got, exp)
	}
	families, err := r.reg.Gather()
	if err != nil || len(families) != 2 {
		t.Errorf("gathered %d families from the registerer, err %v", len(families), err)
	}
}

func TestACMEHTTP01(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const name = "shop.test"
	r := newACMERig(t, ctx, []string{name, "*.wild.test", "shop.localhost", "127.0.0.1"}, func(a *config.TLSACME) {
		a.Challenges = []string{config.ChallengeHTTP01}
	})
	if protos := r.m.TLSConfig().NextProtos; strings.Join(protos, ",") != "h2,http/1.1" {
		t.Errorf("NextProtos = %v without tls-alpn-01", protos)
	}
	waitReady(t, ctx, r.m)
	r.checkServes(t, ctx, name)
	r.checkMetrics(t, name, 1)

	// The plain-HTTP listener redirects everything that is not a challenge.
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, tlsPort := splitPort(r.httpsAddr)
	for _, path := range []string{"/cart?id=7", "/.well-known/acme-challenge/unknown-token"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.httpAddr+path, nil)
		req.Host = name
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "https://" + name + ":" + strconv.Itoa(tlsPort) + path
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("POST %s = %d %q, want 308 %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

func TestACMETLSALPN01(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const name = "alpn.test"
	r := newACMERig(t, ctx, nil, func(a *config.TLSACME) {
		a.Challenges = []string{config.ChallengeTLSALPN01}
		a.Domains = []string{name}
	})
	if protos := r.m.TLSConfig().NextProtos; strings.Join(protos, ",") != "h2,http/1.1,acme-tls/1" {
		t.Errorf("NextProtos = %v", protos)
	}
	waitReady(t, ctx, r.m)
	r.checkServes(t, ctx, name)
	r.checkMetrics(t, name, 1)
}

func TestACMEOnDemand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := newACMERig(t, ctx, nil, func(a *config.TLSACME) {
		a.OnDemand = config.TLSOnDemand{Enabled: true, Allow: []string{"*.customers.test"}, RatePerMinute: 5}
	})
	if err := r.m.Ready(); err != nil {
		t.Fatalf("Ready() with no listed names = %v", err)
	}
	// An allowed name is obtained during its first handshake.
	r.checkServes(t, ctx, "acme-corp.customers.test")
	r.checkMetrics(t, "acme-corp.customers.test", 1)

	// A name outside the allow-list is refused without asking the CA.
	for _, name := range []string{"evil.test", "a.b.customers.test"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+name+"/", nil)
		resp, err := r.client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET https://%s/ succeeded, want a refused handshake", name)
		}
	}
	if got := testutil.ToFloat64(r.m.metrics.Issuance.WithLabelValues(outcomeObtained)); got != 1 {
		t.Errorf("issuance obtained = %v after refusals, want 1", got)
	}
}
