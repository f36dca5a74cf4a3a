package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// writePair writes a self-signed certificate for shop.test with the given
// serial number.
func writePair(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "shop.test"},
		DNSNames: []string{"shop.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// Write to temporary names and rename, as a Secret volume does.
	os.WriteFile(certFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	if err := os.Rename(keyFile+".tmp", keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(certFile+".tmp", certFile); err != nil {
		t.Fatal(err)
	}
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
	time.Sleep(10 * time.Millisecond) // a different mtime for the new files
	writePair(t, certFile, keyFile, 2)
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
