package proxy

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// errUpstreamIdle ends a response whose upstream stopped sending.
var errUpstreamIdle = errors.New("upstream sent no body bytes within proxy.upstreamIdleTimeout")

// idleBody is an upstream response body that gives up when the upstream
// sends nothing for timeout. The clock runs only while a Read waits on the
// upstream, so a slow client (which keeps the proxy from reading) never
// trips it. When it fires, the outbound request's context is cancelled,
// which unblocks the pending Read on HTTP/1 and HTTP/2 alike; the Read
// then reports errUpstreamIdle, and ReverseProxy aborts the response
// (http.ErrAbortHandler), so the client sees a failed transfer rather than
// a page that looks complete.
type idleBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
	fired   *atomic.Bool
}

func newIdleBody(rc io.ReadCloser, timeout time.Duration, cancel context.CancelCauseFunc, fired *atomic.Bool) *idleBody {
	t := time.AfterFunc(timeout, func() {
		fired.Store(true)
		cancel(errUpstreamIdle)
	})
	t.Stop()
	return &idleBody{rc: rc, timeout: timeout, timer: t, fired: fired}
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.fired.Load() {
		err = errUpstreamIdle
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}
