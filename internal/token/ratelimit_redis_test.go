package token

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// newLimitReplica is one replica of a fleet: its own Redis client, circuit
// and metrics, and a token service whose limits are shared through srv.
func newLimitReplica(t *testing.T, srv *redistest.Server, mutate func(*Options)) (*env, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := fleet.New(srv.Client(), fleet.Options{Prefix: "fleet:", Timeout: 5 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) {
		agentKeyOpts("good-key")(o)
		o.CustomerRate = RateLimit{Every: time.Hour, Burst: 5}
		o.Agent.Rate = RateLimit{Every: time.Hour, Burst: 2}
		o.Agent.IdentityRate = RateLimit{Every: time.Hour, Burst: 3}
		o.Redis = r
		if mutate != nil {
			mutate(o)
		}
	})
	return e, reg
}

// TestRateLimitSharedAcrossReplicas: with Redis, the three token limits
// count across replicas: a burst of 5 customer tokens is 3 on A and 2 on
// B, failed agent sign-ins on A use up B's allowance too, and an agent's
// token budget is one for the fleet. Other clients keep their own budget.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newLimitReplica(t, srv, nil)
	b, _ := newLimitReplica(t, srv, nil)
	client := map[string]string{"X-Test-Client": "203.0.113.7"}
	for i, e := range []*env{a, a, a, b, b} {
		if r := e.postToken(`{"role":1}`, client); r.status != http.StatusOK {
			t.Fatalf("customer request %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := b.postToken(`{"role":1}`, client)
	if r.status != http.StatusTooManyRequests || r.errs()[0].Reason != ReasonRateLimited {
		t.Fatalf("6th customer request (3 on A, 3 on B): %d %s, want 429", r.status, r.body)
	}
	// Redis's wait: one hour less the moments since the first request.
	if s, _ := strconv.Atoi(r.header.Get("Retry-After")); s < 3500 || s > 3600 {
		t.Errorf("Retry-After %q, want about an hour", r.header.Get("Retry-After"))
	}
	if r := a.postToken(`{"role":1}`, client); r.status != http.StatusTooManyRequests {
		t.Fatalf("7th customer request, on A: %d, want 429", r.status)
	}
	if r := b.postToken(`{"role":1}`, map[string]string{"X-Test-Client": "203.0.113.8"}); r.status != http.StatusOK {
		t.Fatalf("another client: %d, want 200", r.status)
	}
	keys, err := srv.Client().Keys(t.Context(), "fleet:ratelimit:token-customer:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("customer keys %v, %v; want one per client", keys, err)
	}

	// Failed agent authentications (burst 2): one on A, one on B, then a
	// good key on A is refused before it is checked.
	agent := map[string]string{"X-Test-Client": "198.51.100.9", "Authorization": "Bearer wrong"}
	for i, e := range []*env{a, b} {
		if r := e.postToken(`{"role":2}`, agent); r.status != http.StatusUnauthorized {
			t.Fatalf("failed sign-in %d: %d %s, want 401", i+1, r.status, r.body)
		}
	}
	agent["Authorization"] = "Bearer good-key"
	if r := a.postToken(`{"role":2}`, agent); r.status != http.StatusTooManyRequests {
		t.Fatalf("after 2 failures on 2 replicas: %d %s, want 429", r.status, r.body)
	}

	// An agent's tokens (burst 3), from addresses with no failures.
	alice := map[string]string{"Authorization": "Bearer good-key"}
	for i, e := range []*env{a, b, a} {
		alice["X-Test-Client"] = "192.0.2." + strconv.Itoa(i+1)
		if r := e.postToken(`{"role":2}`, alice); r.status != http.StatusOK {
			t.Fatalf("agent token %d: %d %s", i+1, r.status, r.body)
		}
	}
	alice["X-Test-Client"] = "192.0.2.4"
	if r := b.postToken(`{"role":2}`, alice); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th agent token (2 on A, 2 on B): %d %s, want 429", r.status, r.body)
	}
	for _, name := range []string{"token-agent-fail", "token-agent"} {
		if n, err := srv.Client().Keys(t.Context(), "fleet:ratelimit:"+name+":*").Result(); err != nil || len(n) != 1 {
			t.Errorf("%s keys %v, %v; want one", name, n, err)
		}
	}
}

// TestRateLimitRedisDownFallsBack: with Redis stopped, the token endpoint
// still answers, with this replica's own limit (burst 5 → the 6th is 429,
// with the local Retry-After), and says so in the fallback counter.
func TestRateLimitRedisDownFallsBack(t *testing.T) {
	srv := redistest.Start(t)
	e, reg := newLimitReplica(t, srv, func(o *Options) { o.CustomerRate = RateLimit{Every: 10 * time.Second, Burst: 5} })
	client := map[string]string{"X-Test-Client": "203.0.113.7"}
	if r := e.postToken(`{"role":1}`, client); r.status != http.StatusOK {
		t.Fatalf("with Redis: %d %s", r.status, r.body)
	}
	srv.Stop()
	for i := range 4 {
		if r := e.postToken(`{"role":1}`, client); r.status != http.StatusOK {
			t.Fatalf("Redis down, request %d: %d %s", i+2, r.status, r.body)
		}
	}
	r := e.postToken(`{"role":1}`, client)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" {
		t.Fatalf("Redis down, 6th request: %d Retry-After %q %s, want 429 after 10s (the local bucket)", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.clock.Advance(10 * time.Second)
	if r := e.postToken(`{"role":1}`, client); r.status != http.StatusOK {
		t.Fatalf("Redis down, after the local refill: %d", r.status)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got["cobrowse_proxy_redis_up"] != 0 || got["cobrowse_proxy_redis_fallbacks_total/ratelimit"] != 6 {
		t.Fatalf("redis_up %v, ratelimit fallbacks %v; want 0 and 6 (every request with Redis down)", got["cobrowse_proxy_redis_up"], got["cobrowse_proxy_redis_fallbacks_total/ratelimit"])
	}
}

// TestTokenRoundTrips counts, at Redis (INFO commandstats), the commands
// one token request costs in a fleet: a customer token is one EVALSHA
// (its limit), an agent token with a bearer key two (the sign-in-failure
// check and the agent's own limit). Commands a script runs inside Redis
// (TIME, GET, SET) are no round trips and are not counted.
func TestTokenRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := newLimitReplica(t, srv, func(o *Options) {
		o.CustomerRate = RateLimit{Every: time.Millisecond, Burst: 1000}
		o.Agent.Rate = RateLimit{Every: time.Millisecond, Burst: 1000}
		o.Agent.IdentityRate = RateLimit{Every: time.Millisecond, Burst: 1000}
	})
	agent := map[string]string{"Authorization": "Bearer good-key"}
	e.postToken(`{"role":1}`, nil) // load the script and open the connection
	for _, c := range []struct {
		name string
		hdr  map[string]string
		role string
		want string
	}{
		{"customer", nil, "1", "calls=5,"},
		{"agent", agent, "2", "calls=10,"},
	} {
		admin := srv.Client()
		if err := admin.ConfigResetStat(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if r := e.postToken(`{"role":`+c.role+`}`, c.hdr); r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", c.name, r.status, r.body)
			}
		}
		info, err := admin.Info(t.Context(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		inScript := map[string]bool{"time": true, "get": true, "set": true, "info": true, "config|resetstat": true}
		var calls []string
		for _, line := range strings.Split(info, "\n") {
			name, stats, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":")
			if ok && strings.HasPrefix(line, "cmdstat_") && !inScript[name] {
				calls = append(calls, name+" "+stats[:strings.Index(stats, ",")+1])
			}
		}
		if len(calls) != 1 || calls[0] != "evalsha "+c.want {
			t.Errorf("5 %s tokens cost %q at Redis, want evalsha %s", c.name, calls, c.want)
		}
	}
}
