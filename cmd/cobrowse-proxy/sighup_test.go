package main

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
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

// SIGHUP makes the proxy re-read its certificate files at once, long
// before the next periodic check.
func TestSIGHUPReloadsCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, 1)
	cfgPath := filepath.Join(dir, "config.yaml")
	yaml := "tls: {mode: files, files: {certFile: tls.crt, keyFile: tls.key, reloadInterval: 1h}}\n" +
		"zoom: {sdkKey: k}\nsites: [{name: shop, hosts: [shop.test], upstream: \"http://127.0.0.1:1\"}]\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var l server.Listeners
	for _, p := range []*net.Listener{&l.HTTP, &l.HTTPS} {
		if *p, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, l, newLogger(os.Stderr, cfg.Log.SlogLevel(), "text")) }()
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
