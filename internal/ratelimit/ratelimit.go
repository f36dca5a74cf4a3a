// Package ratelimit is the token-bucket limiter shared by the token
// endpoint, the CSP report endpoint and on-demand certificate issuance:
// one bucket per client address (per /64 for IPv6), or per any other key
// (an agent's identity), in bounded memory. With the Shared option a
// limit counts across every replica of a fleet, in Redis, and falls back
// to the local bucket when Redis cannot answer (remote.go).
package ratelimit

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// Limit configures a per-client token bucket.
type Limit struct {
	// Every is the time in which one request's worth refills.
	Every time.Duration
	// Burst is how many requests a client may make at once.
	Burst int
	// MaxClients bounds how many clients are tracked; past it, idle clients
	// are forgotten first, then arbitrary ones (see Limiter).
	MaxClients int
}

// Limiter is a token bucket per client address. IPv4 addresses are keyed
// as they are; IPv6 addresses by their /64, because one host usually owns a
// whole /64 and could otherwise rotate addresses to escape the limit.
type Limiter struct {
	k *Keyed[netip.Prefix]
}

// New returns a limiter; now is the clock (nil: time.Now). With the
// Shared option the limit counts across a fleet (remote.go).
func New(l Limit, now func() time.Time, opts ...Option) *Limiter {
	return &Limiter{k: NewKeyed[netip.Prefix](l, now, opts...)}
}

// Allow takes one request's worth from addr's bucket. When the bucket is
// empty it returns false and how long until the next request would pass.
func (l *Limiter) Allow(addr netip.Addr) (bool, time.Duration) { return l.k.Allow(clientKey(addr)) }

// Check reports what Allow would, without taking anything: for limits that
// count only failures, checked before the attempt and charged after it.
func (l *Limiter) Check(addr netip.Addr) (bool, time.Duration) { return l.k.Check(clientKey(addr)) }

// Len reports how many clients are tracked (for tests and a gauge).
func (l *Limiter) Len() int { return l.k.Len() }

// Keyed is a token bucket per key of any comparable type: a client address
// prefix (Limiter), an agent's identity.
//
// Memory is bounded: at most MaxClients buckets are kept. A full bucket is
// the same as no bucket, so when the map is full those are dropped first
// (losslessly); if that frees less than a tenth of the map, arbitrary
// buckets are dropped too, which can only make the limiter more lenient
// toward those keys, never refuse anyone wrongly. Dropping a tenth at a
// time keeps the cost per new key constant on average.
type Keyed[K comparable] struct {
	every time.Duration
	burst float64
	max   int
	now   func() time.Time

	remote *shared // nil: this process only

	mu      sync.Mutex
	buckets map[K]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewKeyed returns a limiter by key; now is the clock (nil: time.Now).
// With the Shared option the limit counts across a fleet (remote.go).
func NewKeyed[K comparable](l Limit, now func() time.Time, opts ...Option) *Keyed[K] {
	if now == nil {
		now = time.Now
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return &Keyed[K]{
		every: l.Every, burst: float64(l.Burst), max: max(l.MaxClients, 1), now: now,
		remote:  o.shared(l),
		buckets: make(map[K]*bucket),
	}
}

// Allow takes one request's worth from key's bucket. When the bucket is
// empty it returns false and how long until the next request would pass.
func (l *Keyed[K]) Allow(key K) (bool, time.Duration) { return l.decide(key, 1) }

// Check reports what Allow would, without taking anything.
func (l *Keyed[K]) Check(key K) (bool, time.Duration) { return l.decide(key, 0) }

// decide asks the shared bucket when there is one and it answers, and the
// local bucket otherwise. While Redis answers, what it allows is also
// taken locally, so a fallback starts from this replica's own recent
// traffic rather than from full buckets.
func (l *Keyed[K]) decide(key K, n float64) (bool, time.Duration) {
	if l.remote != nil {
		if ok, wait, err := l.remote.take(keyString(key), n > 0); err == nil {
			if ok && n > 0 {
				l.take(key, n)
			}
			return ok, wait
		}
	}
	return l.take(key, n)
}

func (l *Keyed[K]) take(key K, n float64) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if n == 0 {
			return true, 0 // no bucket is a full bucket
		}
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens -= n
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) * float64(l.every)))
	return false, wait
}

// Len reports how many keys are tracked.
func (l *Keyed[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Keyed[K]) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 && l.every > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
	}
	b.last = now
}

func (l *Keyed[K]) evict(now time.Time) {
	target := max(l.max/10, 1)
	freed := 0
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
			freed++
		}
	}
	for k := range l.buckets { // map order is unspecified: an arbitrary pick
		if freed >= target {
			break
		}
		delete(l.buckets, k)
		freed++
	}
}

func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen()) // the zero Addr gives an invalid prefix: one shared bucket
}

// RetryAfterSeconds formats a wait as the whole seconds of a Retry-After
// header, rounded up so a client that obeys it is not refused again.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	return max(s, 1)
}
