package tlsconf

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// countingPebble starts Pebble validating against httpLn/httpsLn's ports
// and counts the orders made at it.
func countingPebble(t *testing.T) (p *testPebble, orders *atomic.Int32, httpLn, httpsLn net.Listener) {
	t.Helper()
	var err error
	if httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if httpsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	_, hp := splitPort(httpLn.Addr().String())
	_, tp := splitPort(httpsLn.Addr().String())
	orders = new(atomic.Int32)
	p = startPebbleWrapped(t, hp, tp, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
				orders.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	return p, orders, httpLn, httpsLn
}

func withRedis(srv *redisServer, prefix string) func(o *Options, _ *testPebble) {
	return func(o *Options, _ *testPebble) {
		o.Redis = config.StorageRedis{URL: srv.url(), KeyPrefix: prefix, Timeout: 200 * time.Millisecond}
	}
}

// TestFleetDeadHolderTakeover: a replica killed in the middle of an
// issuance leaves its lock in Redis and never renews it; another replica
// waits for it to expire, then obtains the certificate itself (one order).
func TestFleetDeadHolderTakeover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const name = "shop.test"
	srv := startRedis(t)
	raw := srv.client()
	// The dead replica's lock, as redisstore leaves it: a token and an
	// expiry nobody will extend.
	lockKey := "fleet:certmagic:lock:issue_cert_" + name
	if err := raw.SetNX(ctx, lockKey, "dead-replica-token", 2*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	p, orders, httpLn, httpsLn := countingPebble(t)
	start := time.Now()
	r := startACMERig(t, ctx, httpLn, httpsLn, p, []string{name}, func(a *config.TLSACME) {
		a.Challenges = []string{config.ChallengeHTTP01}
	}, withRedis(srv, "fleet"))
	waitReady(t, ctx, r.m)
	r.checkServes(t, ctx, name)
	if took := time.Since(start); took < time.Second {
		t.Errorf("certificate after %v: the dead replica's lock was not waited for", took)
	}
	if n := orders.Load(); n != 1 {
		t.Errorf("orders = %d, want 1", n)
	}
	if n := raw.Exists(ctx, lockKey).Val(); n != 0 {
		t.Error("the lock is still in Redis after the issuance")
	}
}

// TestFleetRedisDownKeepsServing: with the certificate in its cache, a
// replica keeps serving and stays Ready while Redis is down or not
// answering, and goes on when Redis is back; a Redis that came back empty
// costs one new order when a replica starts, not one per handshake.
func TestFleetRedisDownKeepsServing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const name = "shop.test"
	srv := startRedis(t)
	p, orders, httpLn, httpsLn := countingPebble(t)
	r := startACMERig(t, ctx, httpLn, httpsLn, p, []string{name}, func(a *config.TLSACME) {
		a.Challenges = []string{config.ChallengeHTTP01}
	}, withRedis(srv, "fleet"))
	waitReady(t, ctx, r.m)
	r.checkServes(t, ctx, name)

	srv.pause()
	r.checkServes(t, ctx, name)
	if err := r.m.Ready(); err != nil {
		t.Errorf("Ready with Redis not answering = %v", err)
	}
	srv.resume()
	srv.stop()
	r.checkServes(t, ctx, name)
	if err := r.m.Ready(); err != nil {
		t.Errorf("Ready with Redis down = %v", err)
	}
	srv.start() // empty
	r.checkServes(t, ctx, name)
	if n := orders.Load(); n != 1 {
		t.Errorf("orders = %d after Redis went down and came back, want 1 (served from the cache)", n)
	}
}
