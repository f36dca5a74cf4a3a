package proxy_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// listener, watcher and refresher started here must be stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
