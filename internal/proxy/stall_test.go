package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// labelValue reads the counter of family name whose labels are exactly
// labels (0 when there is none).
func labelValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestUpstreamIdleTimeoutAborts: an upstream that sends headers and part of
// the body and then nothing is cut off after proxy.upstreamIdleTimeout: the
// client sees a failed transfer (no terminating chunk, no clean EOF), and
// the abort is logged and counted as kind idle_timeout.
func TestUpstreamIdleTimeoutAborts(t *testing.T) {
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	doc := page(3 << 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html")
		case "/file":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "1000000")
		}
		w.Write(doc)
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, func(c *config.Config) { c.Proxy.UpstreamIdleTimeout = 200 * time.Millisecond })
	for i, path := range []string{"/page", "/file"} {
		res, err := e.client().Do(e.request("GET", path, map[string]string{"Sec-Fetch-Dest": "document"}))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		var ne net.Error
		if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: read %d bytes, err %v; want the proxy to abort the transfer", path, len(got), err)
		}
		if rest, _ := stripTag(t, got); !bytes.HasPrefix(doc, rest) {
			t.Errorf("%s: the client got bytes that are not a prefix of the page", path)
		}
		want := float64(i + 1)
		eventually(t, "idle_timeout counted", func() bool {
			return labelValue(t, e.reg, "cobrowse_proxy_upstream_errors_total", map[string]string{"site": "shop", "kind": "idle_timeout"}) == want
		})
	}
	eventually(t, "log line", func() bool {
		return strings.Contains(e.logs.String(), "upstream sent nothing for proxy.upstreamIdleTimeout")
	})
}

// TestUpstreamIdleTimeoutIsPerRead: the idle timeout measures the
// upstream only; a page that keeps coming passes even when the whole
// transfer takes longer than the timeout.
func TestUpstreamIdleTimeoutIsPerRead(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><html><head></head><body>"))
		for range 8 {
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			w.Write([]byte("<p>more</p>"))
		}
		w.Write([]byte("</body></html>"))
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, func(c *config.Config) { c.Proxy.UpstreamIdleTimeout = 200 * time.Millisecond })
	_, body := e.do(e.request("GET", "/", map[string]string{"Sec-Fetch-Dest": "document"}))
	if !bytes.HasSuffix(body, []byte("</body></html>")) {
		t.Errorf("page cut short: %q", body)
	}
}

// TestClientGoneIsNotAnUpstreamError: a client that leaves while the
// upstream is still working is counted as a client error (kind
// client_gone), not as an upstream error.
func TestClientGoneIsNotAnUpstreamError(t *testing.T) {
	got := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := e.request("GET", "/slow", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := e.client().Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-got
	cancel()
	<-done
	eventually(t, "client_gone counted", func() bool {
		return labelValue(t, e.reg, "cobrowse_proxy_client_errors_total", map[string]string{"site": "shop", "kind": "client_gone"}) == 1
	})
	if n := labelValue(t, e.reg, "cobrowse_proxy_upstream_errors_total", map[string]string{"site": "shop", "kind": "client_gone"}); n != 0 {
		t.Errorf("upstream_errors_total{kind=client_gone} = %v, want no such series", n)
	}
}
