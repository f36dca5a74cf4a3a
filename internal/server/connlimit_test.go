package server_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// dialFrom connects to addr from the loopback address local (all of
// 127.0.0.0/8 is loopback on Linux, so each stands for another client).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a keep-alive GET on c and returns the status, or -1 when
// the connection was closed instead.
func roundTrip(c net.Conn, br *bufio.Reader) int {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"); err != nil {
		return -1
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestMaxConnsPerClient: a client address gets server.maxConnsPerClient
// connections; one more is closed unread and counted, while other clients
// and trusted peers are served, and a closed connection frees its slot.
func TestMaxConnsPerClient(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	l := server.Listeners{HTTP: listen(t)}
	defer l.Close()
	addr := l.HTTP.Addr().String()
	settings := serverSettings(time.Second)
	settings.MaxConnsPerClient = 2
	m := metrics.New(prometheus.NewRegistry(), "test")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{
			Handler: handler, Server: settings, Logger: slog.New(slog.DiscardHandler),
			Metrics: m, TrustedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")},
		})
	}()
	defer func() {
		cancel()
		<-served
	}()

	var held []net.Conn
	for range 2 {
		c := dialFrom(t, "127.0.0.1", addr)
		if code := roundTrip(c, bufio.NewReader(c)); code != 200 {
			t.Fatalf("connection %d: status %d, want 200", len(held)+1, code)
		}
		held = append(held, c)
	}
	extra := dialFrom(t, "127.0.0.1", addr)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("third connection from one client: read %d bytes, %v; want it closed (EOF)", n, err)
	}
	if got := testutil.ToFloat64(m.ConnsRefused); got != 1 {
		t.Errorf("connections_refused_total = %v, want 1", got)
	}
	if c := dialFrom(t, "127.0.0.2", addr); roundTrip(c, bufio.NewReader(c)) != 200 {
		t.Error("another client is refused while the first is at its limit")
	}
	for i := range 3 {
		if c := dialFrom(t, "127.0.0.3", addr); roundTrip(c, bufio.NewReader(c)) != 200 {
			t.Errorf("trusted peer's connection %d refused", i+1)
		}
	}

	held[0].Close()
	waitFor(t, "a freed slot", func() bool {
		c := dialFrom(t, "127.0.0.1", addr)
		defer c.Close()
		return roundTrip(c, bufio.NewReader(c)) == 200
	})
}

// TestDefaultHeaderLimit: with the default server.maxHeaderBytes, a request
// whose headers pass 32 KiB is refused with 431 rather than buffered, so a
// connection cannot make the process hold megabytes while it stalls.
func TestDefaultHeaderLimit(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	l := server.Listeners{HTTP: listen(t)}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{Handler: handler, Server: serverSettings(time.Second), Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		<-served
	}()
	for _, tc := range []struct {
		size int
		want int
	}{{16 << 10, 200}, {40 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, _ := http.NewRequest("GET", "http://"+l.HTTP.Addr().String()+"/", nil)
		req.Header.Set("Cookie", "big="+strings.Repeat("x", tc.size))
		res, err := plainClient().Do(req)
		if err != nil {
			t.Fatalf("%d-byte header: %v", tc.size, err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%d-byte header: status %d, want %d", tc.size, res.StatusCode, tc.want)
		}
	}
}
