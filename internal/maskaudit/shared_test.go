package maskaudit

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// auditReplica is one replica's Store on a shared Redis, with its own clock.
type auditReplica struct {
	s   *Store
	reg *prometheus.Registry
	now time.Time
}

func newAuditReplica(t *testing.T, srv *redistest.Server, o Options) *auditReplica {
	t.Helper()
	rp := &auditReplica{reg: prometheus.NewRegistry(), now: time.Unix(1_700_000_000, 0).UTC()}
	r, err := fleet.New(srv.Client(), fleet.Options{Prefix: "fleet:", Timeout: 2 * time.Second, Registerer: rp.reg})
	if err != nil {
		t.Fatal(err)
	}
	o.Redis, o.Now = r, func() time.Time { return rp.now }
	rp.s = New(o)
	return rp
}

func (rp *auditReplica) report(t *testing.T, site, body string) {
	t.Helper()
	if w := post(t, rp.s.Handler(site, HandlerOptions{}), body, nil); w.Code != 204 {
		t.Fatalf("report: %d %s", w.Code, w.Body)
	}
}

func (rp *auditReplica) list(t *testing.T, query string) Listing {
	t.Helper()
	w := httptest.NewRecorder()
	rp.s.Admin().ServeHTTP(w, httptest.NewRequest("GET", "/mask-audit?format=json"+query, nil))
	var l Listing
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
		t.Fatalf("listing %d %q: %v", w.Code, w.Body, err)
	}
	return l
}

const (
	cardReport = `{"path":"/pay","fields":[{"kind":"card_number","selector":"#cc"}]}`
	blogReport = `{"path":"/comment","fields":[{"kind":"date_of_birth","selector":"#dob"}]}`
)

// TestSharedAuditAggregates: two replicas' reports add up per site, with
// the first and last sightings of the fleet, and both list the same.
func TestSharedAuditAggregates(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newAuditReplica(t, srv, Options{}), newAuditReplica(t, srv, Options{})
	t0 := a.now
	a.report(t, "shop", ssnReport)
	a.now = t0.Add(time.Minute)
	a.report(t, "shop", ssnReport)
	b.now = t0.Add(time.Hour)
	b.report(t, "shop", ssnReport)
	b.report(t, "shop", cardReport)
	b.report(t, "blog", blogReport)

	for _, rp := range []*auditReplica{a, b} {
		l := rp.list(t, "")
		if len(l.Sites) != 2 || l.Sites[0].Site != "blog" || l.Sites[1].Site != "shop" {
			t.Fatalf("sites %+v, want blog and shop", l.Sites)
		}
		shop := l.Sites[1]
		if shop.Gaps != 2 || len(shop.Top) != 2 {
			t.Fatalf("shop: %d gaps, %d listed; want 2, 2", shop.Gaps, len(shop.Top))
		}
		g := shop.Top[0]
		if g.Kind != "ssn" || g.Hits != 3 || !g.FirstSeen.Equal(t0) || !g.LastSeen.Equal(t0.Add(time.Hour)) {
			t.Errorf("ssn gap %+v; want 3 hits, first seen %v (A), last seen an hour later (B)", g.Gap, t0)
		}
		if g.Suggest == "" || shop.Top[1].Kind != "card_number" || shop.Top[1].Hits != 1 {
			t.Errorf("second gap %+v", shop.Top[1])
		}
		if one := rp.list(t, "&site=blog"); len(one.Sites) != 1 || one.Sites[0].Top[0].Kind != "date_of_birth" {
			t.Errorf("?site=blog: %+v", one)
		}
	}
	if local := a.s.listing("shop", maxTop); local.Sites[0].Top[0].Hits != 2 {
		t.Errorf("A's own store counts %d, want its own 2", local.Sites[0].Top[0].Hits)
	}
}

// TestSharedAuditBounded: the aggregate keeps MaxGapsPerSite gaps per site
// and counts the others as dropped.
func TestSharedAuditBounded(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newAuditReplica(t, srv, Options{MaxGapsPerSite: 2}), newAuditReplica(t, srv, Options{MaxGapsPerSite: 2})
	a.report(t, "shop", ssnReport)
	b.report(t, "shop", cardReport)
	a.report(t, "shop", blogReport) // a third gap: A keeps it locally, the fleet's set is full
	b.report(t, "shop", ssnReport)  // a known gap is still counted
	l := a.list(t, "")
	if len(l.Sites) != 1 || l.Sites[0].Gaps != 2 || l.Sites[0].Dropped != 1 || l.Sites[0].Top[0].Hits != 2 {
		t.Fatalf("listing %+v; want 2 gaps kept (ssn with 2 hits), 1 dropped", l)
	}
	ttl, err := srv.Client().TTL(t.Context(), "fleet:maskaudit:{shop}:hits").Result()
	if err != nil || ttl <= DefaultSharedTTL-time.Minute || ttl > DefaultSharedTTL {
		t.Errorf("aggregate TTL %v, %v; want %v", ttl, err, DefaultSharedTTL)
	}
}

// TestSharedAuditRedisDown: with Redis down, reports are still taken and
// the listing is this replica's own, counted as fallbacks; when Redis
// restarts empty the aggregate starts again (the script is reloaded).
func TestSharedAuditRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newAuditReplica(t, srv, Options{}), newAuditReplica(t, srv, Options{})
	b.report(t, "shop", cardReport)
	srv.Stop()
	a.report(t, "shop", ssnReport)
	l := a.list(t, "")
	if len(l.Sites) != 1 || len(l.Sites[0].Top) != 1 || l.Sites[0].Top[0].Kind != "ssn" {
		t.Fatalf("Redis down: listing %+v, want A's own ssn gap", l)
	}
	if err := testutil.GatherAndCompare(a.reg, strings.NewReader(`
# HELP cobrowse_proxy_redis_up 1 while Redis answers (shared limits, sign-outs and audit in use), 0 while this replica falls back to its local state.
# TYPE cobrowse_proxy_redis_up gauge
cobrowse_proxy_redis_up 0
`), "cobrowse_proxy_redis_up"); err != nil {
		t.Error(err)
	}
	if n := fallbacks(t, a.reg); n != 2 {
		t.Errorf("Redis down: %v maskaudit fallbacks, want 2 (the report, the listing)", n)
	}
	srv.Start()
	c := newAuditReplica(t, srv, Options{}) // a fresh circuit: the script is not loaded in the new server
	c.report(t, "shop", cardReport)
	if l := c.list(t, ""); len(l.Sites) != 1 || l.Sites[0].Top[0].Kind != "card_number" || l.Sites[0].Top[0].Hits != 1 {
		t.Fatalf("Redis restarted empty: listing %+v, want one card_number hit", l)
	}
}

// fallbacks reads cobrowse_proxy_redis_fallbacks_total{use="maskaudit"}.
func fallbacks(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "cobrowse_proxy_redis_fallbacks_total" && m.GetLabel()[0].GetValue() == "maskaudit" {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatal("no maskaudit fallback counter")
	return 0
}

// TestSharedAuditRateLimit: with Redis the report limit counts across
// replicas (burst 3: 2 on A and 1 on B, then both refuse); with Redis
// stopped a replica limits on its own (3 more, then 429) and counts the
// fallbacks.
func TestSharedAuditRateLimit(t *testing.T) {
	srv := redistest.Start(t)
	rate := Options{Rate: ratelimitLimit(time.Hour, 3)}
	a, b := newAuditReplica(t, srv, rate), newAuditReplica(t, srv, rate)
	a.report(t, "shop", ssnReport)
	a.report(t, "shop", ssnReport)
	b.report(t, "blog", blogReport) // one bucket per client for all sites
	for name, rp := range map[string]*auditReplica{"A": a, "B": b} {
		if w := post(t, rp.s.Handler("shop", HandlerOptions{}), ssnReport, nil); w.Code != 429 {
			t.Fatalf("4th report, on %s: %d, want 429 (3 in all on two replicas)", name, w.Code)
		}
	}
	srv.Stop()
	c := newAuditReplica(t, srv, rate)
	for range 3 {
		c.report(t, "shop", ssnReport)
	}
	if w := post(t, c.s.Handler("shop", HandlerOptions{}), ssnReport, nil); w.Code != 429 {
		t.Fatalf("Redis down, 4th report: %d, want 429 (the local burst)", w.Code)
	}
	if n := gaugeUse(t, c.reg, "ratelimit"); n != 4 {
		t.Errorf("Redis down: %v ratelimit fallbacks, want 4", n)
	}
}

func ratelimitLimit(every time.Duration, burst int) ratelimit.Limit {
	return ratelimit.Limit{Every: every, Burst: burst, MaxClients: 100}
}

// gaugeUse reads cobrowse_proxy_redis_fallbacks_total{use}.
func gaugeUse(t *testing.T, reg *prometheus.Registry, use string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "cobrowse_proxy_redis_fallbacks_total" && m.GetLabel()[0].GetValue() == use {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s fallback counter", use)
	return 0
}
