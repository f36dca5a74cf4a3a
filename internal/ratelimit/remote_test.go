package ratelimit

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// replica is one proxy's view of the fleet: its own client, registry,
// log and circuit clock, sharing the Redis server with the others.
type replica struct {
	redis *fleet.Redis
	reg   *prometheus.Registry
	log   *syncBuffer
	clock atomic.Int64 // UnixNano of the circuit's clock
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newReplica(t *testing.T, srv *redistest.Server, prefix string) *replica {
	t.Helper()
	rp := &replica{reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	rp.clock.Store(time.Unix(1_700_000_000, 0).UnixNano())
	r, err := fleet.New(srv.Client(), fleet.Options{
		Prefix: prefix, Timeout: 300 * time.Millisecond, Registerer: rp.reg,
		Logger: slog.New(slog.NewTextHandler(rp.log, nil)),
		Now:    func() time.Time { return time.Unix(0, rp.clock.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	rp.redis = r
	return rp
}

func (rp *replica) up(t *testing.T) float64 {
	t.Helper()
	return gauge(t, rp.reg, "cobrowse_proxy_redis_up", "")
}

func (rp *replica) fallbacks(t *testing.T) float64 {
	t.Helper()
	return gauge(t, rp.reg, "cobrowse_proxy_redis_fallbacks_total", "ratelimit")
}

// gauge reads one sample of name (with use=label when label is not empty).
func gauge(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("%s{use=%q} not found", name, label)
	return 0
}

var addrA = netip.MustParseAddr("192.0.2.1")

// TestSharedFleetWideRate: two replicas sharing one Redis allow the
// limit's burst once between them, not once each; a different limiter
// name or key prefix is a different bucket.
func TestSharedFleetWideRate(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newReplica(t, srv, "fleet1:"), newReplica(t, srv, "fleet1:")
	other := newReplica(t, srv, "fleet2:")
	lim := Limit{Every: time.Hour, Burst: 5, MaxClients: 10}
	la, lb := New(lim, nil, Shared(a.redis, "customers")), New(lim, nil, Shared(b.redis, "customers"))
	allowed := 0
	for i := range 10 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if ok, _ := l.Allow(addrA); ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("two replicas allowed %d of 10, want the fleet's burst 5", allowed)
	}
	ok, wait := lb.Allow(addrA)
	if ok || wait <= 59*time.Minute || wait > time.Hour {
		t.Fatalf("after the burst: Allow = %v, %v; want refused for about an hour", ok, wait)
	}
	for _, l := range []*Limiter{
		New(lim, nil, Shared(a.redis, "reports")),
		New(lim, nil, Shared(other.redis, "customers")),
	} {
		if ok, _ := l.Allow(addrA); !ok {
			t.Fatal("another limiter name or key prefix shares the bucket")
		}
	}
	if a.up(t) != 1 || a.fallbacks(t) != 0 {
		t.Fatalf("redis_up %v, fallbacks %v; want 1, 0", a.up(t), a.fallbacks(t))
	}
}

// TestSharedConcurrent: requests racing on two replicas take exactly the
// burst between them (the script is atomic at Redis).
func TestSharedConcurrent(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newReplica(t, srv, "p:"), newReplica(t, srv, "p:")
	lim := Limit{Every: time.Hour, Burst: 50, MaxClients: 10}
	ls := []*Limiter{New(lim, nil, Shared(a.redis, "c")), New(lim, nil, Shared(b.redis, "c"))}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 20 {
				if ok, _ := ls[g%2].Allow(addrA); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 50 || !a.redis.Up() || !b.redis.Up() {
		t.Fatalf("160 racing requests: %d allowed, up %v %v; want exactly 50 through Redis", n, a.redis.Up(), b.redis.Up())
	}
}

// TestSharedCheckPeeks: Check on one replica sees the failures charged on
// another and takes nothing itself (a failure-only limit).
func TestSharedCheckPeeks(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newReplica(t, srv, "p:"), newReplica(t, srv, "p:")
	lim := Limit{Every: time.Minute, Burst: 2, MaxClients: 10}
	la, lb := New(lim, nil, Shared(a.redis, "agent-fail")), New(lim, nil, Shared(b.redis, "agent-fail"))
	for range 5 {
		if ok, _ := lb.Check(addrA); !ok {
			t.Fatal("Check refused a fresh bucket, or took from it")
		}
	}
	la.Allow(addrA) // one failure on A
	if ok, _ := lb.Check(addrA); !ok {
		t.Fatal("Check refused with one request's worth left")
	}
	la.Allow(addrA) // the second failure empties the bucket
	ok, wait := lb.Check(addrA)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("Check on B after A's failures = %v, %v; want refused, wait in (0, 1m]", ok, wait)
	}
}

// TestSharedIPv6Prefix: two addresses of one /64 are one client across
// replicas, as they are locally.
func TestSharedIPv6Prefix(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newReplica(t, srv, "p:"), newReplica(t, srv, "p:")
	lim := Limit{Every: time.Hour, Burst: 1, MaxClients: 10}
	la, lb := New(lim, nil, Shared(a.redis, "c")), New(lim, nil, Shared(b.redis, "c"))
	if ok, _ := la.Allow(netip.MustParseAddr("2001:db8::1")); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := lb.Allow(netip.MustParseAddr("2001:db8::ffff:2")); ok {
		t.Fatal("another address of the same /64 on another replica got a new bucket")
	}
	if ok, _ := lb.Allow(netip.MustParseAddr("2001:db8:0:1::1")); !ok {
		t.Fatal("another /64 shares the bucket")
	}
}

// TestSharedKeyed: a Keyed[string] (per agent identity) is shared too.
func TestSharedKeyed(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newReplica(t, srv, "p:"), newReplica(t, srv, "p:")
	lim := Limit{Every: time.Hour, Burst: 1, MaxClients: 10}
	ka := NewKeyed[string](lim, nil, Shared(a.redis, "agent"))
	kb := NewKeyed[string](lim, nil, Shared(b.redis, "agent"))
	if ok, _ := ka.Allow("key:alice"); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := kb.Allow("key:alice"); ok {
		t.Fatal("alice's second request, on B, allowed")
	}
	if ok, _ := kb.Allow("key:bob"); !ok {
		t.Fatal("bob refused")
	}
}

// TestSharedRedisDownAndBack: Redis stopped, the replica falls back to its
// local bucket (which remembers what Redis allowed it), says so once in
// the log and in redis_up 0, and makes no call while the circuit is open;
// when Redis is back (restarted empty) and a probe has seen it, the
// limiter uses it again and says so once.
func TestSharedRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, srv, "p:")
	lim := Limit{Every: time.Hour, Burst: 2, MaxClients: 10}
	l := New(lim, nil, Shared(a.redis, "c"))
	for range 2 {
		if ok, _ := l.Allow(addrA); !ok {
			t.Fatal("burst refused")
		}
	}
	srv.Stop()
	if ok, _ := l.Allow(addrA); ok {
		t.Fatal("Redis down: the local bucket forgot what Redis allowed this replica")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("192.0.2.2")); !ok {
		t.Fatal("Redis down: a new client refused, want the local bucket to decide")
	}
	if a.up(t) != 0 || a.fallbacks(t) != 2 {
		t.Fatalf("Redis down: redis_up %v, fallbacks %v; want 0, 2", a.up(t), a.fallbacks(t))
	}
	if n := strings.Count(a.log.String(), "redis unavailable"); n != 1 {
		t.Fatalf("Redis down: %d log lines, want 1:\n%s", n, a.log)
	}

	srv.Start() // empty: the shared bucket is full again
	if ok, _ := l.Allow(addrA); ok {
		t.Fatal("circuit open: Allow went to Redis before RetryAfter")
	}
	// The circuit's own background probe is tested in internal/fleet.
	if err := a.redis.Probe(t.Context()); err != nil {
		t.Fatalf("Redis back: Probe %v", err)
	}
	if ok, _ := l.Allow(addrA); !ok {
		t.Fatal("Redis back: still the local bucket after a probe")
	}
	if a.up(t) != 1 {
		t.Fatal("Redis back: redis_up still 0")
	}
	if n := strings.Count(a.log.String(), "redis is back"); n != 1 {
		t.Fatalf("Redis back: %d log lines, want 1:\n%s", n, a.log)
	}
}

// TestSharedRedisPaused: a Redis that accepts and never answers costs one
// request the Timeout (300ms here), not the client's 1s ReadTimeout (the
// next ones, none: internal/fleet's TestDoCircuit).
func TestSharedRedisPaused(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, srv, "p:")
	l := New(Limit{Every: time.Hour, Burst: 2, MaxClients: 10}, nil, Shared(a.redis, "c"))
	l.Allow(addrA) // a pooled connection to the paused server
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	if ok, _ := l.Allow(addrA); !ok {
		t.Fatal("Redis paused: refused, want the local bucket's answer")
	}
	if d := time.Since(start); d >= 900*time.Millisecond {
		t.Fatalf("Redis paused: Allow took %v, want it bounded by the 300ms Timeout", d)
	}
	if a.up(t) != 0 {
		t.Fatal("Redis paused: redis_up still 1")
	}
}

// BenchmarkAllow compares a local Allow with a shared one (one EVALSHA
// round trip to a redis-server on loopback).
func BenchmarkAllow(b *testing.B) {
	lim := Limit{Every: time.Nanosecond, Burst: 1 << 30, MaxClients: 10}
	b.Run("local", func(b *testing.B) {
		l := New(lim, nil)
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(addrA)
		}
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		r, err := fleet.New(srv.Client(), fleet.Options{Prefix: "bench:"})
		if err != nil {
			b.Fatal(err)
		}
		l := New(Limit{Every: time.Microsecond, Burst: 1 << 30, MaxClients: 10}, nil, Shared(r, "c"))
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := l.Allow(addrA); !ok {
				b.Fatal("refused")
			}
		}
		if !r.Up() {
			b.Fatal("the benchmark fell back to local")
		}
	})
	// A Redis 50ms away (25ms each way): every Allow waits for it, within
	// the default 200ms timeout.
	b.Run("redis-50ms", func(b *testing.B) {
		srv := redistest.Start(b)
		c := redis.NewClient(&redis.Options{Addr: srv.Delayed(b, 25*time.Millisecond), ContextTimeoutEnabled: true})
		defer c.Close()
		r, err := fleet.New(c, fleet.Options{Prefix: "bench:"})
		if err != nil {
			b.Fatal(err)
		}
		// Open the connection outside the timing with a generous deadline
		// (as the process should at startup): its handshake costs several
		// round trips. The first Allow loads the script (two round trips).
		if err := r.Probe(b.Context()); err != nil {
			b.Fatal(err)
		}
		l := New(Limit{Every: time.Microsecond, Burst: 1 << 30, MaxClients: 10}, nil, Shared(r, "c"))
		l.Allow(addrA)
		for b.Loop() {
			l.Allow(addrA)
		}
		if !r.Up() {
			b.Fatal("the benchmark fell back to local")
		}
	})
}

// TestSharedOneRoundTrip: in steady state each Allow or Check is exactly
// one command at Redis (EVALSHA), counted by Redis itself.
func TestSharedOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, srv, "p:")
	l := New(Limit{Every: time.Millisecond, Burst: 100, MaxClients: 10}, nil, Shared(a.redis, "c"))
	l.Allow(addrA) // loads the script (EVALSHA, NOSCRIPT, EVAL)
	admin := srv.Client()
	ctx := t.Context()
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		l.Allow(addrA)
		l.Check(addrA)
	}
	info, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Redis counts the commands a script runs (TIME, GET, SET) too.
	inScript := map[string]bool{"time": true, "get": true, "set": true, "info": true, "config|resetstat": true}
	evalsha := false
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") || inScript[name] {
			continue
		}
		if name != "evalsha" || !strings.HasPrefix(stats, "calls=10,") {
			t.Errorf("10 calls made %s, want evalsha calls=10 and nothing else", line)
		}
		evalsha = true
	}
	if !evalsha {
		t.Errorf("no EVALSHA in\n%s", info)
	}
}
