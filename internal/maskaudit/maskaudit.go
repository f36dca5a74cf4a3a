// Package maskaudit receives the masking audit's reports from bootstrap.js
// (fields that look sensitive and that no masking rule covers), counts
// them, and keeps the gaps found, bounded, for the admin listener. One
// Store lives for the whole process, across config reloads.
//
// Reports come from browsers, so from anyone: a report can only name a
// field kind from a fixed list (Kinds), a page path (query dropped) and a
// short selector; it has no place for a field's value, and a report with
// any other member is refused. Everything is bounded: the body, the
// fields per report, the reports per client, the gaps kept per site and
// in all, and the metric's labels (the site comes from the server's
// routing, never from the report).
package maskaudit

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

// kinds are the field kinds a report may name, as the classifier in
// internal/web/assets/audit.js produces them. A report naming any other
// kind is refused: the list bounds the kind label, and the script is
// served by the same proxy, so the two always agree.
var kinds = [...]string{
	"password",      // type=password, autocomplete current-password/new-password
	"card_number",   // autocomplete cc-number, "card number", "PAN"
	"card_cvc",      // autocomplete cc-csc, CVV, CVC, CID, security code
	"card_expiry",   // autocomplete cc-exp*, "expiry", "expiration"
	"one_time_code", // autocomplete one-time-code, OTP, verification code
	"ssn",           // US social security number
	"tax_id",        // TIN, EIN, ITIN, VAT/tax number, national id
	"iban",          // IBAN
	"bank_account",  // account number, routing number, sort code, BIC
	"passport",      // passport number
	"date_of_birth", // autocomplete bday*, "date of birth", DOB
}

// Kinds returns the field kinds a report may name (the kind label's
// values), in a new slice.
func Kinds() []string { return append([]string(nil), kinds[:]...) }

func knownKind(k string) bool {
	for _, v := range kinds {
		if v == k {
			return true
		}
	}
	return false
}

// Defaults for the zero Options.
const (
	DefaultMaxGapsPerSite = 1000
	DefaultMaxGaps        = 10000
)

// defaultRate is the per-client report rate: the audit sends at most one
// report per scan (after load, then at most one per second of DOM changes),
// so a burst of 20 and one a second on average is far above what a
// customer's browser sends.
func defaultRate() ratelimit.Limit {
	return ratelimit.Limit{Every: time.Second, Burst: 20, MaxClients: 10000}
}

// Options configure a Store.
type Options struct {
	// Registerer receives cobrowse_proxy_unmasked_fields_total{site,kind};
	// nil registers nothing (the counts are still kept).
	Registerer prometheus.Registerer
	// Logger receives one info line per new gap (site, path, selector) and
	// one warn line when a site's store is full; nil logs nothing.
	Logger *slog.Logger
	// MaxGapsPerSite bounds the gaps kept per site (0: 1000) and MaxGaps
	// those kept in all (0: 10000). Past them new gaps are still counted
	// in the metric, but not kept or logged.
	MaxGapsPerSite, MaxGaps int
	// Rate limits reports per client address, across sites (429 beyond);
	// the zero Limit is a burst of 20, one a second on average, 10000
	// clients tracked.
	Rate ratelimit.Limit
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Redis, when set, also aggregates every replica's gaps per site
	// (shared.go), and the admin listing reads the aggregate while Redis
	// answers (this replica's own gaps otherwise). MaxGapsPerSite bounds
	// each site's aggregate too.
	// Rate then counts across every replica too (one round trip per
	// report), falling back to this replica's own buckets while Redis
	// fails (see ratelimit.Shared).
	Redis *fleet.Redis
	// SharedTTL is how long a site's aggregate lives after its last
	// report (0: DefaultSharedTTL, 30 days).
	SharedTTL time.Duration
}

// Store keeps the gaps reported per site. It is safe for concurrent use.
type Store struct {
	log      *slog.Logger
	now      func() time.Time
	unmasked *prometheus.CounterVec
	limiter  *ratelimit.Limiter
	shared   *shared // nil: this replica's gaps only
	perSite  int
	total    int

	mu    sync.Mutex
	sites map[string]*siteGaps
	count int // gaps kept, all sites
}

// siteGaps are one site's gaps, by path and selector.
type siteGaps struct {
	gaps    map[gapKey]*Gap
	dropped uint64 // new gaps not kept because a bound was reached
}

type gapKey struct{ path, selector string }

// Gap is one field the audit found unmasked: where, what it looks like,
// how often and when it was reported.
type Gap struct {
	Kind      string    `json:"kind"`
	Path      string    `json:"path"`
	Selector  string    `json:"selector"`
	Hits      uint64    `json:"hits"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// New returns an empty Store.
func New(o Options) *Store {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxGapsPerSite <= 0 {
		o.MaxGapsPerSite = DefaultMaxGapsPerSite
	}
	if o.MaxGaps <= 0 {
		o.MaxGaps = DefaultMaxGaps
	}
	if o.Rate == (ratelimit.Limit{}) {
		o.Rate = defaultRate()
	}
	s := &Store{
		log: o.Logger,
		now: o.Now,
		unmasked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_unmasked_fields_total",
			Help: "Fields that look sensitive and that no masking rule covers, as the masking audit in bootstrap.js reports them (once per field per audited page view), by site and field kind.",
		}, []string{"site", "kind"}),
		limiter: ratelimit.New(o.Rate, o.Now, ratelimit.Shared(o.Redis, ratelimit.NameMaskReport)),
		perSite: o.MaxGapsPerSite,
		total:   o.MaxGaps,
		sites:   map[string]*siteGaps{},
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.unmasked)
	}
	if o.Redis != nil {
		if o.SharedTTL <= 0 {
			o.SharedTTL = DefaultSharedTTL
		}
		s.shared = &shared{r: o.Redis, prefix: o.Redis.Prefix() + "maskaudit:", perSite: o.MaxGapsPerSite, ttl: o.SharedTTL}
	}
	return s
}

// HandlerOptions configure one site's report endpoint.
type HandlerOptions struct {
	// Scheme returns the scheme the client used (for the same-origin
	// check); nil is "https" on a TLS connection, else "http".
	Scheme func(*http.Request) string
	// ClientAddr returns the client address (for the rate limit); nil is
	// the connection's remote address.
	ClientAddr func(*http.Request) netip.Addr
}

// Handler returns site's POST {prefix}/mask-report endpoint (report.go).
func (s *Store) Handler(site string, o HandlerOptions) http.Handler {
	return &reportHandler{store: s, site: site, opts: o}
}

// record counts one report's fields under site and keeps the new gaps.
func (s *Store) record(ctx context.Context, site string, rep report) {
	now := s.now()
	for _, f := range rep.Fields {
		s.unmasked.WithLabelValues(site, f.Kind).Inc()
	}
	if s.shared != nil {
		s.shared.add(ctx, site, rep, now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.sites[site]
	if sg == nil {
		sg = &siteGaps{gaps: map[gapKey]*Gap{}}
		s.sites[site] = sg
	}
	for _, f := range rep.Fields {
		k := gapKey{rep.Path, f.Selector}
		if g := sg.gaps[k]; g != nil {
			g.Hits++
			g.LastSeen = now
			continue
		}
		if len(sg.gaps) >= s.perSite || s.count >= s.total {
			if sg.dropped == 0 {
				s.log.LogAttrs(ctx, slog.LevelWarn, "masking audit: gap store full, new gaps are counted but not kept",
					slog.String("site", site), slog.Int("kept", len(sg.gaps)), slog.Int("kept_all_sites", s.count))
			}
			sg.dropped++
			continue
		}
		sg.gaps[k] = &Gap{Kind: f.Kind, Path: rep.Path, Selector: f.Selector, Hits: 1, FirstSeen: now, LastSeen: now}
		s.count++
		s.log.LogAttrs(ctx, slog.LevelInfo, "masking audit: unmasked sensitive field",
			slog.String("site", site), slog.String("kind", f.Kind), slog.String("path", rep.Path),
			slog.String("selector", f.Selector))
	}
}
