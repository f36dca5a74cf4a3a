package csp

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// newFleetReportEnv is one replica's report handler with the default
// limit shared through srv, and the registry of its Redis metrics.
func newFleetReportEnv(t *testing.T, srv *redistest.Server) (*reportEnv, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := fleet.New(srv.Client(), fleet.Options{Prefix: "fleet:", Timeout: 5 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	e := newReportEnv()
	e.h.Redis = r
	return e, reg
}

const redisReport = `{"csp-report":{"blocked-uri":"https://x.example/"}}`

// TestReportHandlerRateLimitShared: with Redis, the default limit (burst
// 20, one a second) counts across replicas: alternating between two, the
// first refusal comes after about 20 reports in all, not 40 (20 each).
// Redis's clock refills one a second, so a slow run may get a few more.
func TestReportHandlerRateLimitShared(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newFleetReportEnv(t, srv)
	b, _ := newFleetReportEnv(t, srv)
	accepted := 0
	for _, e := range []*reportEnv{a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b} {
		w := e.post("3.3.3.3", "application/csp-report", redisReport)
		if w.Code == http.StatusTooManyRequests {
			break
		}
		if w.Code != http.StatusNoContent {
			t.Fatalf("report %d: %d", accepted+1, w.Code)
		}
		accepted++
	}
	if accepted < 20 || accepted >= 30 {
		t.Fatalf("%d reports accepted across two replicas before a 429; want 20 (the shared burst), not 40", accepted)
	}
	if w := b.post("4.4.4.4", "application/csp-report", redisReport); w.Code != http.StatusNoContent {
		t.Errorf("another client: %d", w.Code)
	}
	if n, err := srv.Client().Exists(t.Context(), "fleet:ratelimit:csp-report:3.3.3.3/32").Result(); err != nil || n != 1 {
		t.Errorf("shared bucket key: %d, %v", n, err)
	}
}

// TestReportHandlerRateLimitRedisDown: with Redis stopped, reports are
// still answered, limited by this replica's own bucket, and the fallback
// counter says so.
func TestReportHandlerRateLimitRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	e, reg := newFleetReportEnv(t, srv)
	srv.Stop()
	for i := range 20 {
		if w := e.post("3.3.3.3", "application/csp-report", redisReport); w.Code != http.StatusNoContent {
			t.Fatalf("Redis down, report %d: %d", i+1, w.Code)
		}
	}
	if w := e.post("3.3.3.3", "application/csp-report", redisReport); w.Code != http.StatusTooManyRequests {
		t.Fatalf("Redis down, 21st report: %d, want 429 (the local burst)", w.Code)
	}
	if n, err := testutil.GatherAndCount(reg, "cobrowse_proxy_redis_fallbacks_total"); err != nil || n != 3 {
		t.Fatalf("fallback series %d, %v", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "cobrowse_proxy_redis_fallbacks_total" && m.GetLabel()[0].GetValue() == "ratelimit" && m.GetCounter().GetValue() != 21 {
				t.Errorf("ratelimit fallbacks %v, want 21", m.GetCounter().GetValue())
			}
		}
	}
}
