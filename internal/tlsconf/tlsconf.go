// Package tlsconf provides the proxy's TLS: automatic ACME certificates with certmagic, certificate files reloaded when they change, or none.
//
// A Manager is built from config.TLS by New, and the server uses it in four
// places: TLSConfig for the HTTPS listener, HTTPHandler for the plain-HTTP
// listener (ACME challenges, redirect to HTTPS), Ready, and
// Start/Close around serving. Nothing here is global: certmagic gets its own
// cache and configs (never certmagic.Default), and the logger, metrics
// registerer and clock come from Options.
package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
)

// Options configure New.
type Options struct {
	// TLS is the tls: section of the config (defaults applied, validated).
	TLS config.TLS
	// Redis is storage.redis: with a URL, mode acme keeps certificates,
	// the account, challenge answers and locks in Redis, shared by the
	// fleet, instead of in tls.acme.storage.
	Redis config.StorageRedis
	// RedisLockTTL is how long an issuance lock outlives a replica that
	// died holding it. Zero: redisstore.DefaultLockTTL (tests shorten it).
	RedisLockTTL time.Duration
	// Fleet, when set (storage.redis), makes the on-demand limits count
	// across every replica: tls.acme.onDemand.ratePerMinute is then the
	// fleet's issuance rate, and the ask URL's budget (ten times that) the
	// fleet's too. One round trip per decision that reaches a limit; while
	// Redis fails each replica falls back to its own budget
	// (ratelimit.Shared).
	Fleet *fleet.Redis
	// Names are the host names the sites serve (SiteHosts). In mode acme a
	// certificate is obtained for each one a CA can issue for: wildcards,
	// IP addresses and localhost names are skipped.
	Names []string
	// HTTPAddr and HTTPSAddr are the addresses the plain-HTTP and HTTPS
	// listeners are bound to (ln.Addr().String()). In mode acme the
	// challenge solvers answer through those listeners instead of binding
	// ports 80 and 443 themselves; the redirect goes to HTTPSAddr's port.
	HTTPAddr, HTTPSAddr string
	// RedirectPort overrides the port the HTTP handler redirects to, for a
	// listener reached through a different public port (8443 behind 443).
	// Empty: HTTPSAddr's port.
	RedirectPort string
	// Logger receives outcomes (issued, renewed, failed, reloaded, refused)
	// and certmagic's own messages (its info as debug). Nil: discard.
	Logger *slog.Logger
	// Registerer, if set, gets the collectors described on Metrics.
	Registerer prometheus.Registerer
	// Now is the clock for rate limits and expiry checks. Nil: time.Now.
	Now func() time.Time
	// AskClient calls tls.acme.onDemand.ask. Nil: a client with a 10s
	// timeout.
	AskClient *http.Client
	// Serves reports whether a site serves a host name (the router's
	// lookup). On-demand certificates are only for such names, and the
	// HTTP listener passes requests for other hosts to its next handler
	// (which refuses them) instead of redirecting them. Nil: every name.
	Serves func(host string) bool
}

// Manager is the certificate source of one mode. Its methods are safe for
// concurrent use.
type Manager struct {
	mode      string
	log       *slog.Logger
	now       func() time.Time
	metrics   *Metrics
	tlsConfig *tls.Config
	redirect  http.Handler
	serves    func(string) bool

	files *fileSource // mode files
	acme  *acmeSource // mode acme

	closeOnce sync.Once
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

// New checks the options and prepares the mode: in mode files it loads the
// pair (an error if it does not load), in mode acme it reads caRoots and
// makes sure the storage directory is writable. It starts nothing in the
// background and contacts no CA: call Start once the listeners are open.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Manager{mode: o.TLS.Mode, log: o.Logger, now: o.Now}
	if m.mode == config.TLSModeOff || m.mode == "" {
		m.mode = config.TLSModeOff
		return m, nil
	}
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	m.metrics = met
	port := o.RedirectPort
	if port == "" && o.HTTPSAddr != "" {
		_, port, _ = net.SplitHostPort(o.HTTPSAddr)
	}
	m.redirect = RedirectToHTTPS(port)
	m.serves = o.Serves

	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	protos := []string{"h2", "http/1.1"}
	switch m.mode {
	case config.TLSModeFiles:
		m.files, err = newFileSource(o.TLS.Files, o.Logger, o.Now, met)
		if err != nil {
			return nil, err
		}
		getCert = m.files.getCertificate
	case config.TLSModeACME:
		m.acme, err = newACMESource(ctx, o, met)
		if err != nil {
			return nil, err
		}
		getCert = m.acme.getCertificate
		if m.acme.tlsALPN {
			protos = append(protos, acmeTLS1Protocol)
		}
	default:
		return nil, fmt.Errorf("tls.mode %q: must be off, files or acme", o.TLS.Mode)
	}
	m.tlsConfig = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   modernCipherSuites,
		NextProtos:     protos,
		GetCertificate: getCert,
	}
	return m, nil
}

// acmeTLS1Protocol is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const acmeTLS1Protocol = "acme-tls/1"

// modernCipherSuites are the TLS 1.2 suites offered: forward secret AEADs
// only (Mozilla's "intermediate" list). TLS 1.3 suites are not
// configurable in Go and are all modern.
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the settings for the HTTPS listener (a new copy on each
// call), or nil in mode off, when there is no HTTPS listener. The
// certificate is chosen per handshake, so rotation and renewal need no
// restart.
func (m *Manager) TLSConfig() *tls.Config {
	if m.tlsConfig == nil {
		return nil
	}
	c := m.tlsConfig.Clone()
	c.NextProtos = slices.Clone(c.NextProtos)
	c.CipherSuites = slices.Clone(c.CipherSuites)
	return c
}

// Start begins the background work: in mode acme, obtaining and renewing
// the certificates (asynchronously, retried with backoff; see Ready); in
// mode files, checking the files every tls.files.reloadInterval. Call it
// after the listeners are open, because the CA validates through them. The
// work stops when ctx is cancelled or Close is called.
func (m *Manager) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.stop = cancel
	switch {
	case m.files != nil:
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.files.watch(ctx)
		}()
	case m.acme != nil:
		if err := m.acme.start(ctx, &m.wg); err != nil {
			cancel()
			return err
		}
	}
	return nil
}

// Close stops the background work and waits for it. It is safe to call
// more than once, and without Start.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		if m.stop != nil {
			m.stop()
		}
		m.wg.Wait()
		if m.acme != nil {
			m.acme.close()
		}
	})
	return nil
}

// Ready reports whether every managed name has a certificate: always nil
// in mode off and in mode files (New refused a pair that does not load).
// It is deliberately not a readiness condition: a replica kept out of
// rotation would never see the CA's validation requests, and one name
// whose DNS is not yet pointed here would take every site down. The
// expiry metric and the log say which names lack a certificate.
func (m *Manager) Ready() error {
	if m.acme != nil {
		return m.acme.ready()
	}
	return nil
}

// HTTPHandler returns the handler for the plain-HTTP listener. In mode off
// it is next itself: the site is served over plain HTTP. Otherwise next is
// not used: ACME HTTP-01 challenges are answered (mode acme with http-01)
// and every other request is redirected to the same URL over HTTPS with
// 308, which keeps the method and body.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if m.mode == config.TLSModeOff {
		return next
	}
	redirect := m.redirect
	if serves := m.serves; serves != nil {
		redirect = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !serves(host) {
				next.ServeHTTP(w, r) // a stranger: the router refuses it
				return
			}
			m.redirect.ServeHTTP(w, r)
		})
	}
	// Challenges first, for any host: only tokens certmagic is waiting
	// for are answered.
	if m.acme != nil && m.acme.http01 {
		return m.acme.challengeHandler(redirect)
	}
	return redirect
}

// SiteHosts returns every site's hosts, for Options.Names.
func SiteHosts(sites []config.Site) []string {
	var out []string
	for _, s := range sites {
		out = append(out, s.Hosts...)
	}
	return out
}

var errNotReady = errors.New("no certificate yet")
