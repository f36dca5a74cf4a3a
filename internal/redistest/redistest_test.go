package redistest

import (
	"context"
	"testing"
	"time"
)

// TestServerLifecycle: the server answers, Stop makes it unreachable,
// Restart brings it back empty on the same address, and a paused server
// accepts a command but does not answer until it is resumed.
func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	c := s.Client()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Ping(c); err == nil {
		t.Fatal("stopped server answered")
	}
	s.Restart()
	if n, err := c.Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Fatalf("after Restart: EXISTS k = %d, %v; want 0 (empty)", n, err)
	}
	s.Pause()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("paused server answered")
	}
	s.Resume()
	if err := s.Ping(c); err != nil {
		t.Fatalf("resumed server: %v", err)
	}
}
