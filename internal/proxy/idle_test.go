package proxy

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedBody returns one scripted Read result.
type scriptedBody struct {
	n   int
	err error
}

func (s scriptedBody) Read(p []byte) (int, error) { return s.n, s.err }
func (scriptedBody) Close() error                 { return nil }

// TestIdleBodyErrors: once the idle timeout has fired, a failed Read
// reports errUpstreamIdle whatever error the transport gave (so the abort
// says why), while data and a clean end pass as they are; before it has
// fired every result passes unchanged.
func TestIdleBodyErrors(t *testing.T) {
	reset := errors.New("connection reset by peer")
	for _, tt := range []struct {
		name    string
		fired   bool
		read    scriptedBody
		wantN   int
		wantErr error
	}{
		{"fired, transport error", true, scriptedBody{0, reset}, 0, errUpstreamIdle},
		{"fired, cancelled", true, scriptedBody{0, context.Canceled}, 0, errUpstreamIdle},
		{"fired, data", true, scriptedBody{3, nil}, 3, nil},
		{"fired, last data and EOF", true, scriptedBody{5, io.EOF}, 5, io.EOF},
		{"fired, EOF", true, scriptedBody{0, io.EOF}, 0, io.EOF},
		{"not fired, transport error", false, scriptedBody{0, reset}, 0, reset},
		{"not fired, data", false, scriptedBody{3, nil}, 3, nil},
		{"not fired, EOF", false, scriptedBody{0, io.EOF}, 0, io.EOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var fired atomic.Bool
			fired.Store(tt.fired)
			b := newIdleBody(tt.read, time.Hour, func(error) {}, &fired)
			defer b.Close()
			n, err := b.Read(make([]byte, 8))
			if n != tt.wantN || err != tt.wantErr {
				t.Errorf("Read = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}
