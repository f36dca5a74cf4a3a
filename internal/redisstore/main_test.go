package redisstore

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// lock renewer must stop on Unlock or Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
