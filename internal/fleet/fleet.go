// Package fleet is one replica's link to the state that the replicas of a
// fleet share in Redis: shared rate limits (internal/ratelimit), agent
// sign-outs (internal/token) and the masking audit (internal/maskaudit).
// Each of those keeps its local implementation and uses Redis through a
// *Redis when one is configured.
//
// Redis is a helper here, never a dependency of serving: every call is
// bounded by a short timeout, and when Redis fails the callers fall back
// to their local state. A failure opens a circuit: while it is open no
// request calls Redis at all (a dead or slow Redis costs a request nothing
// after the first failure). Every RetryAfter, the first request that finds
// the circuit open starts one probe in the background, a PING with the
// longer ProbeTimeout (time for a new connection's handshake, which takes
// several round trips to a distant Redis), and its success closes the
// circuit. A healthy fleet pays no extra round trip: nothing probes while
// the circuit is closed. Each transition is logged once and shown in
// cobrowse_proxy_redis_up.
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
	DefaultTimeout      = 200 * time.Millisecond
	DefaultRetryAfter   = time.Second
	DefaultProbeTimeout = 2 * time.Second
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
	// Redis is probed again (0: 1s).
	RetryAfter time.Duration
	// ProbeTimeout bounds a probe (0: 2s, and never less than Timeout).
	ProbeTimeout time.Duration
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
	client       redis.UniversalClient
	prefix       string
	timeout      time.Duration
	retryAfter   time.Duration
	probeTimeout time.Duration
	log          *slog.Logger
	now          func() time.Time
	afterProbe   func() // tests: called when a background probe ends

	up        prometheus.Gauge
	fallbacks [len(uses)]prometheus.Counter

	down    atomic.Bool
	retryAt atomic.Int64 // UnixNano before which an open circuit makes no call
	probing atomic.Bool  // a background probe is running
	outages atomic.Uint64
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
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	o.ProbeTimeout = max(o.ProbeTimeout, o.Timeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Redis{
		client: c, prefix: o.Prefix, timeout: o.Timeout, retryAfter: o.RetryAfter, probeTimeout: o.ProbeTimeout, log: o.Logger, now: o.Now,
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
// caller then serves from its local state. A caller's own cancellation
// changes nothing. While the circuit is open Do returns ErrDown at once,
// and starts a background probe when RetryAfter has passed.
func (r *Redis) Do(ctx context.Context, use Use, fn func(context.Context, redis.UniversalClient) error) error {
	if r.down.Load() {
		if r.now().UnixNano() >= r.retryAt.Load() && r.probing.CompareAndSwap(false, true) {
			go r.probe()
		}
		r.fallback(use)
		return ErrDown
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	err := fn(cctx, r.client)
	cancel()
	if err == nil || errors.Is(err, redis.Nil) || ctx.Err() != nil {
		return err // an answer, or the caller gave up: says nothing about Redis
	}
	r.open(ctx, err)
	r.fallback(use)
	return err
}

// Probe pings Redis within ctx, closing the circuit if it answers within
// Timeout and opening it if not. The first PING may open a connection (a
// handshake of several round trips); a second one, timed, must answer
// within Timeout, or the circuit would close only to open again on the
// next request, once per RetryAfter, logging both each time. The circuit
// probes by itself; call Probe at startup with a generous deadline to open
// the first connection before requests need it.
func (r *Redis) Probe(ctx context.Context) error {
	err := r.client.Ping(ctx).Err()
	if err == nil {
		start := time.Now()
		err = r.client.Ping(ctx).Err()
		if d := time.Since(start); err == nil && d > r.timeout {
			err = fmt.Errorf("redis answers a PING in %v, over the %v timeout", d.Round(time.Millisecond), r.timeout)
		}
	}
	if err != nil {
		r.open(ctx, err)
		return err
	}
	if r.down.CompareAndSwap(true, false) {
		r.up.Set(1)
		r.log.LogAttrs(ctx, slog.LevelInfo, "redis is back: shared limits, sign-outs and audit in use again")
	}
	return nil
}

func (r *Redis) probe() {
	defer func() {
		if r.afterProbe != nil {
			r.afterProbe()
		}
		r.probing.Store(false)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), r.probeTimeout)
	defer cancel()
	r.Probe(ctx)
}

// open opens the circuit (again) for RetryAfter, logging the transition.
func (r *Redis) open(ctx context.Context, err error) {
	r.retryAt.Store(r.now().Add(r.retryAfter).UnixNano())
	if r.down.CompareAndSwap(false, true) {
		r.outages.Add(1)
		r.up.Set(0)
		r.log.LogAttrs(ctx, slog.LevelWarn, "redis unavailable: falling back to local limits, sign-outs and audit",
			slog.String("error", err.Error()), slog.Duration("retry_after", r.retryAfter))
	}
}

// Outages counts the times the circuit opened. A user that keeps state in
// Redis compares it with the count at its last successful write to learn
// that Redis may have lost writes (restarted empty) and must be refilled.
func (r *Redis) Outages() uint64 { return r.outages.Load() }

func (r *Redis) fallback(use Use) {
	for i, u := range uses {
		if u == use {
			r.fallbacks[i].Inc()
			return
		}
	}
}
