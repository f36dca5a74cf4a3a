package benchmark

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// page builds a realistic HTML page of about size bytes.
func page(size int) []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html lang=en>\n<head>\n<meta charset=\"utf-8\">\n<title>Bench</title>\n")
	for i := range 10 {
		fmt.Fprintf(&b, "<link rel=stylesheet href=\"/s/%d.css\"><script src=\"/s/%d.js\" defer></script>\n", i, i)
	}
	b.WriteString("</head>\n<body>\n")
	for i := 0; b.Len() < size-20; i++ {
		fmt.Fprintf(&b, "<p class=\"row\">Paragraph %d of the benchmark page, with <a href=\"/p/%d\">a link</a>.</p>\n", i, i)
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

func newProxy(tb testing.TB, upstream string) http.Handler {
	tb.Helper()
	cfg := &config.Config{
		Zoom:  config.Zoom{SDKKey: "bench"},
		Sites: []config.Site{{Name: "bench", Hosts: []string{"bench.localhost"}, Upstream: upstream}},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	h, err := server.NewHandler(cfg, nil, metrics.New(prometheus.NewRegistry(), "bench"), encoding.New(encoding.Options{}))
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// paths starts the upstream h and, in front of it, a bare
// httputil.ReverseProxy and cobrowse-proxy: the three things compared.
func paths(b *testing.B, h http.HandlerFunc) (up, bare, cbp *httptest.Server) {
	up = httptest.NewServer(h)
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	bare = httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }})
	b.Cleanup(bare.Close)
	cbp = httptest.NewServer(newProxy(b, up.URL))
	b.Cleanup(cbp.Close)
	return up, bare, cbp
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, DisableCompression: true,
	}}
}

// load requests url/ as a page navigation for bench.localhost from
// parallel goroutines, reads each body, and fails the benchmark if ok
// refuses any answer (given the response and its body's length). It
// reports req/s; size is the page's length, for MB/s.
func load(b *testing.B, c *http.Client, url string, size int, ok func(*http.Response, int64) bool) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var bad atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 32<<10)
		for pb.Next() {
			req, _ := http.NewRequest("GET", url+"/", nil)
			req.Host = "bench.localhost"
			req.Header.Set("Sec-Fetch-Dest", "document")
			res, err := c.Do(req)
			if err != nil {
				bad.Add(1)
				continue
			}
			n, _ := io.CopyBuffer(io.Discard, res.Body, buf)
			res.Body.Close()
			if !ok(res, n) {
				bad.Add(1)
			}
		}
	})
	if bad.Load() > 0 {
		b.Fatalf("%d bad responses", bad.Load())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkEndToEnd: requests per second for a 100 KB page over loopback,
// (a) straight from the upstream, (b) through a bare httputil.ReverseProxy,
// (c) through cobrowse-proxy (injected).
func BenchmarkEndToEnd(b *testing.B) {
	body := page(100 << 10)
	up, bare, cbp := paths(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(body)
	})

	for _, tc := range []struct {
		name, url string
		injected  bool
	}{
		{"direct", up.URL, false},
		{"httputil.ReverseProxy", bare.URL, false},
		{"cobrowse-proxy", cbp.URL, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			load(b, client(), tc.url, len(body), func(res *http.Response, n int64) bool {
				return tc.injected && n > int64(len(body)) || !tc.injected && n == int64(len(body))
			})
		})
	}
}

// BenchmarkLargePage streams a generated 10 MB page through each path and
// reports the peak heap in use during the transfer: it must not grow with
// the page.
func BenchmarkLargePage(b *testing.B) {
	const size = 10 << 20
	head := page(2 << 10)
	head = head[:bytes.Index(head, []byte("</body>"))]
	row := bytes.Repeat([]byte("<p>ten megabytes of streamed paragraphs, never held in memory.</p>\n"), 64)
	up, bare, cbp := paths(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(head)
		for n := len(head); n < size; n += len(row) {
			w.Write(row)
		}
	})

	for _, tc := range []struct{ name, url string }{
		{"direct", up.URL}, {"httputil.ReverseProxy", bare.URL}, {"cobrowse-proxy", cbp.URL},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := client()
			b.SetBytes(size)
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}()
			for b.Loop() {
				req, _ := http.NewRequest("GET", tc.url+"/", nil)
				req.Host = "bench.localhost"
				req.Header.Set("Sec-Fetch-Dest", "document")
				res, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if n < size {
					b.Fatalf("short body: %d", n)
				}
			}
			close(stop)
			<-sampled
			growth := int64(peak.Load()) - int64(base.HeapInuse)
			b.ReportMetric(float64(max(growth, 0))/(1<<20), "peak-heap-growth-MB")
		})
	}
}

// BenchmarkFirstByte: the upstream sends <head>, then pauses for a second;
// the injected head must reach the client long before the pause ends.
func BenchmarkFirstByte(b *testing.B) {
	const pause = time.Second
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><head>")
		w.(http.Flusher).Flush()
		select {
		case <-time.After(pause):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "<title>late</title></head><body>x</body></html>")
	}))
	defer up.Close()
	cbp := httptest.NewServer(newProxy(b, up.URL))
	defer cbp.Close()
	c := client()
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		req, _ := http.NewRequest("GET", cbp.URL+"/", nil)
		req.Host = "bench.localhost"
		req.Header.Set("Sec-Fetch-Dest", "document")
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte("bootstrap.js")) {
			n, err := res.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				b.Fatalf("body ended before the tag: %q (%v)", got, err)
			}
		}
		elapsed := time.Since(start)
		total += elapsed
		res.Body.Close()
		if elapsed >= pause {
			b.Fatalf("injected head took %v: it waited for the upstream's pause", elapsed)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-to-head")
}

// BenchmarkHTTP2: an injected 10 KB page through cobrowse-proxy over TLS,
// HTTP/1.1 beside HTTP/2 (what browsers speak to it when tls is on): per
// request, HTTP/2 must not cost more.
func BenchmarkHTTP2(b *testing.B) {
	body := page(10 << 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(body)
	}))
	b.Cleanup(up.Close)
	for _, h2 := range []bool{false, true} {
		name := "HTTP/1.1"
		if h2 {
			name = "HTTP/2"
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewUnstartedServer(newProxy(b, up.URL))
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()
			tr := srv.Client().Transport.(*http.Transport)
			tr.DisableCompression, tr.MaxIdleConnsPerHost, tr.ForceAttemptHTTP2 = true, 64, h2
			proto := map[bool]int{false: 1, true: 2}[h2]
			load(b, &http.Client{Transport: tr}, srv.URL, len(body), func(res *http.Response, n int64) bool {
				return n > int64(len(body)) && res.ProtoMajor == proto
			})
		})
	}
}
