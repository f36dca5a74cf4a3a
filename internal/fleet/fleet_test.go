package fleet

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

type harness struct {
	r   *Redis
	srv *redistest.Server
	reg *prometheus.Registry
	log *bytes.Buffer // written only by the test goroutine's calls

	mu  sync.Mutex
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{srv: redistest.Start(t), reg: prometheus.NewRegistry(), log: &bytes.Buffer{}, now: time.Unix(1_700_000_000, 0)}
	r, err := New(h.srv.Client(), Options{
		Prefix: "p:", Timeout: 100 * time.Millisecond, Registerer: h.reg,
		Logger: slog.New(slog.NewTextHandler(h.log, nil)),
		Now: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.now
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	return h
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func ping(ctx context.Context, c redis.UniversalClient) error { return c.Ping(ctx).Err() }

func (h *harness) metrics(t *testing.T, want string) {
	t.Helper()
	const head = `
# HELP cobrowse_proxy_redis_fallbacks_total Operations served from local state because Redis failed, timed out or its circuit was open, by use (ratelimit, revocations, maskaudit).
# TYPE cobrowse_proxy_redis_fallbacks_total counter
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(head+want), "cobrowse_proxy_redis_fallbacks_total"); err != nil {
		t.Error(err)
	}
}

// TestDoAnswers: a missing key (redis.Nil) is an answer, and a caller's
// own cancellation says nothing about Redis: neither opens the circuit.
func TestDoAnswers(t *testing.T) {
	h := newHarness(t)
	err := h.r.Do(t.Context(), UseRevocations, func(ctx context.Context, c redis.UniversalClient) error {
		return c.Get(ctx, "p:missing").Err()
	})
	if !errors.Is(err, redis.Nil) || !h.r.Up() {
		t.Fatalf("missing key: %v, up %v; want redis.Nil, up", err, h.r.Up())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.r.Do(ctx, UseRevocations, ping); err == nil || !h.r.Up() {
		t.Fatalf("cancelled caller: %v, up %v; want an error, still up", err, h.r.Up())
	}
	h.metrics(t, `cobrowse_proxy_redis_fallbacks_total{use="maskaudit"} 0
cobrowse_proxy_redis_fallbacks_total{use="ratelimit"} 0
cobrowse_proxy_redis_fallbacks_total{use="revocations"} 0
`)
}

// TestDoCircuit: a failure opens the circuit (one log line, redis_up 0);
// while it is open no call reaches fn; after RetryAfter the next call
// starts a background probe, whose success closes the circuit (one log
// line, redis_up 1).
func TestDoCircuit(t *testing.T) {
	h := newHarness(t)
	probed := make(chan struct{}, 1)
	h.r.afterProbe = func() { probed <- struct{}{} }
	h.srv.Stop()
	if err := h.r.Do(t.Context(), UseRateLimit, ping); err == nil || errors.Is(err, ErrDown) || h.r.Up() {
		t.Fatalf("Redis stopped: %v, up %v; want the client's error, down", err, h.r.Up())
	}
	h.srv.Start()
	calls := 0
	count := func(ctx context.Context, c redis.UniversalClient) error { calls++; return ping(ctx, c) }
	for range 3 {
		if err := h.r.Do(t.Context(), UseMaskAudit, count); !errors.Is(err, ErrDown) {
			t.Fatalf("circuit open: %v, want ErrDown", err)
		}
	}
	select {
	case <-probed:
		t.Fatal("a probe before RetryAfter")
	default:
	}
	if v := testutil.ToFloat64(h.r.up); v != 0 {
		t.Errorf("circuit open: redis_up %v", v)
	}
	h.advance(DefaultRetryAfter)
	if err := h.r.Do(t.Context(), UseMaskAudit, count); !errors.Is(err, ErrDown) {
		t.Fatalf("the call that starts the probe: %v, want ErrDown (it does not wait)", err)
	}
	<-probed
	if err := h.r.Do(t.Context(), UseMaskAudit, count); err != nil || calls != 1 || !h.r.Up() {
		t.Fatalf("after the probe: %v, %d calls, up %v; want success, 1, up", err, calls, h.r.Up())
	}
	if v := testutil.ToFloat64(h.r.up); v != 1 {
		t.Errorf("closed again: redis_up %v", v)
	}
	if n := h.r.Outages(); n != 1 {
		t.Errorf("Outages %d, want 1", n)
	}
	log := h.log.String()
	if strings.Count(log, "redis unavailable") != 1 || strings.Count(log, "redis is back") != 1 {
		t.Errorf("want one line per transition:\n%s", log)
	}
	h.metrics(t, `cobrowse_proxy_redis_fallbacks_total{use="maskaudit"} 4
cobrowse_proxy_redis_fallbacks_total{use="ratelimit"} 1
cobrowse_proxy_redis_fallbacks_total{use="revocations"} 0
`)
}

// TestDoOneProbe: while a probe runs no other starts, and a failed probe
// leaves the circuit open.
func TestDoOneProbe(t *testing.T) {
	h := newHarness(t)
	inProbe, release := make(chan struct{}), make(chan struct{})
	var probes atomic.Int32
	h.r.afterProbe = func() {
		if probes.Add(1) == 1 {
			close(inProbe)
		}
		<-release
	}
	h.srv.Stop()
	h.r.Do(t.Context(), UseRateLimit, ping)
	h.advance(DefaultRetryAfter)
	h.r.Do(t.Context(), UseRateLimit, ping) // starts the probe
	<-inProbe
	h.advance(DefaultRetryAfter) // past the failed probe's RetryAfter, while it still runs
	h.r.Do(t.Context(), UseRateLimit, ping)
	close(release)
	if n := probes.Load(); n != 1 {
		t.Fatalf("%d probes at once, want 1", n)
	}
	for h.r.probing.Load() { // the probe's goroutine ends
		runtime.Gosched()
	}
	if h.r.Up() {
		t.Fatal("a failed probe closed the circuit")
	}
}

// TestProbe: Probe closes the circuit when Redis answers and opens it
// when not.
func TestProbe(t *testing.T) {
	h := newHarness(t)
	h.srv.Stop()
	if err := h.r.Probe(t.Context()); err == nil || h.r.Up() {
		t.Fatalf("stopped: Probe %v, up %v", err, h.r.Up())
	}
	h.srv.Start()
	if err := h.r.Probe(t.Context()); err != nil || !h.r.Up() {
		t.Fatalf("started: Probe %v, up %v", err, h.r.Up())
	}
}

// TestProbeTooSlow: a Redis that answers, but slower than Timeout, keeps
// the circuit open (closing it would only fail the next request).
func TestProbeTooSlow(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Delayed(t, 100*time.Millisecond), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	r, err := New(c, Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Probe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "over the 100ms timeout") || r.Up() {
		t.Fatalf("Probe of a Redis 200ms away = %v, up %v; want too slow, down", err, r.Up())
	}
}

// TestNewNeedsContextTimeout: a client whose reads ignore the context's
// deadline is refused, naming the option.
func TestNewNeedsContextTimeout(t *testing.T) {
	for _, c := range []redis.UniversalClient{
		redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}),
		redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}),
	} {
		defer c.Close()
		if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "ContextTimeoutEnabled") {
			t.Errorf("%T: New = %v, want an error naming ContextTimeoutEnabled", c, err)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}
