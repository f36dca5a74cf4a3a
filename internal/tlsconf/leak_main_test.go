package tlsconf

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// listener, watcher and refresher started here must be stopped. Ignored,
// because they are not ours to stop: certmagic's per-CA rate limiters
// (kept for the process's life by design), its lock-file refreshers (they
// exit on their next tick after the lock is released), and the in-process
// Pebble test CA's validation workers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
		goleak.IgnoreAnyFunction("github.com/letsencrypt/pebble/v2/va.VAImpl.processTasks"),
	)
}
