package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
)

// Option configures New and NewKeyed.
type Option func(*options)

type options struct {
	redis *fleet.Redis
	name  Name
}

// Name tells one shared limit apart from the others in Redis: it is part
// of every key of that limit. Use the constants below, so the set of keys
// a fleet writes is fixed by the code, never by a request or the config,
// and every replica uses the same name for the same limit.
type Name string

// The shared limits.
const (
	NameTokenCustomer  Name = "token-customer"   // customer tokens, per client address
	NameTokenAgentFail Name = "token-agent-fail" // failed agent authentications, per client address
	NameTokenAgent     Name = "token-agent"      // agent tokens, per authenticated agent
	NameCSPReport      Name = "csp-report"       // CSP violation reports, per client address (all sites)
	NameMaskReport     Name = "mask-report"      // masking audit reports, per client address (all sites)
	NameOnDemandIssue  Name = "ondemand-issue"   // on-demand certificate issuance, one bucket
	NameOnDemandAsk    Name = "ondemand-ask"     // calls to the on-demand ask URL, one bucket
)

// Shared makes the limit count across every replica that shares r: the
// bucket lives in Redis under {prefix}ratelimit:{name}:{key}, so name must
// tell this limit apart from every other one and be the same on every
// replica: one of the Name constants. Each Allow or Check
// is one round trip (one EVALSHA; after a Redis restart the first is
// followed by one EVAL that reloads the script). When Redis fails or the
// circuit is open (internal/fleet), the local bucket decides, as it does
// without this option: a fleet of N replicas then allows up to N times
// the rate until Redis is back.
//
// A nil r, or a Limit that never refills (Every or Burst not positive),
// leaves the limiter local.
func Shared(r *fleet.Redis, name Name) Option {
	return func(o *options) { o.redis, o.name = r, name }
}

func (o options) shared(l Limit) *shared {
	if o.redis == nil || l.Every <= 0 || l.Burst <= 0 {
		return nil
	}
	return &shared{
		r:      o.redis,
		prefix: o.redis.Prefix() + "ratelimit:" + string(o.name) + ":",
		every:  max(l.Every.Microseconds(), 1),
		burst:  int64(l.Burst),
	}
}

// shared is a bucket per key in Redis, kept by the GCRA script below.
type shared struct {
	r      *fleet.Redis
	prefix string
	every  int64 // microseconds per request's worth
	burst  int64
}

// gcra is the token bucket as GCRA (the generic cell rate algorithm): one
// number per key, the theoretical arrival time (TAT) of the next request
// in microseconds of Redis's clock, so replicas whose clocks disagree still
// share one bucket. A request fits when TAT+every-now <= burst*every; the
// bucket is full when TAT <= now, and the key expires then. It returns 0
// when the request fits (and, if ARGV[3] is 1, takes it), or how many
// microseconds until one would. ARGV[3] 0 is a peek that writes nothing:
// the check before a failure-only limit is charged.
//
// It is the algorithm of github.com/go-redis/redis_rate (after
// github.com/rwz/redis-gcra), rewritten because redis_rate puts its own
// "rate:" before every key (outside our prefix, so outside a fleet's
// ACL), and its peek (cost 0) allows when no request's worth is left.
// Integers in microseconds keep it exact: 2^53 µs is 285 years.
var gcra = redis.NewScript(`
local every = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + every - burst * every - now
if wait > 0 then return wait end
if ARGV[3] == "1" then
  tat = tat + every
  redis.call("SET", KEYS[1], string.format("%.0f", tat), "PX", math.ceil((tat - now) / 1000))
end
return 0
`)

// take runs the script for key; an error means the local bucket decides.
func (s *shared) take(key string, charge bool) (bool, time.Duration, error) {
	cost := 0
	if charge {
		cost = 1
	}
	var wait int64
	err := s.r.Do(context.Background(), fleet.UseRateLimit, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		wait, err = gcra.Run(ctx, c, []string{s.prefix + key}, s.every, s.burst, cost).Int64()
		return err
	})
	if err != nil {
		return false, 0, err
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Microsecond, nil
	}
	return true, 0, nil
}

// keyString is a key's name in Redis: a client prefix as "192.0.2.1/32"
// or "2001:db8::/64" (the zero address, one shared bucket, is "invalid
// Prefix" as it is one bucket locally).
func keyString[K comparable](k K) string {
	switch v := any(k).(type) {
	case string:
		return v
	case netip.Prefix:
		return v.String()
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}
