package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// Two replicas sharing storage.redis: an agent signs in on A and signs out
// on A; the copy of the cookie is refused on B too, and both report Redis up.
func TestFleetSharesSignOut(t *testing.T) {
	rs := redistest.Start(t)
	const agentKey = "cbpk_fleet-agent-key"
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	yaml := "zoom: {sdkKey: k, sdkSecret: 0123456789abcdef0123}\n" +
		"storage: {redis: {url: \"redis://" + rs.Addr + "/0\", keyPrefix: fleet-test, timeout: 5s}}\n" +
		"token: {agent: {insecureCookie: true, keys: [{name: alice, hash: " + token.HashKey(agentKey) + "}]}}\n" +
		"sites: [{name: shop, hosts: [shop.test], upstream: \"http://127.0.0.1:1\"}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	type replica struct{ base, admin string }
	start := func() replica {
		base, admin := startServe(t, path, false, io.Discard)
		return replica{base, admin}
	}
	a, b := start(), start()
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var lastBody string
	do := func(method, base, p, cookie, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+p, strings.NewReader(body))
		req.Host = "shop.test"
		req.Header.Set("Origin", "http://shop.test")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		var resp *http.Response
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err = client.Do(req); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		lastBody = string(b)
		resp.Body.Close()
		return resp
	}
	// The desk shows the sign-in form to anyone not signed in.
	signedIn := func(base, cookie string) bool {
		if r := do("GET", base, "/__cobrowse/agent", cookie, ""); r.StatusCode != http.StatusOK {
			t.Fatalf("desk: %d", r.StatusCode)
		}
		return !strings.Contains(lastBody, `name="key"`)
	}
	resp := do("POST", a.base, "/__cobrowse/agent/login", "", url.Values{"key": {agentKey}}.Encode())
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "cobrowse_agent" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no session cookie from sign-in: %d", resp.StatusCode)
	}
	if !signedIn(b.base, cookie) {
		t.Fatal("replica B refuses a cookie replica A issued")
	}
	if r := do("POST", a.base, "/__cobrowse/agent/logout", cookie, "x=1"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if signedIn(b.base, cookie) {
		t.Error("a cookie signed out on replica A still works on replica B")
	}
	// The customer token limit (default burst 5) counts across the two:
	// 3 on A and 2 on B are issued, the 6th (on B) is refused. (timeout
	// 5s above: a slow CI machine must not fall back to local limits.)
	tokenStatus := func(base string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/__cobrowse/token", strings.NewReader(`{"role":1}`))
		req.Host = "shop.test"
		req.Header.Set("Origin", "http://shop.test")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, r := range []replica{a, a, a, b, b} {
		if code := tokenStatus(r.base); code != http.StatusOK {
			t.Fatalf("customer token %d: %d", i+1, code)
		}
	}
	if code := tokenStatus(b.base); code != http.StatusTooManyRequests {
		t.Errorf("6th customer token (3 on A, 3 on B, burst 5): %d, want 429", code)
	}
	// The CSP report endpoint's limit is in Redis too.
	if r := do("POST", a.base, "/__cobrowse/csp-report", "", `{"csp-report":{"blocked-uri":"https://x.example/"}}`); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("csp report: %d", r.StatusCode) // form content type: refused after the limit is taken
	}
	for _, k := range []string{"fleet-test:ratelimit:token-customer:127.0.0.1/32", "fleet-test:ratelimit:csp-report:127.0.0.1/32"} {
		if n, err := rs.Client().Exists(t.Context(), k).Result(); err != nil || n != 1 {
			t.Errorf("shared limit key %q: %d, %v", k, n, err)
		}
	}
	for _, r := range []replica{a, b} {
		m, err := http.Get(r.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(m.Body)
		m.Body.Close()
		if !strings.Contains(string(body), "\ncobrowse_proxy_redis_up 1\n") {
			t.Errorf("replica %s: cobrowse_proxy_redis_up is not 1", r.admin)
		}
	}
}
