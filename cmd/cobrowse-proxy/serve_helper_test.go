package main

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// startServe loads the config at path and runs serve on loopback listeners
// (watching path for reloads when watch is set), logging to logs. It
// returns the proxy's and the admin listener's base URLs; the test's
// cleanup stops serve and fails the test if serve returned an error.
func startServe(t *testing.T, path string, watch bool, logs io.Writer) (base, admin string) {
	t.Helper()
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var l server.Listeners
	for _, p := range []*net.Listener{&l.HTTP, &l.Admin} {
		if *p, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	reloadPath := ""
	if watch {
		reloadPath = path
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, reloadPath, l, newLogger(logs, cfg.Log.SlogLevel(), "text")) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + l.HTTP.Addr().String(), "http://" + l.Admin.Addr().String()
}
