package server

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/maskaudit"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// Shared is what one process keeps across config reloads, so that a
// handler built from a new config (Build) carries on where the old one
// was: the collectors (registered once), the codecs, the masking audit's
// gaps, the signed-out agent sessions, and the upstream connection pool
// while its settings are unchanged.
type Shared struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Codecs  *encoding.Codecs
	Audit   *maskaudit.Store

	cspMetrics   *csp.Metrics
	tokenMetrics *token.Metrics
	revoked      *token.Revocations
	fleet        *fleet.Redis // nil: no storage.redis; limits stay per replica

	mu            sync.Mutex
	transport     *http.Transport
	transportOpts proxy.TransportOptions
}

// SharedOption configures NewShared.
type SharedOption func(*sharedOptions)

type sharedOptions struct {
	fleet *fleet.Redis
}

// WithFleet shares agent sign-outs, the masking audit's findings and the
// rate limits of the token, CSP report and mask report endpoints with
// every replica through Redis (storage.redis).
func WithFleet(r *fleet.Redis) SharedOption {
	return func(o *sharedOptions) { o.fleet = r }
}

// NewShared registers the collectors on m.Registerer and returns the state
// every Build shares. log may be nil (discard).
func NewShared(log *slog.Logger, m *metrics.Metrics, codecs *encoding.Codecs, opts ...SharedOption) *Shared {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o sharedOptions
	for _, opt := range opts {
		opt(&o)
	}
	revoked := &token.Revocations{}
	if o.fleet != nil {
		// Fail open: a Redis outage must not sign every agent out; sign-outs
		// made or seen on this replica stay refused (token.RevocationsOptions).
		revoked = token.NewRevocations(token.RevocationsOptions{Redis: o.fleet})
	}
	return &Shared{
		Log:          log,
		Metrics:      m,
		Codecs:       codecs,
		Audit:        maskaudit.New(maskaudit.Options{Registerer: m.Registerer, Logger: log, Redis: o.fleet}),
		cspMetrics:   csp.NewMetrics(m.Registerer),
		tokenMetrics: token.NewMetrics(m.Registerer),
		revoked:      revoked,
		fleet:        o.fleet,
	}
}

// upstreamTransport returns the transport for cfg: the one in use while
// the connection settings stay the same (its idle connections stay warm
// across a reload), else a new one, the old one's idle connections closed
// (requests still in flight on it finish).
func (sh *Shared) upstreamTransport(cfg *config.Config) *http.Transport {
	o := proxy.TransportOptions{
		DialTimeout:           cfg.Proxy.DialTimeout,
		TLSHandshakeTimeout:   cfg.Proxy.TLSHandshakeTimeout,
		ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout,
		IdleConnTimeout:       cfg.Proxy.IdleConnTimeout,
		MaxIdleConnsPerHost:   cfg.Proxy.MaxIdleConnsPerHost,
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.transport != nil && sh.transportOpts == o {
		return sh.transport
	}
	if sh.transport != nil {
		sh.transport.CloseIdleConnections()
	}
	sh.transport, sh.transportOpts = proxy.NewTransport(o), o
	return sh.transport
}
