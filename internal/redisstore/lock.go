package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// A lock is a string key set with SET NX PX to a random token: only one
// holder can create it, it expires LockTTL after its last renewal (so a
// crashed holder blocks nobody for longer), and the Lua scripts below
// renew and release it only while it still holds the caller's token, so a
// holder whose lock expired and was taken over cannot renew or delete the
// new holder's lock.

// renewScript extends the lock if it is still ours: 1, else 0.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes the lock if it is still ours: 1, else 0.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// heldLock is a lock this Storage holds, with its renewer.
type heldLock struct {
	token  string
	cancel context.CancelFunc // stops the renewer
	done   chan struct{}      // closed when the renewer has returned
}

// Lock waits until it holds the lock name, or ctx ends, polling with a
// growing, jittered backoff (25ms to 1s). A Redis error ends the wait with
// that error at once: certmagic retries the whole operation with its own
// backoff, and a replica does not sit in Lock while Redis is down.
func (s *Storage) Lock(ctx context.Context, name string) error {
	wait := 25 * time.Millisecond
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		d := wait/2 + mrand.N(wait/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redisstore: lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// TryLock takes the lock name if it is free, and reports whether it did.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	token, err := newToken()
	if err != nil {
		return false, err
	}
	key := s.locks + name
	lctx, cancel := s.bounded(ctx)
	ok, err := s.client.SetNX(lctx, key, token, s.lockTTL).Result()
	cancel()
	if err != nil {
		return false, fmt.Errorf("redisstore: lock %s: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	rctx, stop := context.WithCancel(context.Background())
	h := &heldLock{token: token, cancel: stop, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		// Closed while we were acquiring: no renewer may start now.
		s.mu.Unlock()
		stop()
		uctx, cancel := s.bounded(context.WithoutCancel(ctx))
		defer cancel()
		releaseScript.Run(uctx, s.client, []string{key}, token)
		return false, fmt.Errorf("redisstore: lock %s: %w", name, errClosed)
	}
	if old := s.held[name]; old != nil {
		// Our earlier lock on name expired (its renewals failed) and we
		// took it again: the old renewer can only fail now, stop it.
		old.cancel()
	}
	s.held[name] = h
	s.wg.Add(1)
	s.mu.Unlock()
	go s.renew(rctx, key, h)
	return true, nil
}

// renew extends the lock every LockTTL/3 until it is unlocked, and stops
// early if the lock turns out to be someone else's.
func (s *Storage) renew(ctx context.Context, key string, h *heldLock) {
	defer s.wg.Done()
	defer close(h.done)
	t := time.NewTicker(s.lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := s.bounded(ctx)
		n, err := renewScript.Run(rctx, s.client, []string{key}, h.token, s.lockTTL.Milliseconds()).Int()
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Keep trying: the lock survives until LockTTL after the
			// last renewal that reached Redis.
			s.log.Warn("redis storage: lock not renewed; retrying", "lock", key, "error", err)
		case n == 0:
			s.log.Error("redis storage: lock lost (expired and taken by another holder); another replica may be doing the same work", "lock", key)
			return
		}
	}
}

// errClosed is returned by TryLock and Lock after Close.
var errClosed = errors.New("storage closed")

// errNotHeld is returned by Unlock and RenewLockLease for a lock this
// Storage does not hold.
var errNotHeld = errors.New("not held by this process")

// Unlock stops the renewer and deletes the lock if it is still ours. It
// returns an error if the lock had already expired (another replica may
// have taken it; its lock is left alone) or Redis could not be reached
// (the lock then expires after LockTTL).
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("redisstore: unlock %s: %w", name, errNotHeld)
	}
	h.cancel()
	<-h.done
	uctx, cancel := s.bounded(ctx)
	defer cancel()
	n, err := releaseScript.Run(uctx, s.client, []string{s.locks + name}, h.token).Int()
	if err != nil {
		return fmt.Errorf("redisstore: unlock %s (it expires by itself): %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: unlock %s: the lock had expired", name)
	}
	return nil
}

// RenewLockLease implements certmagic.LockLeaseRenewer. The renewer
// already keeps a held lock alive for as long as it is held, so a longer
// lease is not granted (it would only delay a takeover after a crash);
// this checks the lock is still ours and extends it by LockTTL.
func (s *Storage) RenewLockLease(ctx context.Context, name string, _ time.Duration) error {
	s.mu.Lock()
	h := s.held[name]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("redisstore: renew lock %s: %w", name, errNotHeld)
	}
	rctx, cancel := s.bounded(ctx)
	defer cancel()
	n, err := renewScript.Run(rctx, s.client, []string{s.locks + name}, h.token, s.lockTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: renew lock %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: renew lock %s: lost (expired and taken by another holder)", name)
	}
	return nil
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("redisstore: lock token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
