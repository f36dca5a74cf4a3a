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

// publish writes a sign-out made here to Redis. When Redis cannot take it,
// the sign-out stays pending and is written with the next lookup that
// reaches Redis, so it reaches the other replicas once Redis is back.
func (rv *Revocations) publish(ctx context.Context, sig [sha256.Size]byte, exp, now int64) {
	if rv.shared.redis == nil || exp <= now {
		return
	}
	err := rv.shared.redis.Do(ctx, fleet.UseRevocations, func(ctx context.Context, c redis.UniversalClient) error {
		return c.Set(ctx, rv.key(sig), 1, time.Duration(exp-now)*time.Second).Err()
	})
	if err == nil {
		return
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.pending == nil {
		rv.pending = map[[sha256.Size]byte]int64{}
	}
	if len(rv.pending) < maxRevoked {
		rv.pending[sig] = exp
	}
}

// sharedRevoked asks Redis whether another replica revoked sig (this
// replica's own sign-outs were checked already), writing any pending
// sign-outs in the same round trip. A revocation found there is kept
// locally too, so this replica refuses the cookie even while Redis is
// down later.
//
// When Redis cannot answer, the cookie is accepted (fail open) unless
// FailClosed: a Redis outage must not sign out every agent of the fleet,
// and what it costs is bounded. Sign-outs made on this replica, and those
// it has seen in Redis, stay refused; only a cookie revoked on another
// replica and not yet seen here is accepted, until Redis answers again
// (the circuit retries after a second) or the cookie expires. Failures are
// counted in cobrowse_proxy_redis_fallbacks_total{use="revocations"}.
func (rv *Revocations) sharedRevoked(ctx context.Context, sig [sha256.Size]byte, exp, now int64) bool {
	if rv.shared.redis == nil {
		return false
	}
	rv.mu.Lock()
	var pending map[[sha256.Size]byte]int64
	if len(rv.pending) > 0 {
		pending, rv.pending = rv.pending, nil
	}
	rv.mu.Unlock()

	var exists *redis.IntCmd
	err := rv.shared.redis.Do(ctx, fleet.UseRevocations, func(ctx context.Context, c redis.UniversalClient) error {
		if len(pending) == 0 {
			exists = c.Exists(ctx, rv.key(sig))
			return exists.Err()
		}
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for s, e := range pending {
				if e > now {
					p.Set(ctx, rv.key(s), 1, time.Duration(e-now)*time.Second)
				}
			}
			exists = p.Exists(ctx, rv.key(sig))
			return nil
		})
		return err
	})
	if err != nil {
		if len(pending) > 0 {
			rv.mu.Lock()
			if rv.pending == nil {
				rv.pending = pending
			} else {
				for s, e := range pending {
					if len(rv.pending) >= maxRevoked {
						break
					}
					rv.pending[s] = e
				}
			}
			rv.mu.Unlock()
		}
		return rv.shared.failClosed
	}
	if exists.Val() > 0 {
		rv.add(sig, exp, now)
		return true
	}
	return false
}
