package tlsconf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// TestDeciderSharedAcrossReplicas: with a fleet, ratePerMinute is the
// fleet's issuance budget and ten times it the fleet's ask budget: two
// replicas' deciders draw from one bucket each. With Redis stopped a
// replica decides on its own budget and counts the fallbacks.
func TestDeciderSharedAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	var asked atomic.Int32
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if !strings.HasPrefix(r.URL.Query().Get("domain"), "yes") {
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer ask.Close()
	od := config.TLSOnDemand{Enabled: true, Allow: []string{"*.customers.test"}, Ask: ask.URL, RatePerMinute: 1}
	replica := func() (*decider, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		r, err := fleet.New(srv.Client(), fleet.Options{Prefix: "fleet:", Timeout: 5 * time.Second, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		return newDecider(od, nil, Options{Fleet: r, Logger: testLogger(t)}), reg
	}
	a, _ := replica()
	b, _ := replica()
	ctx := context.Background()
	if err := a.decide(ctx, "yes1.customers.test"); err != nil {
		t.Fatalf("first on-demand name, on A: %v", err)
	}
	if err := b.decide(ctx, "yes2.customers.test"); !errors.Is(err, errOnDemandRefused) || !strings.Contains(err.Error(), "ratePerMinute reached") {
		t.Fatalf("second name, on B (fleet budget 1 a minute): %v, want refused for the rate", err)
	}
	// The ask budget is 10 for the fleet: 2 spent above, then 12 more
	// tries on two replicas reach the ask URL 8 times, not 12.
	for _, d := range []*decider{a, b, a, b, a, b, a, b, a, b, a, b} {
		d.decide(ctx, "no.customers.test")
	}
	if n := asked.Load(); n != 10 {
		t.Fatalf("ask URL called %d times by two replicas, want 10 (the fleet's budget)", n)
	}
	for _, k := range []string{"fleet:ratelimit:ondemand-issue:invalid Prefix", "fleet:ratelimit:ondemand-ask:invalid Prefix"} {
		if n, err := srv.Client().Exists(ctx, k).Result(); err != nil || n != 1 {
			t.Errorf("key %q: %d, %v", k, n, err)
		}
	}

	srv.Stop()
	c, reg := replica()
	if err := c.decide(ctx, "yes3.customers.test"); err != nil {
		t.Fatalf("Redis down: the replica's own budget refused: %v", err)
	}
	if err := c.decide(ctx, "yes4.customers.test"); !errors.Is(err, errOnDemandRefused) {
		t.Fatalf("Redis down, second name: %v, want refused by the local budget", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var fallbacks float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "cobrowse_proxy_redis_fallbacks_total" && m.GetLabel()[0].GetValue() == "ratelimit" {
				fallbacks = m.GetCounter().GetValue()
			}
		}
	}
	if fallbacks != 4 { // two decisions, each an ask and an issuance check
		t.Errorf("ratelimit fallbacks %v, want 4", fallbacks)
	}
}
