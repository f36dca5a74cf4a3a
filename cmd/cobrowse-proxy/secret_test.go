package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// A full run at debug level: pages, bootstrap.js, tokens for both roles
// (issued and refused), the agent desk, a failing upstream and /metrics.
// The SDK secret must appear in nothing the process wrote or served.
func TestSecretNeverLeaves(t *testing.T) {
	const secret = "s3cr3t-SDK-value-that-must-never-leak"
	const agentKey = "cbpk_agent-key-for-the-test"
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "sdk-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><html><head><title>x</title></head><body>hi</body></html>")
	}))
	defer up.Close()

	yaml := `
log: {level: debug}
zoom: {sdkKey: public-key, sdkSecretFile: sdk-secret}
token:
  agent:
    keys: [{name: alice, hash: ` + token.HashKey(agentKey) + `}]
sites:
  - {name: shop, hosts: [shop.localhost], upstream: "` + up.URL + `"}
  - {name: down, hosts: [down.localhost], upstream: "http://127.0.0.1:1"}
`
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := newLogger(&logs, cfg.Log.SlogLevel(), "json")
	var l server.Listeners
	if l.HTTP, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if l.Admin, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	base, admin := "http://"+l.HTTP.Addr().String(), "http://"+l.Admin.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, "", l, log) }()

	var served bytes.Buffer
	do := func(method, url, host, body string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer res.Body.Close()
		res.Header.Write(&served)
		io.Copy(&served, res.Body)
		return res.StatusCode
	}
	sameOrigin := map[string]string{"Content-Type": "application/json", "Origin": "http://shop.localhost", "Sec-Fetch-Site": "same-origin"}
	checks := []struct {
		name                    string
		method, url, host, body string
		hdr                     map[string]string
		want                    int
	}{
		{"page", "GET", base + "/", "shop.localhost", "", map[string]string{"Sec-Fetch-Dest": "document"}, 200},
		{"bootstrap", "GET", base + "/__cobrowse/bootstrap.js", "shop.localhost", "", nil, 200},
		{"customer token", "POST", base + "/__cobrowse/token", "shop.localhost", `{"role":1,"userName":"Ann"}`, sameOrigin, 200},
		{"customer token cross-origin", "POST", base + "/__cobrowse/token", "shop.localhost", `{"role":1}`,
			map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, 403},
		{"agent token unauthenticated", "POST", base + "/__cobrowse/token", "shop.localhost", `{"role":2}`, sameOrigin, 401},
		{"agent token", "POST", base + "/__cobrowse/token", "shop.localhost", `{"role":2}`,
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + agentKey}, 200},
		{"bad request", "POST", base + "/__cobrowse/token", "shop.localhost", `{"role":"x","expirationSeconds":5}`, sameOrigin, 400},
		{"desk", "GET", base + "/__cobrowse/agent", "shop.localhost", "", map[string]string{"Authorization": "Bearer " + agentKey}, 200},
		{"upstream down", "GET", base + "/", "down.localhost", "", nil, 502},
		{"metrics", "GET", admin + "/metrics", "", "", nil, 200},
	}
	for _, c := range checks {
		if got := do(c.method, c.url, c.host, c.body, c.hdr); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	for what, text := range map[string]string{"logs": logs.String(), "responses and metrics": served.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("the SDK secret appears in the %s", what)
		}
		if strings.Contains(text, agentKey) {
			t.Errorf("the agent key appears in the %s", what)
		}
	}
	if !strings.Contains(served.String(), `"token":"`) || !strings.Contains(logs.String(), "upstream request failed") {
		t.Errorf("the run did not exercise what it should; logs:\n%s", logs.String())
	}
}
