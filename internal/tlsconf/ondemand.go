package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

// decider is the on-demand DecisionFunc: certmagic calls it during a
// handshake for a name it has no certificate for. The checks run cheapest
// first, so a flood of random SNI names costs neither an ask request nor
// rate-limit budget unless the allow-list lets them through:
//
//  1. listed names (sites, domains) are always allowed;
//  2. a name no site serves is refused;
//  3. with allow patterns, the name must match one;
//  4. with an ask URL, it must answer 2xx (asked at most ten times the
//     issuance rate a minute, so random names cannot flood it);
//  5. the rate limit must have room, unless a certificate for the name is
//     already in storage: certmagic also asks before loading a stored
//     certificate (after a restart) and before renewing one, and those
//     must never be refused for want of budget.
type decider struct {
	listed  map[string]bool
	serves  func(string) bool
	stored  func(ctx context.Context, name string) bool
	allow   []string
	ask     *url.URL
	client  *http.Client
	limiter *ratelimit.Limiter // one global bucket (the zero address)
	// askLimit bounds the calls to the ask URL, which a flood of random
	// SNI names would otherwise turn into as many outbound requests.
	askLimit *ratelimit.Limiter
	log      *slog.Logger
}

var errOnDemandRefused = errors.New("on-demand certificate refused")

func newDecider(od config.TLSOnDemand, listed map[string]bool, o Options) *decider {
	d := &decider{listed: listed, serves: o.Serves, allow: od.Allow, client: o.AskClient, log: o.Logger,
		limiter: ratelimit.New(ratelimit.Limit{
			Every: time.Minute / time.Duration(max(od.RatePerMinute, 1)), Burst: max(od.RatePerMinute, 1), MaxClients: 1,
		}, o.Now, ratelimit.Shared(o.Fleet, ratelimit.NameOnDemandIssue))}
	if od.Ask != "" {
		d.ask, _ = url.Parse(od.Ask) // validated by config
		perMinute := 10 * max(od.RatePerMinute, 1)
		d.askLimit = ratelimit.New(ratelimit.Limit{Every: time.Minute / time.Duration(perMinute), Burst: perMinute, MaxClients: 1}, o.Now,
			ratelimit.Shared(o.Fleet, ratelimit.NameOnDemandAsk))
	}
	if d.client == nil {
		d.client = &http.Client{Timeout: 10 * time.Second}
	}
	return d
}

func (d *decider) decide(ctx context.Context, name string) error {
	if d.listed[name] {
		return nil
	}
	if err := d.check(ctx, name); err != nil {
		d.log.Debug("tls: on-demand certificate refused", "name", name, "error", err)
		return err
	}
	d.log.Info("tls: on-demand certificate allowed", "name", name)
	return nil
}

func (d *decider) check(ctx context.Context, name string) error {
	if d.serves != nil && !d.serves(name) {
		return fmt.Errorf("%w: no site serves %s", errOnDemandRefused, name)
	}
	if len(d.allow) > 0 && !matchAny(d.allow, name) {
		return fmt.Errorf("%w: %s matches no tls.acme.onDemand.allow pattern", errOnDemandRefused, name)
	}
	if d.ask != nil {
		if ok, _ := d.askLimit.Allow(netip.Addr{}); !ok {
			return fmt.Errorf("%w: %s: too many names to ask about (10 x tls.acme.onDemand.ratePerMinute a minute)", errOnDemandRefused, name)
		}
		if err := d.askURL(ctx, name); err != nil {
			return err
		}
	}
	if d.stored != nil && d.stored(ctx, name) {
		return nil // loading or renewing what was issued before
	}
	if ok, _ := d.limiter.Allow(netip.Addr{}); !ok {
		return fmt.Errorf("%w: %s: tls.acme.onDemand.ratePerMinute reached", errOnDemandRefused, name)
	}
	return nil
}

func (d *decider) askURL(ctx context.Context, name string) error {
	u := *d.ask
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: ask %s: %v", errOnDemandRefused, d.ask.Redacted(), err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: ask %s answered %d for %s", errOnDemandRefused, d.ask.Redacted(), resp.StatusCode, name)
	}
	return nil
}

// matchAny reports whether name equals a pattern or, for "*.suffix",
// is exactly one label followed by .suffix (the same rule as a wildcard
// certificate, RFC 6125 section 6.4.3).
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if suffix, ok := strings.CutPrefix(p, "*."); ok {
			label, rest, found := strings.Cut(name, ".")
			if found && label != "" && rest == suffix {
				return true
			}
		} else if p == name {
			return true
		}
	}
	return false
}
