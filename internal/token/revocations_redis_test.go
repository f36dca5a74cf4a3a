package token

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// fleetReplica is one replica's sessions: its own Redis client, circuit
// (with its own clock) and revocation list, the signing key of the fleet.
type fleetReplica struct {
	s     *Sessions
	redis *fleet.Redis
	reg   *prometheus.Registry
	clock atomic.Int64 // the circuit's clock, UnixNano
}

func newFleetReplica(t *testing.T, srv *redistest.Server, failClosed bool) *fleetReplica {
	t.Helper()
	rp := &fleetReplica{reg: prometheus.NewRegistry()}
	rp.clock.Store(time.Now().UnixNano())
	r, err := fleet.New(srv.Client(), fleet.Options{
		Prefix: "fleet:", Timeout: 100 * time.Millisecond, Registerer: rp.reg,
		Now: func() time.Time { return time.Unix(0, rp.clock.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	rp.redis = r
	rp.s = NewSessions(SessionOptions{
		Key: []byte("a-fleet-wide-session-key-32-bytes!"), TTL: time.Hour,
		Revoked: NewRevocations(RevocationsOptions{Redis: r, FailClosed: failClosed}),
	})
	return rp
}

// signIn returns a request carrying a new session cookie for user.
func (rp *fleetReplica) signIn(t *testing.T, user string) *http.Request {
	t.Helper()
	w := &headerRecorder{h: http.Header{}}
	if err := rp.s.Issue(w, Identity{UserID: user, UserName: user, Method: MethodKey}); err != nil {
		t.Fatal(err)
	}
	return &http.Request{Header: http.Header{"Cookie": {w.h.Get("Set-Cookie")}}}
}

func (rp *fleetReplica) accepts(r *http.Request) bool {
	_, ok := rp.s.Agent(r)
	return ok
}

// TestRevocationsSharedAcrossReplicas: a sign-out on replica A is refused
// on replica B at once, and the key in Redis expires with the cookie.
func TestRevocationsSharedAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newFleetReplica(t, srv, false), newFleetReplica(t, srv, false)
	alice, bob := a.signIn(t, "alice"), a.signIn(t, "bob")
	if !a.accepts(alice) || !b.accepts(alice) {
		t.Fatal("a valid cookie refused")
	}
	a.s.Revoke(alice)
	if a.accepts(alice) || b.accepts(alice) {
		t.Fatalf("signed out on A: accepted by A %v, by B %v; want refused by both", a.accepts(alice), b.accepts(alice))
	}
	if !b.accepts(bob) {
		t.Fatal("another agent's cookie refused on B")
	}
	keys, err := srv.Client().Keys(t.Context(), "fleet:revoked:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("revocation keys %v, %v; want one", keys, err)
	}
	ttl, err := srv.Client().TTL(t.Context(), keys[0]).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("revocation TTL %v, %v; want the cookie's remaining hour", ttl, err)
	}
}

// TestRevocationsRedisDown: with Redis down, the default fails open for
// what this replica cannot know: agents stay signed in, a sign-out made
// here or already seen here stays refused, and only a sign-out made on
// another replica and not yet seen here is accepted until Redis is back.
// FailClosed refuses every cookie it cannot check instead.
func TestRevocationsRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newFleetReplica(t, srv, false), newFleetReplica(t, srv, false)
	closed := newFleetReplica(t, srv, true)
	seen, unseen, fresh := a.signIn(t, "seen"), a.signIn(t, "unseen"), a.signIn(t, "fresh")
	a.s.Revoke(seen)
	a.s.Revoke(unseen)
	if b.accepts(seen) {
		t.Fatal("Redis up: a sign-out on A accepted by B")
	}
	srv.Stop()
	for _, c := range []struct {
		name string
		rp   *fleetReplica
		r    *http.Request
		want bool
	}{
		{"B, a cookie never signed out", b, fresh, true},
		{"B, signed out on A and seen by B", b, seen, false},
		{"B, signed out on A, not seen by B (fail open)", b, unseen, true},
		{"A, signed out on A", a, unseen, false},
		{"FailClosed, a cookie never signed out", closed, fresh, false},
	} {
		if got := c.rp.accepts(c.r); got != c.want {
			t.Errorf("Redis down, %s: accepted %v, want %v", c.name, got, c.want)
		}
	}
	if v := redisUp(t, b.reg); v != 0 {
		t.Errorf("Redis down: redis_up %v, want 0", v)
	}
}

// TestRevocationsPendingReplay: a sign-out made while Redis is down is
// written when Redis is back (with the next lookup that reaches it), and
// then refused on the other replicas; so is one made before Redis
// restarted empty.
func TestRevocationsPendingReplay(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newFleetReplica(t, srv, false), newFleetReplica(t, srv, false)
	alice, bob, carol := a.signIn(t, "alice"), a.signIn(t, "bob"), a.signIn(t, "carol")
	a.s.Revoke(carol) // in Redis, then lost when it restarts empty
	srv.Stop()
	a.s.Revoke(alice) // Redis cannot take it
	srv.Start()
	if err := a.redis.Probe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !a.accepts(bob) { // the lookup that writes the pending sign-out
		t.Fatal("bob refused on A")
	}
	if b.accepts(alice) {
		t.Fatal("a sign-out made while Redis was down never reached B")
	}
	if b.accepts(carol) {
		t.Fatal("a sign-out lost when Redis restarted empty was not written again")
	}
	if !b.accepts(bob) {
		t.Fatal("bob refused on B")
	}
}

// redisUp reads cobrowse_proxy_redis_up from reg.
func redisUp(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cobrowse_proxy_redis_up" && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("cobrowse_proxy_redis_up not gathered")
	return 0
}
