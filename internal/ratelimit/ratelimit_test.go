package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

// clock is a settable clock for the limiter.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterBoundedAndIPv6(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Limit{Every: time.Minute, Burst: 1, MaxClients: 100}, c.Now)
	for i := range 5000 {
		l.Allow(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
		if n := l.Len(); n > 100 {
			t.Fatalf("tracking %d clients, max 100", n)
		}
	}
	// One /64 is one client.
	l = New(Limit{Every: time.Minute, Burst: 1, MaxClients: 100}, c.Now)
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8::1")); !ok {
		t.Fatal("first")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8::2")); ok {
		t.Fatal("same /64 escaped the limit")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:0:1::1")); !ok {
		t.Fatal("another /64 was limited")
	}
	// Idle clients are dropped before active ones.
	l = New(Limit{Every: time.Second, Burst: 1, MaxClients: 10}, c.Now)
	for i := range 9 {
		l.Allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}))
	}
	c.Advance(2 * time.Second) // the nine refill: idle
	active := netip.MustParseAddr("192.0.2.1")
	l.Allow(active)
	l.Allow(netip.MustParseAddr("192.0.2.200")) // map full: evicts
	if ok, _ := l.Allow(active); ok {
		t.Fatal("an active client's bucket was dropped while idle ones existed")
	}
}

func TestAllowRefillAndRetryAfter(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Limit{Every: 10 * time.Second, Burst: 2, MaxClients: 10}, c.Now)
	a := netip.MustParseAddr("192.0.2.7")
	for i := range 2 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait != 10*time.Second || RetryAfterSeconds(wait) != 10 {
		t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
	}
	c.Advance(5 * time.Second)
	if _, wait := l.Allow(a); RetryAfterSeconds(wait) != 5 {
		t.Fatalf("half refilled: wait %v", wait)
	}
	c.Advance(10 * time.Second)
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("not refilled")
	}
	if RetryAfterSeconds(time.Millisecond) != 1 {
		t.Error("Retry-After must round up to at least 1 s")
	}
	// The zero address is one shared bucket (a global limit).
	g := New(Limit{Every: time.Minute, Burst: 1, MaxClients: 1}, c.Now)
	if ok, _ := g.Allow(netip.Addr{}); !ok {
		t.Fatal("global: first refused")
	}
	if ok, _ := g.Allow(netip.Addr{}); ok {
		t.Fatal("global: second allowed")
	}
}
