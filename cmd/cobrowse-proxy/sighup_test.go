package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
)

// writePair writes a self-signed certificate for shop.test with the given
// serial number.
func writePair(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	testcert.New(t, time.Now().Add(24*time.Hour), serial, "shop.test").Write(t, certFile, keyFile)
}

// loadShopConfig writes a config for one site, shop.test, with extra YAML
// before it, into dir and loads it as run does.
func loadShopConfig(t *testing.T, dir, extra string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	yaml := extra + "zoom: {sdkKey: k}\nsites: [{name: shop, hosts: [shop.test], upstream: \"http://127.0.0.1:1\"}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// SIGHUP makes the proxy re-read its certificate files at once, long
// before the next periodic check.
func TestSIGHUPReloadsCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, 1)
	cfg := loadShopConfig(t, dir, "tls: {mode: files, files: {certFile: tls.crt, keyFile: tls.key, reloadInterval: 1h}}\n")
	var err error
	var l server.Listeners
	for _, p := range []*net.Listener{&l.HTTP, &l.HTTPS} {
		if *p, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, "", l, newLogger(os.Stderr, cfg.Log.SlogLevel(), "text")) }()
	defer func() {
		cancel()
		<-done
	}()

	serial := func() int64 {
		conn, err := tls.Dial("tcp", l.HTTPS.Addr().String(), &tls.Config{ServerName: "shop.test", InsecureSkipVerify: true})
		if err != nil {
			return -1
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	deadline := time.Now().Add(5 * time.Second)
	for serial() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := serial(); got != 1 {
		t.Fatalf("serving serial %d, want 1", got)
	}
	writePair(t, certFile, keyFile, 2)
	// A different mtime for the new files, whatever the clock's resolution.
	later := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := serial(); got != 1 {
		t.Fatalf("picked up the new pair before SIGHUP (serial %d)", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for serial() != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := serial(); got != 2 {
		t.Errorf("after SIGHUP serving serial %d, want 2", got)
	}
}

// syncWriter is a log sink safe for the proxy's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestSIGHUPWithTLSOff: with tls.mode off (the sidecar default) SIGHUP, as
// a config reloader sends it, is handled and logged; it used to take the
// default action and kill the process.
func TestSIGHUPWithTLSOff(t *testing.T) {
	cfg := loadShopConfig(t, t.TempDir(), "")
	var err error
	var l server.Listeners
	if l.HTTP, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, "", l, newLogger(logs, cfg.Log.SlogLevel(), "text")) }()
	defer func() {
		cancel()
		<-done
	}()
	get := func() int {
		req, _ := http.NewRequest("GET", "http://"+l.HTTP.Addr().String()+"/__cobrowse/nothing", nil)
		req.Host = "shop.test"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		res.Body.Close()
		return res.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for get() != http.StatusNotFound && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "SIGHUP: nothing to reload") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "SIGHUP: nothing to reload") {
		t.Errorf("SIGHUP not logged:\n%s", logs)
	}
	if got := get(); got != http.StatusNotFound {
		t.Errorf("after SIGHUP the proxy answered %d, want it still serving (404 for an unknown reserved path)", got)
	}
}
