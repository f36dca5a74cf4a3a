package proxy_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdlePoolHoldsABurst: with the default config, the upstream
// connections opened for a burst of concurrent requests are kept for the
// next burst instead of being closed (each close leaves a TIME_WAIT socket
// on the proxy's side, and 1,000 clients left 14,045 of them): a second
// burst of the same size opens no new connection.
func TestIdlePoolHoldsABurst(t *testing.T) {
	const burst = 200
	var conns atomic.Int64
	var arrived sync.WaitGroup
	var release atomic.Pointer[chan struct{}]
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select { // hold every request until the whole burst is in flight
		case <-*release.Load():
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("ok"))
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: burst, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	wave := func() int64 {
		before := conns.Load()
		ch := make(chan struct{})
		release.Store(&ch)
		arrived.Add(burst)
		var done sync.WaitGroup
		for range burst {
			done.Add(1)
			go func() {
				defer done.Done()
				res, err := c.Do(e.request("GET", "/", nil))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}()
		}
		arrived.Wait()
		close(ch)
		done.Wait()
		return conns.Load() - before
	}
	if n := wave(); n != burst {
		t.Fatalf("first burst opened %d upstream connections, want %d", n, burst)
	}
	if n := wave(); n != 0 {
		t.Errorf("second burst opened %d new upstream connections, want 0 (the idle pool dropped them)", n)
	}
}
