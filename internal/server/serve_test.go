package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func serverSettings(grace time.Duration) config.Server {
	c := config.Config{Server: config.Server{ShutdownGrace: grace}}
	c.ApplyDefaults()
	return c.Server
}

func plainClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(c *http.Client, url string) int {
	res, err := c.Get(url)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestServeGracefulShutdown: cancelling the context lets an in-flight
// request finish, refuses new connections, and reports not ready meanwhile.
func TestServeGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			w.Write([]byte("fast"))
			return
		}
		close(started)
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("done"))
	})
	l := server.Listeners{HTTP: listen(t), Admin: listen(t)}
	defer l.Close()
	httpURL := "http://" + l.HTTP.Addr().String()
	adminURL := "http://" + l.Admin.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{
			Handler: handler,
			Gather:  reg,
			Server:  serverSettings(3 * time.Second),
			Logger:  slog.New(slog.DiscardHandler),
		})
	}()
	c := plainClient()
	waitFor(t, "/readyz 200", func() bool { return status(c, adminURL+"/readyz") == 200 })
	if got := status(c, adminURL+"/healthz"); got != 200 {
		t.Errorf("/healthz %d", got)
	}
	if got := status(c, adminURL+"/metrics"); got != 200 {
		t.Errorf("/metrics %d", got)
	}
	if got := status(c, httpURL+"/"); got != 200 {
		t.Fatalf("GET / %d", got)
	}

	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		res, err := plainClient().Get(httpURL + "/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		inflight <- result{res.StatusCode, string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(3 * time.Second):
		t.Fatal("slow request never reached the handler")
	}
	cancel()

	waitFor(t, "new connections refused", func() bool {
		conn, err := net.DialTimeout("tcp", l.HTTP.Addr().String(), time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	waitFor(t, "/readyz 503 while draining", func() bool { return status(c, adminURL+"/readyz") == 503 })
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a request was in flight", err)
	default:
	}

	close(release)
	select {
	case r := <-inflight:
		if r.err != nil || r.code != 200 || r.body != "done" {
			t.Fatalf("in-flight request: %d %q %v", r.code, r.body, r.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("in-flight request did not complete")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
}

// TestServeGraceExpires: a request that outlasts the grace period does not
// keep Serve from returning.
func TestServeGraceExpires(t *testing.T) {
	started := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	l := server.Listeners{HTTP: listen(t)}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{Handler: handler, Server: serverSettings(200 * time.Millisecond), Logger: slog.New(slog.DiscardHandler)})
	}()
	go func() {
		res, err := plainClient().Get("http://" + l.HTTP.Addr().String() + "/")
		if err == nil {
			res.Body.Close()
		}
	}()
	<-started
	start := time.Now()
	cancel()
	select {
	case <-served:
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("Serve returned after %v, before the grace period", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after the grace period")
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and localhost.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	p := testcert.New(t, time.Now().Add(time.Hour), 1, "localhost", "shop.example.com", "127.0.0.1")
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	p.Write(t, certFile, keyFile)
	return certFile, keyFile, p.Pool()
}

// TestServeTLSFiles: files mode serves HTTP/2 over TLS 1.2+, and the plain
// listener only redirects to HTTPS with 308.
func TestServeTLSFiles(t *testing.T) {
	certFile, keyFile, pool := writeSelfSigned(t, t.TempDir())
	cfg := baseConfig("http://127.0.0.1:1")
	cfg.TLS = config.TLS{Mode: config.TLSModeFiles, Files: config.TLSFiles{CertFile: certFile, KeyFile: keyFile}}
	cfg.Listen.HTTPS = "127.0.0.1:0"
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Proto + " " + r.Host + r.URL.RequestURI()))
	})
	l := server.Listeners{HTTP: listen(t), HTTPS: listen(t)}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := tlsconf.New(ctx, tlsconf.Options{TLS: cfg.TLS, HTTPAddr: l.HTTP.Addr().String(), HTTPSAddr: l.HTTPS.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{Handler: handler, TLS: m.TLSConfig(), HTTPHandler: m.HTTPHandler,
			Server: cfg.Server, Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Error("Serve did not return")
		}
	}()
	_, httpsPort, _ := net.SplitHostPort(l.HTTPS.Addr().String())
	_, httpPort, _ := net.SplitHostPort(l.HTTP.Addr().String())

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var res *http.Response
	waitFor(t, "HTTPS listener", func() bool {
		res, err = hc.Get("https://127.0.0.1:" + httpsPort + "/p?q=1")
		return err == nil
	})
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.TLS == nil || res.TLS.NegotiatedProtocol != "h2" || res.ProtoMajor != 2 {
		t.Errorf("protocol %s (ALPN %q), want HTTP/2 via h2", res.Proto, res.TLS.NegotiatedProtocol)
	}
	if res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x", res.TLS.Version)
	}
	if !strings.HasPrefix(string(body), "HTTP/2.0 ") {
		t.Errorf("handler saw %q", body)
	}

	// TLS 1.1 and older are refused.
	old := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}
	defer old.CloseIdleConnections()
	if _, err := (&http.Client{Transport: old, Timeout: 5 * time.Second}).Get("https://127.0.0.1:" + httpsPort + "/"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}

	// HTTP/1.1 clients still work.
	h1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	defer h1.CloseIdleConnections()
	if res, err := (&http.Client{Transport: h1, Timeout: 5 * time.Second}).Get("https://127.0.0.1:" + httpsPort + "/"); err != nil {
		t.Errorf("HTTP/1.1 over TLS: %v", err)
	} else {
		res.Body.Close()
		if res.ProtoMajor != 1 {
			t.Errorf("proto %s", res.Proto)
		}
	}

	// Plain HTTP redirects to the HTTPS port, keeping host, path and query.
	rt := &http.Transport{DisableKeepAlives: true}
	for _, c := range []struct{ host, want string }{
		{"shop.example.com:" + httpPort, "https://shop.example.com:" + httpsPort + "/a/b?c=d"},
		{"shop.example.com", "https://shop.example.com:" + httpsPort + "/a/b?c=d"},
		// IPv6 literals and bad hosts: see internal/tlsconf's redirect tests.
	} {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+httpPort+"/a/b?c=d", nil)
		req.Host = c.host
		// RoundTrip, not Client.Do: a client fails on a malformed Location.
		res, err := rt.RoundTrip(req)
		if err != nil {
			t.Errorf("Host %q: %v", c.host, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusPermanentRedirect {
			t.Errorf("plain HTTP, Host %q: status %d, want 308", c.host, res.StatusCode)
		}
		if loc := res.Header.Get("Location"); loc != c.want {
			t.Errorf("Host %q: Location %q, want %q", c.host, loc, c.want)
		}
	}
}

// With server.drainDelay, shutdown first reports not ready while still
// serving new requests, then closes.
func TestServeDrainDelay(t *testing.T) {
	l := server.Listeners{HTTP: listen(t), Admin: listen(t)}
	defer l.Close()
	httpURL, adminURL := "http://"+l.HTTP.Addr().String(), "http://"+l.Admin.Addr().String()
	settings := serverSettings(3 * time.Second)
	settings.DrainDelay = 700 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
			Server:  settings,
			Logger:  slog.New(slog.DiscardHandler),
		})
	}()
	c := plainClient()
	waitFor(t, "/readyz 200", func() bool { return status(c, adminURL+"/readyz") == 200 })
	cancel()
	waitFor(t, "/readyz 503", func() bool { return status(c, adminURL+"/readyz") == 503 })
	if got := status(c, httpURL+"/"); got != 200 {
		t.Errorf("during the drain delay a new request got %d, want 200", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain delay")
	}
	if got := status(c, httpURL+"/"); got != -1 {
		t.Errorf("after shutdown: %d, want a refused connection", got)
	}
}

// failingListener accepts until fail is closed, then reports a permanent
// error, as a listener whose socket broke does.
type failingListener struct {
	net.Listener
	fail chan struct{}
}

func (f *failingListener) Accept() (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := f.Listener.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-f.fail:
		f.Listener.Close()
		return nil, errors.New("listener broke")
	}
}

// TestServeDrainInterrupted: a listener that fails during the drain delay
// ends the wait; Serve does not sleep out a long delay and reports why.
func TestServeDrainInterrupted(t *testing.T) {
	fl := &failingListener{Listener: listen(t), fail: make(chan struct{})}
	l := server.Listeners{HTTP: fl, Admin: listen(t)}
	defer l.Close()
	settings := serverSettings(3 * time.Second)
	settings.DrainDelay = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.Options{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			Server:  settings,
			Logger:  slog.New(slog.DiscardHandler),
		})
	}()
	c := plainClient()
	adminURL := "http://" + l.Admin.Addr().String()
	waitFor(t, "/readyz 200", func() bool { return status(c, adminURL+"/readyz") == 200 })
	cancel()
	waitFor(t, "/readyz 503", func() bool { return status(c, adminURL+"/readyz") == 503 })
	close(fl.fail)
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "listener broke") {
			t.Errorf("Serve returned %v, want the listener's failure", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve slept out the drain delay after a listener failed")
	}
}
