package token

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
)

// RevocationsOptions configure NewRevocations.
type RevocationsOptions struct {
	// Redis, when set, shares sign-outs with every replica: a sign-out
	// writes {prefix}revoked:{hex cookie MAC} with the cookie's remaining
	// lifetime as TTL, and a cookie not revoked here is looked up there
	// (one EXISTS per request that presents a session cookie).
	Redis *fleet.Redis
	// FailClosed refuses every session cookie not known locally while
	// Redis cannot be asked (down, slow, circuit open): no agent can then
	// use a cookie revoked on another replica, and every agent is signed
	// out on every replica but the one that signed them in. The default
	// (false) accepts them: see sharedRevoked.
	FailClosed bool
}

// NewRevocations returns an empty revocation list, shared through Redis
// when o.Redis is set. The zero Revocations is a list for this replica
// only.
func NewRevocations(o RevocationsOptions) *Revocations {
	return &Revocations{shared: revocationsRedis{redis: o.Redis, failClosed: o.FailClosed}}
}

type revocationsRedis struct {
	redis      *fleet.Redis
	failClosed bool
}

func (rv *Revocations) key(sig [sha256.Size]byte) string {
	return rv.shared.redis.Prefix() + "revoked:" + hex.EncodeToString(sig[:])
}

// publish writes a sign-out made here to Redis. When Redis cannot take it
// the circuit opens, and the next lookup that reaches Redis writes the
// whole local list (sharedRevoked), this sign-out with it.
func (rv *Revocations) publish(ctx context.Context, sig [sha256.Size]byte, exp, now int64) {
	if rv.shared.redis == nil || exp <= now {
		return
	}
	rv.shared.redis.Do(ctx, fleet.UseRevocations, func(ctx context.Context, c redis.UniversalClient) error {
		return c.Set(ctx, rv.key(sig), 1, time.Duration(exp-now)*time.Second).Err()
	})
}

// sharedRevoked asks Redis whether another replica revoked sig (this
// replica's own sign-outs were checked already). A revocation found there
// is kept locally too, so this replica refuses the cookie even while
// Redis is down later.
//
// After an outage (fleet.Redis.Outages moved since the last write), the
// first lookup that reaches Redis writes back every unexpired revocation
// this replica knows, in the same round trip: the sign-outs Redis could
// not take meanwhile, and those it lost if it restarted empty. (A restart
// that no call noticed as a failure is not detected.)
//
// When Redis cannot answer, the cookie is accepted (fail open) unless
// FailClosed: a Redis outage must not sign out every agent of the fleet,
// and what it costs is bounded. Sign-outs made on this replica, and those
// it has seen in Redis, stay refused; only a cookie revoked on another
// replica and not yet seen here is accepted, until Redis answers again
// (probed every second) or the cookie expires. Failures are counted in
// cobrowse_proxy_redis_fallbacks_total{use="revocations"}.
func (rv *Revocations) sharedRevoked(ctx context.Context, sig [sha256.Size]byte, exp, now int64) bool {
	if rv.shared.redis == nil {
		return false
	}
	outages := rv.shared.redis.Outages()
	var refill map[[sha256.Size]byte]int64
	rv.mu.Lock()
	if rv.synced != outages && len(rv.m) > 0 {
		refill = make(map[[sha256.Size]byte]int64, len(rv.m))
		for s, e := range rv.m {
			if e > now {
				refill[s] = e
			}
		}
	}
	rv.mu.Unlock()

	var exists *redis.IntCmd
	err := rv.shared.redis.Do(ctx, fleet.UseRevocations, func(ctx context.Context, c redis.UniversalClient) error {
		if len(refill) == 0 {
			exists = c.Exists(ctx, rv.key(sig))
			return exists.Err()
		}
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for s, e := range refill {
				p.Set(ctx, rv.key(s), 1, time.Duration(e-now)*time.Second)
			}
			exists = p.Exists(ctx, rv.key(sig))
			return nil
		})
		return err
	})
	if err != nil {
		return rv.shared.failClosed
	}
	if rv.shared.redis.Outages() == outages { // no outage began meanwhile
		rv.mu.Lock()
		rv.synced = outages
		rv.mu.Unlock()
	}
	if exists.Val() > 0 {
		rv.add(sig, exp, now)
		return true
	}
	return false
}
