package proxy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

const siteHost = "shop.example.com"

// tagRE matches the loader tag the proxy inserts.
var tagRE = regexp.MustCompile(`<script src="/__cobrowse/bootstrap\.js\?v=[0-9a-f]+(?:&amp;frame=1)?"></script>`)

// lockedBuffer is a bytes.Buffer safe to write from the server and read
// from the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a proxy in front of one upstream, both on real loopback listeners.
type env struct {
	t     *testing.T
	proxy *httptest.Server
	reg   *prometheus.Registry
	m     *metrics.Metrics
	logs  *lockedBuffer
	cfg   *config.Config
}

func testConfig(upstream string) *config.Config {
	return &config.Config{
		Listen: config.Listen{HTTP: "127.0.0.1:0", Admin: "127.0.0.1:0"},
		Zoom:   config.Zoom{SDKKey: "testkey", SDKSecret: "testsecret-testsecret-testsecret"},
		Masking: config.Masking{
			Selectors: []string{".secret-field"},
		},
		Sites: []config.Site{{
			Name:     "shop",
			Hosts:    []string{siteHost},
			Upstream: upstream,
		}},
	}
}

// newEnv builds the real handler (server.NewHandler) for a site whose
// upstream is upstreamURL; mut may change the config before defaults.
func newEnv(t *testing.T, upstreamURL string, mut func(*config.Config)) *env {
	t.Helper()
	cfg := testConfig(upstreamURL)
	if mut != nil {
		mut(cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test")
	h, err := server.NewHandler(cfg, log, m, encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	ps := httptest.NewServer(h)
	t.Cleanup(ps.Close)
	return &env{t: t, proxy: ps, reg: reg, m: m, logs: logs, cfg: cfg}
}

// client is an HTTP client that never decompresses and gives up quickly.
func (e *env) client() *http.Client {
	tr := &http.Transport{DisableCompression: true, Proxy: nil}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request builds a request to the proxy for the site's host.
func (e *env) request(method, path string, hdr map[string]string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.proxy.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = siteHost
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// do sends req and reads the whole body, failing the test on any error.
func (e *env) do(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	res, err := e.client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return res, body
}

// stripTag removes exactly one loader tag and returns the rest and the
// tag's offset (-1 if there was none). It fails if there are several.
func stripTag(t *testing.T, body []byte) ([]byte, int) {
	t.Helper()
	locs := tagRE.FindAllIndex(body, -1)
	switch len(locs) {
	case 0:
		return body, -1
	case 1:
	default:
		t.Fatalf("loader tag inserted %d times", len(locs))
	}
	out := append(append([]byte(nil), body[:locs[0][0]]...), body[locs[0][1]:]...)
	return out, locs[0][0]
}

// closedAddr returns a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// eventually polls cond for up to 3s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// page returns a full HTML document of roughly n bytes.
func page(n int) []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><title>Shop</title></head>\n<body>\n")
	for i := 0; b.Len() < n; i++ {
		b.WriteString("<p class=\"row\">Item ")
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(" — ünïcödé & <b>bold</b> text that goes on for a while</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// seriesCount is the number of series of the metric family name in reg.
func seriesCount(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
