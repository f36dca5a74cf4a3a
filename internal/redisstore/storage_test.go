package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// newStorage returns a Storage on srv with its own client, both closed at
// the end of the test.
func newStorage(t *testing.T, srv *redisServer, o Options) *Storage {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = "test"
	}
	c, err := NewClient(config.StorageRedis{URL: srv.url(), Timeout: o.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		c.Close()
	})
	return s
}

// step is one storage operation; its result is printed so that the same
// script run on certmagic.FileStorage and on Storage can be compared.
type step func(ctx context.Context, s certmagic.Storage) string

func store(k, v string) step {
	return func(ctx context.Context, s certmagic.Storage) string {
		return fmt.Sprintf("store %s: %v", k, s.Store(ctx, k, []byte(v)))
	}
}

func load(k string) step {
	return func(ctx context.Context, s certmagic.Storage) string {
		v, err := s.Load(ctx, k)
		return fmt.Sprintf("load %s: %q notExist=%v err=%v", k, v, errors.Is(err, fs.ErrNotExist), err != nil)
	}
}

func exists(k string) step {
	return func(ctx context.Context, s certmagic.Storage) string {
		return fmt.Sprintf("exists %s: %v", k, s.Exists(ctx, k))
	}
}

func del(k string) step {
	return func(ctx context.Context, s certmagic.Storage) string {
		return fmt.Sprintf("delete %s: %v", k, s.Delete(ctx, k))
	}
}

func list(k string, recursive bool) step {
	return func(ctx context.Context, s certmagic.Storage) string {
		keys, err := s.List(ctx, k, recursive)
		slices.Sort(keys)
		return fmt.Sprintf("list %s recursive=%v: %v notExist=%v", k, recursive, keys, errors.Is(err, fs.ErrNotExist))
	}
}

func stat(k string) step {
	return func(ctx context.Context, s certmagic.Storage) string {
		info, err := s.Stat(ctx, k)
		if err != nil {
			return fmt.Sprintf("stat %s: notExist=%v", k, errors.Is(err, fs.ErrNotExist))
		}
		recent := time.Since(info.Modified) < time.Minute
		if !info.IsTerminal {
			recent = true // a directory's time is not kept
		}
		size := info.Size
		if !info.IsTerminal {
			size = 0 // a directory's size is the file system's business
		}
		return fmt.Sprintf("stat %s: key=%s terminal=%v size=%d recent=%v", k, info.Key, info.IsTerminal, size, recent)
	}
}

// TestStorageConformance runs scripts of operations on certmagic's own
// FileStorage and on the Redis Storage and wants the same answers: the
// semantics certmagic was written against (fs.ErrNotExist, directories as
// key prefixes, List's recursive and flat forms, Delete of a directory).
func TestStorageConformance(t *testing.T) {
	srv := startRedis(t)
	certs := []step{
		store("certificates/acme/a.test/a.test.crt", "CERT-A"),
		store("certificates/acme/a.test/a.test.key", "KEY-A"),
		store("certificates/acme/a.test/a.test.json", "{}"),
		store("certificates/acme/b.test/b.test.crt", "CERT-B"),
		store("acme/acct/user.key", "ACCOUNT"),
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"load missing", []step{load("nope"), exists("nope"), stat("nope"), list("nope", false), list("nope", true)}},
		{"store load overwrite", []step{store("a/b", "1"), load("a/b"), store("a/b", "22"), load("a/b"), stat("a/b")}},
		{"empty value", []step{store("empty", ""), load("empty"), exists("empty"), stat("empty")}},
		{"directories", append(slices.Clone(certs),
			exists("certificates"), exists("certificates/acme"), exists("certificates/acme/a.test"),
			exists("certificates/acme/a.tes"), stat("certificates/acme/a.test"), stat("certificates/acme/a.test/a.test.crt"))},
		{"list", append(slices.Clone(certs),
			list("certificates", false), list("certificates", true), list("certificates/acme", false),
			list("certificates/acme/a.test", false), list("acme", true), list("certificates/acme/a.test/a.test.crt", false))},
		{"delete file and directory", append(slices.Clone(certs),
			del("certificates/acme/a.test/a.test.crt"), load("certificates/acme/a.test/a.test.crt"), exists("certificates/acme/a.test"),
			del("certificates/acme/a.test"), exists("certificates/acme/a.test"), load("certificates/acme/a.test/a.test.key"),
			exists("certificates/acme/b.test"), list("certificates", true), del("certificates/acme/a.test"), del("never/was"))},
		{"glob characters in keys", []step{
			store("odd/a*b", "1"), store("odd/a?b", "2"), store("odd/[x]", "3"), store("odd/a\\b", "4"), store("oddity/c", "5"),
			list("odd", false), exists("od"), del("odd"), list("oddity", false), exists("odd"),
		}},
		{"slashes", []step{store("/x//y/", "v"), load("x/y"), list("x/", false), exists("x")}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			file := &certmagic.FileStorage{Path: t.TempDir()}
			rs := newStorage(t, srv, Options{Prefix: fmt.Sprintf("conf%d", i)})
			for j, st := range tt.steps {
				want, got := st(ctx, file), st(ctx, rs)
				if got != want {
					t.Errorf("step %d:\nredis: %s\nfile:  %s", j, got, want)
				}
			}
		})
	}
}

// TestStatSize: a file's size is the plain value's, also when encrypted.
func TestStatSize(t *testing.T) {
	srv := startRedis(t)
	s := newStorage(t, srv, Options{EncryptionKey: bytes.Repeat([]byte{1}, 32)})
	ctx := context.Background()
	if err := s.Store(ctx, "k/site.key", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "k/site.key")
	if err != nil || info.Size != 5 || !info.IsTerminal || info.Key != "k/site.key" {
		t.Errorf("Stat = %+v, %v", info, err)
	}
}

// TestLockExclusion: with two replicas (two clients) and several
// goroutines each, at most one holder is ever inside the lock, and every
// waiter gets its turn.
func TestLockExclusion(t *testing.T) {
	srv := startRedis(t)
	replicas := []*Storage{newStorage(t, srv, Options{}), newStorage(t, srv, Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var inside, maxInside, turns atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			s := replicas[i%2]
			for range 3 {
				if err := s.Lock(ctx, "issue_cert_a.test"); err != nil {
					errs <- err
					return
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				time.Sleep(time.Millisecond) // a critical section that takes time
				inside.Add(-1)
				turns.Add(1)
				if err := s.Unlock(ctx, "issue_cert_a.test"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if maxInside.Load() != 1 || turns.Load() != 24 {
		t.Errorf("max holders at once = %d (want 1), turns = %d (want 24)", maxInside.Load(), turns.Load())
	}
}

// TestLockWaitHonoursContext: Lock on a held lock returns when its
// context ends, and TryLock says no without waiting.
func TestLockWaitHonoursContext(t *testing.T) {
	srv := startRedis(t)
	a, b := newStorage(t, srv, Options{}), newStorage(t, srv, Options{})
	ctx := context.Background()
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "l"); ok || err != nil {
		t.Errorf("TryLock on a held lock = %v, %v", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := b.Lock(wctx, "l"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a held lock = %v, want context.DeadlineExceeded", err)
	}
	if err := a.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "l"); !ok || err != nil {
		t.Errorf("TryLock on a free lock = %v, %v", ok, err)
	}
	if err := b.Unlock(ctx, "l"); err != nil {
		t.Error(err)
	}
	if err := b.Unlock(ctx, "l"); err == nil {
		t.Error("Unlock of a lock not held: no error")
	}
}

// TestLockRenewedWhileHeld: a lock held for several LockTTLs does not
// expire, because its renewer extends it.
func TestLockRenewedWhileHeld(t *testing.T) {
	srv := startRedis(t)
	const ttl = 300 * time.Millisecond
	a, b := newStorage(t, srv, Options{LockTTL: ttl}), newStorage(t, srv, Options{LockTTL: ttl})
	ctx := context.Background()
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	// b tries for 4 TTLs: an unrenewed lock would have expired by then.
	wctx, cancel := context.WithTimeout(ctx, 4*ttl)
	defer cancel()
	if err := b.Lock(wctx, "l"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b.Lock while a holds it = %v, want it to wait until its deadline", err)
	}
	if err := a.RenewLockLease(ctx, "l", time.Hour); err != nil {
		t.Errorf("RenewLockLease: %v", err)
	}
	if pttl := srv.client().PTTL(ctx, "test:certmagic:lock:l").Val(); pttl <= 0 || pttl > ttl {
		t.Errorf("lock TTL after RenewLockLease = %v, want at most LockTTL %v (a crash must not block for the lease)", pttl, ttl)
	}
	if err := a.Unlock(ctx, "l"); err != nil {
		t.Error(err)
	}
}

// TestLockExpiresAfterHolderDies: a holder that stops renewing (Close
// without Unlock, as a killed process) blocks the others only until the
// lock expires; the dead holder cannot then release the new holder's lock.
func TestLockExpiresAfterHolderDies(t *testing.T) {
	srv := startRedis(t)
	const ttl = 300 * time.Millisecond
	dead, b := newStorage(t, srv, Options{LockTTL: ttl}), newStorage(t, srv, Options{LockTTL: ttl})
	ctx := context.Background()
	if err := dead.Lock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	token := srv.client().Get(ctx, "test:certmagic:lock:issue_cert_a.test").Val()
	dead.Close() // renewer stopped, lock left in Redis

	wctx, cancel := context.WithTimeout(ctx, 20*ttl)
	defer cancel()
	if err := b.Lock(wctx, "issue_cert_a.test"); err != nil {
		t.Fatalf("lock of a dead holder never expired: %v", err)
	}
	// The dead holder's token no longer opens it.
	if n, err := releaseScript.Run(ctx, srv.client(), []string{"test:certmagic:lock:issue_cert_a.test"}, token).Int(); n != 0 || err != nil {
		t.Errorf("release with the old token = %d, %v; want 0 (not the owner)", n, err)
	}
	if err := b.Unlock(ctx, "issue_cert_a.test"); err != nil {
		t.Errorf("new holder's Unlock: %v", err)
	}
}

// TestUnlockOnlyByOwner: a holder whose lock expired and was taken over
// gets an error from Unlock and leaves the new holder's lock alone.
func TestUnlockOnlyByOwner(t *testing.T) {
	srv := startRedis(t)
	a, b := newStorage(t, srv, Options{}), newStorage(t, srv, Options{})
	ctx := context.Background()
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	raw := srv.client()
	raw.Del(ctx, "test:certmagic:lock:l") // as if it had expired
	if err := b.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, "l"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Unlock of a lost lock = %v, want an error saying it expired", err)
	}
	if n := raw.Exists(ctx, "test:certmagic:lock:l").Val(); n != 1 {
		t.Error("the new holder's lock was deleted by the old holder")
	}
	if err := b.Unlock(ctx, "l"); err != nil {
		t.Error(err)
	}
}

// TestEncryptionAtRest: private keys reach Redis encrypted (not PEM),
// other files do not; they read back only with the same key.
func TestEncryptionAtRest(t *testing.T) {
	srv := startRedis(t)
	key := bytes.Repeat([]byte{7}, 32)
	s := newStorage(t, srv, Options{EncryptionKey: key})
	ctx := context.Background()
	pemKey := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI...\n-----END EC PRIVATE KEY-----\n")
	const k = "certificates/acme/a.test/a.test.key"
	if err := s.Store(ctx, k, pemKey); err != nil {
		t.Fatal(err)
	}
	if err := s.Store(ctx, "certificates/acme/a.test/a.test.crt", []byte("CERT")); err != nil {
		t.Fatal(err)
	}
	raw := srv.client()
	v := raw.HGet(ctx, "test:certmagic:f:"+k, "v").Val()
	if strings.Contains(v, "PRIVATE KEY") || strings.Contains(v, "MHcCAQEEI") || !strings.HasPrefix(v, string(sealedMagic)) {
		t.Errorf("private key stored in clear: %q", v)
	}
	if v := raw.HGet(ctx, "test:certmagic:f:certificates/acme/a.test/a.test.crt", "v").Val(); v != "CERT" {
		t.Errorf("certificate stored as %q, want it as is", v)
	}
	if got, err := s.Load(ctx, k); err != nil || !bytes.Equal(got, pemKey) {
		t.Errorf("Load = %q, %v", got, err)
	}

	noKey := newStorage(t, srv, Options{})
	if _, err := noKey.Load(ctx, k); err == nil || !strings.Contains(err.Error(), "encryptionKeyFile") {
		t.Errorf("Load without the key = %v, want an error naming encryptionKeyFile", err)
	}
	other := newStorage(t, srv, Options{EncryptionKey: bytes.Repeat([]byte{8}, 32)})
	if _, err := other.Load(ctx, k); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("Load with another key = %v", err)
	}
	// A value moved to another key does not decrypt (the key is the AAD).
	raw.HSet(ctx, "test:certmagic:f:other/x.key", "v", v)
	if _, err := s.Load(ctx, "other/x.key"); err == nil {
		t.Error("a sealed value copied to another key decrypted")
	}
	// A key stored before encryption was turned on still loads.
	if err := noKey.Store(ctx, "legacy/old.key", pemKey); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "legacy/old.key"); err != nil || !bytes.Equal(got, pemKey) {
		t.Errorf("Load of a plain legacy key = %q, %v", got, err)
	}
	if _, err := New(raw, Options{Prefix: "x", EncryptionKey: []byte("short")}); err == nil {
		t.Error("New accepted a 5-byte key")
	}
}

// TestKeyPrefixIsolation: two fleets on one Redis see neither each
// other's files nor each other's locks.
func TestKeyPrefixIsolation(t *testing.T) {
	srv := startRedis(t)
	a, b := newStorage(t, srv, Options{Prefix: "fleet-a"}), newStorage(t, srv, Options{Prefix: "fleet-b"})
	ctx := context.Background()
	if err := a.Store(ctx, "certificates/x/x.crt", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := b.Store(ctx, "certificates/x/x.crt", []byte("B")); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.Load(ctx, "certificates/x/x.crt"); string(v) != "A" {
		t.Errorf("fleet-a reads %q", v)
	}
	if err := b.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if keys, err := a.List(ctx, "", true); err != nil || len(keys) != 3 {
		t.Errorf("fleet-a after fleet-b deleted everything: %v, %v", keys, err)
	}
	if b.Exists(ctx, "certificates") {
		t.Error("fleet-b still has files")
	}
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "l"); !ok || err != nil {
		t.Errorf("fleet-b TryLock of a lock fleet-a holds = %v, %v; want its own lock", ok, err)
	}
	a.Unlock(ctx, "l")
	b.Unlock(ctx, "l")
}

// TestRedisDown: with Redis stopped or not answering (paused), every call
// fails within a bounded time, instead of hanging; and works again when
// Redis is back.
func TestRedisDown(t *testing.T) {
	srv := startRedis(t)
	const timeout = 100 * time.Millisecond
	const bound = 3 * time.Second // generous: only a hang fails it
	s := newStorage(t, srv, Options{Timeout: timeout})
	ctx := context.Background()
	if err := s.Store(ctx, "a/b", []byte("v")); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Store", func() error { return s.Store(ctx, "a/c", []byte("v")) }},
		{"Load", func() error { _, err := s.Load(ctx, "a/b"); return err }},
		{"Delete", func() error { return s.Delete(ctx, "a/b") }},
		{"List", func() error { _, err := s.List(ctx, "a", true); return err }},
		{"Stat", func() error { _, err := s.Stat(ctx, "a/b"); return err }},
		{"Exists", func() error {
			if s.Exists(ctx, "a/b") {
				return nil
			}
			return errors.New("false")
		}},
		{"Lock", func() error { return s.Lock(ctx, "l") }},
	}
	check := func(state string) {
		for _, c := range calls {
			start := time.Now()
			err := c.call()
			if took := time.Since(start); took > bound {
				t.Errorf("Redis %s: %s took %v", state, c.name, took)
			}
			if err == nil {
				t.Errorf("Redis %s: %s succeeded", state, c.name)
			}
		}
	}
	srv.pause()
	check("paused")
	srv.resume()
	if v, err := s.Load(ctx, "a/b"); err != nil || string(v) != "v" {
		t.Errorf("after resume: Load = %q, %v", v, err)
	}
	srv.stop()
	check("stopped")
	srv.start()
	if err := s.Store(ctx, "a/b", []byte("again")); err != nil {
		t.Errorf("after restart: Store: %v", err)
	}
	if _, err := s.Load(ctx, "a/b"); err != nil {
		t.Errorf("after restart: Load: %v", err)
	}
}

var _ redis.Cmdable = (*redis.Client)(nil)

// TestLockAfterClose: a closed Storage takes no lock (no renewer could
// be stopped any more) and leaves none behind in Redis.
func TestLockAfterClose(t *testing.T) {
	srv := startRedis(t)
	s := newStorage(t, srv, Options{})
	s.Close()
	ctx := context.Background()
	if err := s.Lock(ctx, "l"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Lock after Close = %v", err)
	}
	if n := srv.client().Exists(ctx, "test:certmagic:lock:l").Val(); n != 0 {
		t.Error("Lock after Close left the lock in Redis")
	}
}
