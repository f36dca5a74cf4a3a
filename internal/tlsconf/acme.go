package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redisstore"
)

// acmeSource obtains and renews certificates with certmagic.
//
// Two certmagic configs share one cache and one storage: managed holds the
// listed names and obtains them up front (with OnDemand set, certmagic would
// defer even listed names to the first handshake), and onDemand, present
// only when tls.acme.onDemand is enabled, serves the handshakes and obtains
// certificates for unlisted names its decision allows. Neither touches
// certmagic.Default.
type acmeSource struct {
	log     *slog.Logger
	metrics *Metrics
	storage certmagic.Storage
	// closeStorage releases a Redis storage and its client; nil for the
	// file storage.
	closeStorage func()
	cache        *certmagic.Cache
	names        []string
	listed       map[string]bool

	managed  *certmagic.Config
	onDemand *certmagic.Config // nil unless enabled
	serve    *certmagic.Config // the config handshakes go through
	issuer   *certmagic.ACMEIssuer

	http01, tlsALPN bool
	stop            context.CancelFunc // ends the expiry refresh

	mu            sync.Mutex
	onDemandNames map[string]bool // on-demand names with a certificate, for the expiry refresh
}

// caRoots reads tls.acme.caRoots (a PEM bundle of the CA's roots, for a
// private CA); nil, the system roots, when path is empty.
func caRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pemData, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tls.acme.caRoots: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("tls.acme.caRoots %s: no PEM certificate found", path)
	}
	return roots, nil
}

// listNames keeps the names a certificate can be issued for, lower case
// and without a trailing dot, each once; it logs the others (wildcards, IP
// addresses, localhost).
func (s *acmeSource) listNames(names []string) {
	var skipped []string
	for _, n := range names {
		n = strings.TrimRight(strings.ToLower(n), ".")
		switch {
		case s.listed[n]:
		case !issuable(n):
			skipped = append(skipped, n)
		default:
			s.listed[n] = true
			s.names = append(s.names, n)
		}
	}
	if len(skipped) > 0 {
		s.log.Info("tls: no ACME certificate for wildcard, IP and localhost names", "names", skipped)
	}
}

func newACMESource(ctx context.Context, o Options, met *Metrics) (*acmeSource, error) {
	a := o.TLS.ACME
	roots, err := caRoots(a.CARoots)
	if err != nil {
		return nil, err
	}
	s := &acmeSource{
		log:     o.Logger,
		metrics: met,
		http01:  slices.Contains(a.Challenges, config.ChallengeHTTP01),
		tlsALPN: slices.Contains(a.Challenges, config.ChallengeTLSALPN01),
		listed:  map[string]bool{},
	}
	if !s.http01 && !s.tlsALPN {
		return nil, fmt.Errorf("tls.acme.challenges: enable %s or %s", config.ChallengeHTTP01, config.ChallengeTLSALPN01)
	}
	if err := s.openStorage(o); err != nil {
		return nil, err
	}
	s.listNames(append(slices.Clone(o.Names), a.Domains...))

	zl := zap.New(newSlogCore(o.Logger.With("component", "certmagic")))
	s.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(c certmagic.Certificate) (*certmagic.Config, error) {
			for _, n := range c.Names {
				if !s.listed[n] && s.onDemand != nil {
					return s.onDemand, nil
				}
			}
			return s.managed, nil
		},
		Logger: zl,
	})
	listenHost, httpPort := splitPort(o.HTTPAddr)
	tlsHost, tlsPort := splitPort(o.HTTPSAddr)
	if !s.http01 {
		listenHost = tlsHost
	}
	newConfig := func(od *certmagic.OnDemandConfig) (*certmagic.Config, *certmagic.ACMEIssuer) {
		cfg := certmagic.New(s.cache, certmagic.Config{
			Storage:        s.storage,
			Logger:         zl,
			OnEvent:        s.onEvent,
			ShouldEmitFunc: shouldEmit,
			OnDemand:       od,
		})
		iss := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
			CA:                      a.CA,
			Email:                   a.Email,
			Agreed:                  true,
			DisableHTTPChallenge:    !s.http01,
			DisableTLSALPNChallenge: !s.tlsALPN,
			// The solvers try to bind these addresses, find them taken by
			// our own listeners and leave the answers to HTTPHandler and
			// GetCertificate, which share certmagic's challenge memory
			// and, across replicas, the storage.
			ListenHost:     listenHost,
			AltHTTPPort:    httpPort,
			AltTLSALPNPort: tlsPort,
			TrustedRoots:   roots,
			Logger:         zl,
		})
		cfg.Issuers = []certmagic.Issuer{iss}
		return cfg, iss
	}
	s.managed, s.issuer = newConfig(nil)
	s.serve = s.managed
	if a.OnDemand.Enabled {
		d := newDecider(a.OnDemand, s.listed, o)
		var odIssuer *certmagic.ACMEIssuer
		s.onDemand, odIssuer = newConfig(&certmagic.OnDemandConfig{DecisionFunc: d.decide})
		d.stored = func(ctx context.Context, name string) bool {
			return s.storage.Exists(ctx, certmagic.StorageKeys.SiteCert(odIssuer.IssuerKey(), name))
		}
		s.serve = s.onDemand
	}
	return s, nil
}

// openStorage picks where certificates, the ACME account, challenge
// answers and locks live: Redis when storage.redis.url is set (a fleet
// shares it; see docs/fleet.md), else the tls.acme.storage directory.
//
// With Redis, replicas coordinate through certmagic's own protocol: the
// obtain/renew lock (one order per name for the fleet), the challenge
// answers it stores (distributed solving: any replica answers the CA),
// and the storage check before each renewal (a replica whose cached
// certificate enters its renewal window loads the one another replica
// already renewed instead of ordering again).
func (s *acmeSource) openStorage(o Options) error {
	r := o.Redis
	if r.URL == "" {
		if err := checkStorage(o.TLS.ACME.Storage); err != nil {
			return err
		}
		s.storage = &certmagic.FileStorage{Path: o.TLS.ACME.Storage}
		return nil
	}
	client, err := redisstore.NewClient(r)
	if err != nil {
		return err
	}
	st, err := redisstore.New(client, redisstore.Options{
		Prefix:        r.KeyPrefix,
		Timeout:       r.Timeout,
		EncryptionKey: r.EncryptionKey,
		LockTTL:       o.RedisLockTTL,
		Logger:        o.Logger,
	})
	if err != nil {
		client.Close()
		return err
	}
	s.storage = st
	s.closeStorage = func() {
		st.Close()
		client.Close()
	}
	s.log.Info("tls: ACME certificates, account and locks in Redis", "redis", r)
	return nil
}

// issuable reports whether an ACME CA can be asked for name over HTTP-01 or
// TLS-ALPN-01: not a wildcard (DNS-01 only), not an IP address (few CAs,
// and not with these site hosts in mind), not localhost (never public).
func issuable(name string) bool {
	if name == "" || strings.HasPrefix(name, "*.") || name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return false
	}
	_, err := netip.ParseAddr(name)
	return err != nil
}

func splitPort(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// checkStorage creates dir if needed and proves it writable, so a
// read-only mount fails at start-up rather than after a certificate was
// paid for with a CA request.
func checkStorage(dir string) error {
	if dir == "" {
		return fmt.Errorf("tls.acme.storage is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls.acme.storage %s: %w; mount a writable volume there (replicas must share it)", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("tls.acme.storage %s is not writable: %w; mount a writable volume there (replicas must share it)", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// start manages the certificates and starts the expiry refresh, tracked by
// wg so that Manager.Close waits for it.
func (s *acmeSource) start(ctx context.Context, wg *sync.WaitGroup) error {
	if len(s.names) == 0 {
		return nil
	}
	if err := s.managed.ManageAsync(ctx, s.names); err != nil {
		return fmt.Errorf("manage certificates for %v: %w", s.names, err)
	}
	// certmagic emits no event when this replica's cache picks up a
	// certificate another replica renewed in the shared storage; refresh
	// the expiry gauge from the cache so it never goes stale.
	rctx, cancel := context.WithCancel(ctx)
	s.stop = cancel
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(expiryRefresh)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				s.refreshExpiry()
			}
		}
	}()
	return nil
}

// noteOnDemand remembers an on-demand name that has a certificate, so the
// expiry refresh covers it.
func (s *acmeSource) noteOnDemand(name string) {
	if name == "" || s.listed[name] {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onDemandNames == nil {
		s.onDemandNames = map[string]bool{}
	}
	s.onDemandNames[name] = true
}

// expiryRefresh is how often the expiry gauge is read from the cache.
const expiryRefresh = time.Minute

func (s *acmeSource) refreshExpiry() {
	names := slices.Clone(s.names)
	s.mu.Lock()
	for n := range s.onDemandNames {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		var latest *x509.Certificate // during a renewal the cache may hold both
		for _, c := range s.cache.AllMatchingCertificates(n) {
			if c.Leaf != nil && (latest == nil || c.Leaf.NotAfter.After(latest.NotAfter)) {
				latest = c.Leaf
			}
		}
		if latest != nil {
			s.metrics.Expiry.WithLabelValues(n).Set(float64(latest.NotAfter.Unix()))
		}
	}
}

func (s *acmeSource) close() {
	if s.stop != nil {
		s.stop()
	}
	s.cache.Stop()
	if s.closeStorage != nil {
		s.closeStorage()
	}
}

func (s *acmeSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.serve.GetCertificate(hello)
}

func (s *acmeSource) ready() error {
	var missing []string
	for _, n := range s.names {
		if len(s.cache.AllMatchingCertificates(n)) == 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w for %s", errNotReady, strings.Join(missing, ", "))
	}
	return nil
}

const acmeChallengePath = "/.well-known/acme-challenge/"

func (s *acmeSource) challengeHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, acmeChallengePath) && s.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// certmagic events used by onEvent; nothing else is emitted, which keeps
// the per-handshake event off the hot path.
const (
	eventObtained = "cert_obtained"
	eventFailed   = "cert_failed"
	eventCached   = "cached_managed_cert"
)

func shouldEmit(event string) bool {
	return event == eventObtained || event == eventFailed || event == eventCached
}

// onEvent turns certmagic's events into metrics and log lines. It is called
// synchronously by certmagic and never vetoes anything.
func (s *acmeSource) onEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case eventObtained:
		s.noteOnDemand(name)
		outcome := outcomeObtained
		if renewal {
			outcome = outcomeRenewed
		}
		s.metrics.Issuance.WithLabelValues(outcome).Inc()
		s.log.Info("tls certificate "+outcome, "name", name, "issuer", data["issuer"])
		if p, ok := data["certificate_path"].(string); ok {
			s.expiryFromStorage(ctx, p)
		}
	case eventFailed:
		s.metrics.Issuance.WithLabelValues(outcomeFailed).Inc()
		s.log.Error("tls certificate not obtained; certmagic retries with backoff", "name", name, "renewal", renewal, "error", data["error"])
	case eventCached:
		sans, _ := data["sans"].([]string)
		for _, n := range sans {
			s.noteOnDemand(n)
			for _, c := range s.cache.AllMatchingCertificates(n) {
				if c.Leaf != nil {
					s.metrics.setExpiry(c.Leaf)
				}
			}
		}
	}
	return nil
}

func (s *acmeSource) expiryFromStorage(ctx context.Context, key string) {
	data, err := s.storage.Load(ctx, key)
	if err != nil {
		s.log.Warn("tls: read obtained certificate for metrics", "error", err)
		return
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return
	}
	if leaf, err := x509.ParseCertificate(block.Bytes); err == nil {
		s.metrics.setExpiry(leaf)
	}
}
