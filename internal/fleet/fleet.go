// Package fleet is one replica's link to the state that the replicas of a
// fleet share in Redis: shared rate limits (internal/ratelimit), agent
// sign-outs (internal/token) and the masking audit (internal/maskaudit).
// Each of those keeps its local implementation and uses Redis through a
// *Redis when one is configured.
//
// Redis is a helper here, never a dependency of serving: every call is
// bounded by a short timeout, and when Redis fails the callers fall back
// to their local state. A failure opens a circuit: for RetryAfter no call
// goes to Redis at all (a dead Redis costs nothing per request), then one
// request is let through as the probe, and its success closes the circuit
// again. There is no separate health check: the probe is a real request,
// so a healthy fleet pays no extra round trip. Each transition is logged
// once and shown in cobrowse_proxy_redis_up.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults for the zero Options.
const (
	DefaultTimeout    = 200 * time.Millisecond
	DefaultRetryAfter = time.Second
)

// Use names a user of Redis, the use label of the fallback counter (a
// fixed set).
type Use string

// The users of Redis.
const (
	UseRateLimit   Use = "ratelimit"
	UseRevocations Use = "revocations"
	UseMaskAudit   Use = "maskaudit"
)

var uses = [...]Use{UseRateLimit, UseRevocations, UseMaskAudit}

// ErrDown is returned, without a call to Redis, while the circuit is open.
var ErrDown = errors.New("redis: unavailable, using local state")

// Options configure a Redis.
type Options struct {
	// Prefix starts every key ("cobrowse:" say), so several fleets can
	// share one Redis and an ACL can confine a fleet to its keys.
	Prefix string
	// Timeout bounds each call (0: 200ms). It is applied through the
	// context, so the client must have ContextTimeoutEnabled (New checks).
	Timeout time.Duration
	// RetryAfter is how long the circuit stays open after a failure before
	// one request probes Redis again (0: 1s).
	RetryAfter time.Duration
	// Registerer receives cobrowse_proxy_redis_up and
	// cobrowse_proxy_redis_fallbacks_total{use}; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives one line per transition (down, back); nil logs nothing.
	Logger *slog.Logger
	// Now is the clock of the circuit (nil: time.Now).
	Now func() time.Time
}

// Redis is the client, the key prefix and the circuit. It is safe for
// concurrent use; one is shared by all users in a process.
type Redis struct {
	client     redis.UniversalClient
	prefix     string
	timeout    time.Duration
	retryAfter time.Duration
	log        *slog.Logger
	now        func() time.Time

	up        prometheus.Gauge
	fallbacks [len(uses)]prometheus.Counter

	down    atomic.Bool
	retryAt atomic.Int64 // UnixNano before which an open circuit makes no call
	probing atomic.Bool  // one request is probing an open circuit
}

// New returns a Redis over c. It makes no call; the circuit starts closed
// (cobrowse_proxy_redis_up 1) and the first failing call opens it.
//
// c must bound socket reads by the context's deadline
// (redis.Options.ContextTimeoutEnabled): without it a Redis that stops
// answering holds each request for the client's ReadTimeout (3s by
// default) instead of Timeout. New refuses such a client when it can see
// its options.
func New(c redis.UniversalClient, o Options) (*Redis, error) {
	if c == nil {
		return nil, errors.New("fleet: no redis client")
	}
	if err := checkContextTimeout(c); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Redis{
		client: c, prefix: o.Prefix, timeout: o.Timeout, retryAfter: o.RetryAfter, log: o.Logger, now: o.Now,
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobrowse_proxy_redis_up",
			Help: "1 while Redis answers (shared limits, sign-outs and audit in use), 0 while this replica falls back to its local state.",
		}),
	}
	fb := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cobrowse_proxy_redis_fallbacks_total",
		Help: "Operations served from local state because Redis failed, timed out or its circuit was open, by use (ratelimit, revocations, maskaudit).",
	}, []string{"use"})
	for i, u := range uses {
		r.fallbacks[i] = fb.WithLabelValues(string(u))
	}
	r.up.Set(1)
	if o.Registerer != nil {
		if err := o.Registerer.Register(r.up); err != nil {
			return nil, fmt.Errorf("fleet: register metrics: %w", err)
		}
		if err := o.Registerer.Register(fb); err != nil {
			return nil, fmt.Errorf("fleet: register metrics: %w", err)
		}
	}
	return r, nil
}

// checkContextTimeout refuses a client whose options show that a
// context's deadline would not bound its socket reads.
func checkContextTimeout(c redis.UniversalClient) error {
	var enabled, known bool
	switch v := c.(type) {
	case interface{ Options() *redis.Options }:
		enabled, known = v.Options().ContextTimeoutEnabled, true
	case interface{ Options() *redis.ClusterOptions }:
		enabled, known = v.Options().ContextTimeoutEnabled, true
	}
	if known && !enabled {
		return errors.New("fleet: the redis client must be built with ContextTimeoutEnabled: true, so the per-call timeout bounds a Redis that stops answering")
	}
	return nil
}

// Prefix is the key prefix.
func (r *Redis) Prefix() string { return r.prefix }

// Up reports whether the circuit is closed (the last call succeeded).
func (r *Redis) Up() bool { return !r.down.Load() }

// Do calls fn with the client and a context bounded by Timeout, unless the
// circuit is open. An error from fn other than redis.Nil (a missing key,
// which is an answer) opens the circuit and counts a fallback for use; the
// caller then serves from its local state. A probe that succeeds closes
// the circuit. A caller's own cancellation changes nothing.
func (r *Redis) Do(ctx context.Context, use Use, fn func(context.Context, redis.UniversalClient) error) error {
	if r.down.Load() {
		if r.now().UnixNano() < r.retryAt.Load() || !r.probing.CompareAndSwap(false, true) {
			r.fallback(use)
			return ErrDown
		}
		defer r.probing.Store(false)
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	err := fn(cctx, r.client)
	cancel()
	if err == nil || errors.Is(err, redis.Nil) {
		if r.down.Load() && r.down.CompareAndSwap(true, false) {
			r.up.Set(1)
			r.log.LogAttrs(ctx, slog.LevelInfo, "redis is back: shared limits, sign-outs and audit in use again")
		}
		return err
	}
	if ctx.Err() != nil {
		return err // the caller gave up: says nothing about Redis
	}
	r.retryAt.Store(r.now().Add(r.retryAfter).UnixNano())
	if r.down.CompareAndSwap(false, true) {
		r.up.Set(0)
		r.log.LogAttrs(ctx, slog.LevelWarn, "redis unavailable: falling back to local limits, sign-outs and audit",
			slog.String("error", err.Error()), slog.Duration("retry_after", r.retryAfter))
	}
	r.fallback(use)
	return err
}

func (r *Redis) fallback(use Use) {
	for i, u := range uses {
		if u == use {
			r.fallbacks[i].Inc()
			return
		}
	}
}
