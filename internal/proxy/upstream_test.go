package proxy_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// TestUpstreamErrors: no upstream → 502, slow headers → 504, each with a
// request id shown to the user, sent as X-Request-Id and logged.
func TestUpstreamErrors(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		w.Write([]byte("too late"))
	}))
	defer slow.Close()
	for _, c := range []struct {
		name     string
		upstream string
		code     int
		kind     string
		text     string // what the page says happened
	}{
		{"refused", "http://" + closedAddr(t), http.StatusBadGateway, "refused",
			"<h1>502 Bad Gateway</h1>\n<p>The site's server could not be reached or did not answer properly. Please try again in a moment.</p>"},
		{"header timeout", slow.URL, http.StatusGatewayTimeout, "timeout",
			"<h1>504 Gateway Timeout</h1>\n<p>The site's server took too long to answer. Please try again in a moment.</p>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.upstream, func(cfg *config.Config) {
				cfg.Proxy.ResponseHeaderTimeout = 200 * time.Millisecond
			})
			start := time.Now()
			// A client-sent id from an untrusted peer is not used.
			res, body := e.do(e.request("GET", "/page", map[string]string{"X-Request-Id": "client-chosen"}))
			if res.StatusCode != c.code {
				t.Fatalf("status %d, want %d", res.StatusCode, c.code)
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("answer took %v", d)
			}
			id := res.Header.Get("X-Request-Id")
			if id == "" || id == "client-chosen" {
				t.Fatalf("X-Request-Id %q", id)
			}
			if !strings.Contains(string(body), id) {
				t.Errorf("body does not contain request id %q:\n%s", id, body)
			}
			if !strings.Contains(string(body), c.text) {
				t.Errorf("body does not say %q:\n%s", c.text, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
			eventually(t, "log line", func() bool { return strings.Contains(e.logs.String(), "request_id="+id) })
			if !strings.Contains(e.logs.String(), "kind="+c.kind) {
				t.Errorf("log lacks kind=%s:\n%s", c.kind, e.logs.String())
			}
			if got := counterValue(t, e.m.UpstreamErrors.WithLabelValues("shop", c.kind)); got != 1 {
				t.Errorf("upstream_errors_total{kind=%s} = %v", c.kind, got)
			}
		})
	}
}

// echoServer is a websocket upstream that echoes each message back.
func echoServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	}))
}

// wsRoundTrips dials the proxy as siteHost and checks the echo both ways.
func wsRoundTrips(t *testing.T, e *env) {
	t.Helper()
	ctx := testCtx(t)
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.proxy.URL, "http")+"/ws", &websocket.DialOptions{Host: siteHost})
	if err != nil {
		t.Fatalf("dial through proxy: %v", err)
	}
	defer conn.CloseNow()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, m := range []string{"hello", strings.Repeat("x", 30000)} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo:"+m {
			t.Fatalf("echo %q…", got[:min(len(got), 20)])
		}
	}
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close handshake through proxy: %v", err)
	}
}

// TestWebsocketThroughProxy: the upgrade is forwarded and messages flow both
// ways.
func TestWebsocketThroughProxy(t *testing.T) {
	up := echoServer()
	defer up.Close()
	wsRoundTrips(t, newEnv(t, up.URL, nil))
}

// TestWebsocketCountedAs101: an upgraded exchange is counted (and logged) as
// 101, not as 499 "client went away".
func TestWebsocketCountedAs101(t *testing.T) {
	up := echoServer()
	defer up.Close()
	e := newEnv(t, up.URL, nil)
	wsRoundTrips(t, e)
	eventually(t, "requests_total series", func() bool { return seriesCount(t, e.reg, "cobrowse_proxy_requests_total") > 0 })
	if got := counterValue(t, e.m.Requests.WithLabelValues("shop", "101")); got != 1 {
		t.Errorf("requests_total{code=101} = %v, want 1 (code=499: %v)", got,
			counterValue(t, e.m.Requests.WithLabelValues("shop", "499")))
	}
}

// TestSSEUnbuffered: each event reaches the client as soon as the upstream
// flushes it.
func TestSSEUnbuffered(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	done := func() { once.Do(func() { close(release) }) }
	defer done()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write([]byte("event: first\ndata: one\n\n"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("event: second\ndata: two\n\n"))
	}))
	defer up.Close()
	e := newEnv(t, up.URL, nil)
	res, err := e.client().Do(e.request("GET", "/events", map[string]string{"Accept": "text/event-stream", "Sec-Fetch-Dest": "empty"}))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	readEvent := func() (string, error) {
		var ev strings.Builder
		for {
			line, err := br.ReadString('\n')
			ev.WriteString(line)
			if err != nil || line == "\n" {
				return ev.String(), err
			}
		}
	}
	got := make(chan string, 1)
	go func() { ev, _ := readEvent(); got <- ev }()
	select {
	case ev := <-got:
		if ev != "event: first\ndata: one\n\n" {
			t.Fatalf("first event %q", ev)
		}
	case <-time.After(3 * time.Second):
		done()
		t.Fatal("first event not delivered while the upstream waited")
	}
	done()
	ev, err := readEvent()
	if err != nil || ev != "event: second\ndata: two\n\n" {
		t.Fatalf("second event %q, %v", ev, err)
	}
}

// TestForwardedHeaders: a client cannot forge its address, host or scheme
// unless it is a trusted proxy; PreserveHost picks the Host sent upstream.
func TestForwardedHeaders(t *testing.T) {
	type seen struct {
		host  string
		hdr   http.Header
		valid bool
	}
	var mu sync.Mutex
	var last seen
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = seen{r.Host, r.Header.Clone(), true}
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	upHost := strings.TrimPrefix(up.URL, "http://")
	spoof := map[string]string{
		"X-Forwarded-For":   "1.2.3.4",
		"X-Forwarded-Host":  "evil.example",
		"X-Forwarded-Proto": "https",
		"Forwarded":         "for=1.2.3.4;proto=https;host=evil.example",
		"X-Request-Id":      "from-client",
	}
	f, tr := false, true
	for _, c := range []struct {
		name         string
		trusted      []string
		preserveHost *bool
		wantXFF      string
		wantXFH      string
		wantProto    string
		wantFwd      bool
		wantHost     string
		wantID       bool // the client's X-Request-Id is kept
	}{
		{"untrusted peer", nil, nil, "127.0.0.1", siteHost, "http", false, siteHost, false},
		{"untrusted, other trusted range", []string{"10.0.0.0/8"}, nil, "127.0.0.1", siteHost, "http", false, siteHost, false},
		{"trusted peer", []string{"127.0.0.1/32"}, nil, "1.2.3.4, 127.0.0.1", "evil.example", "https", true, siteHost, true},
		{"preserveHost false", nil, &f, "127.0.0.1", siteHost, "http", false, upHost, false},
		{"preserveHost true", nil, &tr, "127.0.0.1", siteHost, "http", false, siteHost, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, up.URL, func(cfg *config.Config) {
				cfg.Proxy.TrustedProxies = c.trusted
				cfg.Sites[0].PreserveHost = c.preserveHost
			})
			res, _ := e.do(e.request("GET", "/", spoof))
			mu.Lock()
			s := last
			mu.Unlock()
			if !s.valid {
				t.Fatal("upstream got no request")
			}
			if got := strings.Join(s.hdr.Values("X-Forwarded-For"), " | "); got != c.wantXFF {
				t.Errorf("X-Forwarded-For %q, want %q", got, c.wantXFF)
			}
			if got := strings.Join(s.hdr.Values("X-Forwarded-Host"), " | "); got != c.wantXFH {
				t.Errorf("X-Forwarded-Host %q, want %q", got, c.wantXFH)
			}
			if got := strings.Join(s.hdr.Values("X-Forwarded-Proto"), " | "); got != c.wantProto {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, c.wantProto)
			}
			// A trusted peer's Forwarded is kept, an untrusted one's dropped.
			if _, ok := s.hdr["Forwarded"]; ok != c.wantFwd {
				t.Errorf("Forwarded present=%v (%q), want %v", ok, s.hdr.Get("Forwarded"), c.wantFwd)
			}
			if s.host != c.wantHost {
				t.Errorf("upstream Host %q, want %q", s.host, c.wantHost)
			}
			id := s.hdr.Get("X-Request-Id")
			if (id == "from-client") != c.wantID || id == "" {
				t.Errorf("upstream X-Request-Id %q (client sent from-client, keep=%v)", id, c.wantID)
			}
			if res.Header.Get("X-Request-Id") != id {
				t.Errorf("client X-Request-Id %q, upstream %q", res.Header.Get("X-Request-Id"), id)
			}
		})
	}
}
