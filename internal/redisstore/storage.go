package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Defaults for Options left zero.
const (
	// DefaultTimeout bounds one Storage call (config.DefaultRedisTimeout).
	DefaultTimeout = 500 * time.Millisecond
	// DefaultLockTTL is how long a lock outlives a holder that stopped
	// renewing it (crashed, partitioned): short enough that another
	// replica takes over an issuance soon, long enough that a renewal
	// (every LockTTL/3) survives a few slow round trips.
	DefaultLockTTL = 60 * time.Second
)

// Options configure New.
type Options struct {
	// Prefix starts every key ("cobrowse-proxy"); the storage's keys are
	// under Prefix + ":certmagic:".
	Prefix string
	// Timeout bounds each call to Redis (a whole List or Delete scan
	// gets one Timeout per page). Zero: DefaultTimeout.
	Timeout time.Duration
	// EncryptionKey, 32 bytes, encrypts private keys (keys ending in
	// ".key") with AES-256-GCM before they reach Redis. Nil: stored as is.
	EncryptionKey []byte
	// LockTTL is a lock's expiry, renewed every LockTTL/3 while held.
	// Zero: DefaultLockTTL.
	LockTTL time.Duration
	// Logger receives lock renewal problems. Nil: discard.
	Logger *slog.Logger
}

// Storage is a certmagic.Storage (with certmagic.TryLocker and
// certmagic.LockLeaseRenewer) on Redis.
//
// Each stored file is a Redis hash at Prefix:certmagic:f:KEY with fields
// v (the value, encrypted for private keys), m (modification time, Unix
// milliseconds) and s (the plain value's size); "directories" exist only
// as prefixes of file keys, as on a file system. Locks are strings at
// Prefix:certmagic:lock:NAME holding a random token (see lock.go).
//
// Storage's methods are safe for concurrent use. Close stops the lock
// renewers; it does not close the client, which the caller owns.
type Storage struct {
	client  redis.UniversalClient
	files   string // key prefix of files, ends with ':'
	locks   string // key prefix of locks, ends with ':'
	timeout time.Duration
	lockTTL time.Duration
	log     *slog.Logger
	sealer  *sealer // nil: no encryption

	mu     sync.Mutex
	held   map[string]*heldLock
	closed bool           // no renewer starts after Close
	wg     sync.WaitGroup // lock renewers
}

var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)

// New returns a Storage on client. The client stays the caller's to close,
// after Storage.Close.
func New(client redis.UniversalClient, o Options) (*Storage, error) {
	s := &Storage{
		client:  client,
		files:   o.Prefix + ":certmagic:f:",
		locks:   o.Prefix + ":certmagic:lock:",
		timeout: o.Timeout,
		lockTTL: o.LockTTL,
		log:     o.Logger,
		held:    map[string]*heldLock{},
	}
	if o.Prefix == "" {
		return nil, errors.New("redisstore: empty key prefix")
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.lockTTL <= 0 {
		s.lockTTL = DefaultLockTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.EncryptionKey != nil {
		sl, err := newSealer(o.EncryptionKey)
		if err != nil {
			return nil, err
		}
		s.sealer = sl
	}
	return s, nil
}

// String names the storage in certmagic's logs; it never shows secrets.
func (s *Storage) String() string { return "redis:" + strings.TrimSuffix(s.files, ":f:") }

func (s *Storage) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// clean makes a certmagic key canonical: no leading, trailing or doubled
// slashes, so "a//b/" and "a/b" name the same file as on a file system.
func clean(key string) string {
	key = path.Clean("/" + key)
	return strings.TrimPrefix(key, "/")
}

// Store puts value at key, encrypting private keys when configured.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = clean(key)
	if key == "" {
		return errors.New("redisstore: store: empty key")
	}
	stored := value
	if s.sealer != nil && isPrivateKey(key) {
		var err error
		if stored, err = s.sealer.seal(key, value); err != nil {
			return fmt.Errorf("redisstore: encrypt %s: %w", key, err)
		}
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	err := s.client.HSet(ctx, s.files+key,
		"v", stored,
		"m", time.Now().UnixMilli(),
		"s", len(value)).Err()
	if err != nil {
		return fmt.Errorf("redisstore: store %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key; an error wrapping fs.ErrNotExist when
// there is none (what certmagic tests for).
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = clean(key)
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	v, err := s.client.HGet(ctx, s.files+key, "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: load %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %s: %w", key, err)
	}
	if isSealed(v) {
		if s.sealer == nil {
			return nil, fmt.Errorf("redisstore: load %s: the value is encrypted and no storage.redis.encryptionKeyFile is set", key)
		}
		return s.sealer.open(key, v)
	}
	// A private key stored before encryption was turned on is returned as
	// it is; certmagic rewrites it encrypted at its next renewal.
	return v, nil
}

// Delete removes key and, if key is a directory, every key under it. A key
// that does not exist is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = clean(key)
	dctx, cancel := s.bounded(ctx)
	err := s.client.Del(dctx, s.files+key).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redisstore: delete %s: %w", key, err)
	}
	err = s.scan(ctx, s.dirPattern(key), func(ctx context.Context, c redis.Cmdable, k string) error {
		return c.Del(ctx, k).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: delete %s/...: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a file or a directory. An error (Redis
// unreachable) reads as false, as certmagic's interface requires.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	key = clean(key)
	ectx, cancel := s.bounded(ctx)
	n, err := s.client.Exists(ectx, s.files+key).Result()
	cancel()
	if err != nil {
		return false
	}
	if n > 0 {
		return true
	}
	found, err := s.dirExists(ctx, key)
	return err == nil && found
}

var errFound = errors.New("found")

func (s *Storage) dirExists(ctx context.Context, key string) (bool, error) {
	err := s.scan(ctx, s.dirPattern(key), func(context.Context, redis.Cmdable, string) error { return errFound })
	if errors.Is(err, errFound) {
		return true, nil
	}
	return false, err
}

// List returns the keys under dir as FileStorage does: the direct children
// (files and directories) of dir, or with recursive every file and
// directory below it; each as dir/REST, sorted. An error wrapping
// fs.ErrNotExist when dir is neither a file nor a directory.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = clean(dir)
	seen := map[string]bool{}
	err := s.scan(ctx, s.dirPattern(dir), func(_ context.Context, _ redis.Cmdable, k string) error {
		rest := strings.TrimPrefix(k, s.files)
		if dir != "" {
			rest = strings.TrimPrefix(rest, dir+"/")
		}
		parts := strings.Split(rest, "/")
		if !recursive {
			parts = parts[:1]
		}
		for i := range parts {
			seen[path.Join(dir, path.Join(parts[:i+1]...))] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %s: %w", dir, err)
	}
	if len(seen) == 0 {
		// A file lists as empty, as on a file system.
		ectx, cancel := s.bounded(ctx)
		n, err := s.client.Exists(ectx, s.files+dir).Result()
		cancel()
		if err == nil && n > 0 {
			return []string{}, nil
		}
		return nil, fmt.Errorf("redisstore: list %s: %w", dir, fs.ErrNotExist)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// Stat describes key: a file with its modification time and (plain) size,
// or a directory; an error wrapping fs.ErrNotExist when it is neither.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = clean(key)
	sctx, cancel := s.bounded(ctx)
	vals, err := s.client.HMGet(sctx, s.files+key, "m", "s").Result()
	cancel()
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %s: %w", key, err)
	}
	if len(vals) == 2 && vals[0] != nil {
		info := certmagic.KeyInfo{Key: key, IsTerminal: true}
		if ms, err := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64); err == nil {
			info.Modified = time.UnixMilli(ms)
		}
		if n, err := strconv.ParseInt(fmt.Sprint(vals[1]), 10, 64); err == nil {
			info.Size = n
		}
		return info, nil
	}
	found, err := s.dirExists(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %s: %w", key, err)
	}
	if !found {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// dirPattern is the SCAN pattern of every file under dir ("" is the root).
func (s *Storage) dirPattern(dir string) string {
	if dir == "" {
		return globEscape(s.files) + "*"
	}
	return globEscape(s.files+dir+"/") + "*"
}

// globEscape quotes SCAN MATCH's special characters.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scanCount is SCAN's COUNT hint: certificate data is a few keys per name,
// so a page seldom needs more than one round trip.
const scanCount = 1000

// maxScanPages bounds one scan, so that a huge shared Redis cannot keep a
// call going for ever: 10 000 pages of 1000 is 10 million keys.
const maxScanPages = 10000

// scan calls fn for every key matching pattern, on every master of a
// Cluster. Each page gets its own timeout.
func (s *Storage) scan(ctx context.Context, pattern string, fn func(context.Context, redis.Cmdable, string) error) error {
	one := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for page := 0; page < maxScanPages; page++ {
			pctx, cancel := s.bounded(ctx)
			keys, next, err := c.Scan(pctx, cursor, pattern, scanCount).Result()
			if err == nil {
				for _, k := range keys {
					if err = fn(pctx, c, k); err != nil {
						break
					}
				}
			}
			cancel()
			if err != nil {
				return err
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
		return fmt.Errorf("more than %d SCAN pages for %s", maxScanPages, pattern)
	}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return one(ctx, c) })
	}
	return one(ctx, s.client)
}

// Close stops every lock renewer (the locks then expire after LockTTL; a
// process that exits without unlocking is the case the expiry exists
// for). It does not close the client.
func (s *Storage) Close() error {
	s.mu.Lock()
	s.closed = true
	for name, h := range s.held {
		h.cancel()
		delete(s.held, name)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
