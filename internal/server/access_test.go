package server_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// syncBuf is a log sink safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.b.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == "access" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: with log.access, every public request writes one info
// line with the client, method, host, path (no query), status, body bytes,
// duration in seconds, user agent and site; client-controlled strings are
// bounded.
func TestAccessLog(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := baseConfig(up.URL)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rt, err := server.NewHandler(cfg, log, metrics.New(prometheus.NewRegistry(), "test"), encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(rt.WithAccessLog(log))
	defer s.Close()

	longUA := strings.Repeat("u", 300)
	res, body := send(t, s.URL, "GET", "shop.example.com", "/products?token=SECRET", map[string]string{"User-Agent": longUA}, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	send(t, s.URL, "GET", "nobody.test", "/", nil, "")
	send(t, s.URL, "GET", "shop.example.com", "/__cobrowse/nothing-here", nil, "")

	lines := logs.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d access lines, want 3", len(lines))
	}
	l := lines[0]
	want := map[string]any{
		"level": "INFO", "client": "127.0.0.1", "method": "GET", "host": "shop.example.com",
		"path": "/products", "status": 200.0, "bytes": float64(len(body)), "site": "shop",
		"user_agent": strings.Repeat("u", 256) + "…",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %#v, want %#v", k, l[k], v)
		}
	}
	if d, ok := l["duration_s"].(float64); !ok || d <= 0 || d > 5 {
		t.Errorf("duration_s = %#v, want seconds as a number", l["duration_s"])
	}
	if id, _ := l["request_id"].(string); id == "" || id != res.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q, response X-Request-Id %q", id, res.Header.Get("X-Request-Id"))
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Error("the query string was logged")
	}
	if l := lines[1]; l["status"] != 421.0 || l["site"] != "" || l["host"] != "nobody.test" {
		t.Errorf("unknown host line: %v", l)
	}
	if l := lines[2]; l["status"] != 404.0 || l["site"] != "shop" {
		t.Errorf("reserved prefix line: %v", l)
	}
}
