package server_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

var (
	floodConns          = flag.Int("flood.conns", 400, "BenchmarkHeaderFlood: slow-header connections")
	floodMaxHeaderBytes = flag.Int("flood.maxheaderbytes", 0, "BenchmarkHeaderFlood: server.maxHeaderBytes (0: the default; 1048576 was the old default)")
)

// floodRSSLimit is the goal of the hardening: 400 stalled connections keep
// the whole process (server and these clients) under it.
const floodRSSLimit = 150 << 20

// BenchmarkHeaderFlood is a bounded soak, not a speed test: it starts the
// real server (NewHandler and Serve with the default config) and opens
// -flood.conns connections from one client on loopback, each sending the
// largest header block the server keeps reading (up to 1 MiB, just under
// server.maxHeaderBytes) and then stalling without ending it. Once the
// server has read every byte it reports the process RSS (VmRSS), checks
// that a normal request is still served, and closes the flood. Run it with
//
//	go test ./internal/server -run '^$' -bench HeaderFlood -benchtime 1x
//
// and add -args -flood.maxheaderbytes=1048576 for the old default. Not
// under -race, which multiplies memory.
func BenchmarkHeaderFlood(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream ok")
	}))
	defer up.Close()
	cfg := baseConfig(up.URL)
	cfg.Server.MaxHeaderBytes = *floodMaxHeaderBytes
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry(), "bench")
	h, err := server.NewHandler(cfg, slog.New(slog.DiscardHandler), m, encoding.New(encoding.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	counted := &countingListener{Listener: ln}
	l := server.Listeners{HTTP: counted}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{Handler: h, Server: cfg.Server, Logger: slog.New(slog.DiscardHandler), Metrics: m})
	}()
	defer func() {
		cancel()
		<-served
	}()
	addr := ln.Addr().String()

	// The flood: header lines of 1,000 bytes, as many as fit under the
	// limit (keeping room for the request line and the server's slack).
	size := min(1<<20, cfg.Server.MaxHeaderBytes-1024)
	var payload bytes.Buffer
	payload.WriteString("GET / HTTP/1.1\r\nHost: shop.example.com\r\n")
	for i := 0; payload.Len()+1010 < size; i++ {
		fmt.Fprintf(&payload, "X-Pad-%04d: %s\r\n", i, strings.Repeat("p", 1000-13))
	}
	flood := payload.Bytes()

	before := readRSS(b)
	var peak, rss int64
	var normal time.Duration
	b.ResetTimer()
	for range b.N {
		counted.read.Store(0)
		conns := make([]net.Conn, 0, *floodConns)
		var wg sync.WaitGroup
		var sent atomic.Int64
		for range *floodConns {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				b.Fatalf("flood connection %d: %v", len(conns)+1, err)
			}
			conns = append(conns, c)
			wg.Go(func() {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				n, _ := c.Write(flood)
				sent.Add(int64(n))
			})
		}
		wg.Wait()
		// Wait (bounded) until the server has read all the flood: that is
		// when it holds the most.
		deadline := time.Now().Add(8 * time.Second)
		for counted.read.Load() < sent.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got, want := counted.read.Load(), int64(len(flood)*len(conns)); got < want {
			b.Errorf("the server read %d of the %d flood bytes", got, want)
		}
		rss = readRSS(b)
		peak = max(peak, rss)

		start := time.Now()
		code := normalRequest(addr)
		normal = time.Since(start)
		if code != 200 {
			b.Errorf("a normal request during the flood got %d, want 200", code)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cfg.Server.MaxHeaderBytes), "maxHeaderBytes")
	b.ReportMetric(float64(before)/(1<<20), "MB-rss-before")
	b.ReportMetric(float64(peak)/(1<<20), "MB-rss-flood")
	b.ReportMetric(float64(normal.Milliseconds()), "ms-normal-request")
	if *floodMaxHeaderBytes == 0 && *floodConns <= 400 && peak > floodRSSLimit {
		b.Errorf("RSS %d MB with %d stalled connections, want under %d MB", peak>>20, *floodConns, floodRSSLimit>>20)
	}
}

// normalRequest is an ordinary GET on a new connection, as a browser would
// send while the flood goes on.
func normalRequest(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return -1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// readRSS returns this process's resident set size from /proc.
func readRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Skip("no VmRSS in /proc/self/status")
	return 0
}

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, read: &l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}
