package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadConfig is a ConfigMap-style config: sites named by names, the
// shop site on the page upstream; every other site on the same upstream.
func reloadConfig(upstream string, extra string, names ...string) string {
	var b strings.Builder
	b.WriteString("zoom: {sdkKey: k, sdkSecret: 0123456789abcdef0123}\nlisten: {http: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\nreload: {watch: true}\n" + extra + "sites:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - {name: %s, hosts: [%s.test], upstream: %q}\n", n, n, upstream)
	}
	return b.String()
}

// configMap lays out dir as a kubelet does for a ConfigMap volume and
// returns a function that publishes a new version the kubelet's way.
func configMap(t *testing.T, dir, content string) (path string, publish func(string)) {
	t.Helper()
	n := 0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	publish = func(content string) {
		n++
		ts := fmt.Sprintf("..2026_12_03_%02d", n)
		must(os.Mkdir(filepath.Join(dir, ts), 0o755))
		must(os.WriteFile(filepath.Join(dir, ts, "config.yaml"), []byte(content), 0o644))
		must(os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
		must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		if n > 1 {
			must(os.RemoveAll(filepath.Join(dir, fmt.Sprintf("..2026_12_03_%02d", n-1))))
		}
	}
	publish(content)
	path = filepath.Join(dir, "config.yaml")
	must(os.Symlink("..data/config.yaml", path))
	return path, publish
}

// Reload under load: a client loop requests pages through the proxy while
// the config is reloaded by SIGHUP, by a ConfigMap update, by POST
// /-/reload, and refused when broken; sites are added and removed live.
// Not one request may fail, and in-flight requests finish.
func TestReloadUnderLoad(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond) // in flight across a swap
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><html><head><title>x</title></head><body>page</body></html>")
	}))
	defer up.Close()
	dir := t.TempDir()
	path, publish := configMap(t, dir, reloadConfig(up.URL, "", "shop"))
	logs := &syncWriter{}
	base, admin := startServe(t, path, true, logs)

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(host, p string) (int, string) {
		req, _ := http.NewRequest("GET", base+p, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return -1, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s\nlogs:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	metric := func(name string) string {
		resp, err := client.Get(admin + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? (\S+)$`).FindStringSubmatch(string(b))
		if m == nil {
			return ""
		}
		return m[2]
	}
	waitFor("proxy up", func() bool { c, _ := get("shop.test", "/"); return c == 200 })

	// The client loop: 4 workers, plain and slow pages, until stopped.
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := "/"
				if w == 0 {
					p = "/slow"
				}
				code, body := get("shop.test", p)
				requests.Add(1)
				if code != 200 || !strings.Contains(body, "bootstrap.js") {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %.200s", code, body))
				}
			}
		}()
	}
	reloads := func(trigger, result string) string {
		return metric(`cobrowse_proxy_config_reloads_total\{result="` + result + `",trigger="` + trigger + `"\}`)
	}

	// 1. SIGHUP adds a site.
	if err := os.WriteFile(filepath.Join(dir, "..data", "config.yaml"), []byte(reloadConfig(up.URL, "", "shop", "blog")), 0o644); err != nil {
		t.Fatal(err)
	}
	// Written in place: the watch may see it first, so SIGHUP or file.
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor("blog added", func() bool { c, _ := get("blog.test", "/"); return c == 200 })

	// 2. A ConfigMap update removes it and adds another.
	publish(reloadConfig(up.URL, "", "shop", "news"))
	waitFor("news added by the ConfigMap update", func() bool { c, _ := get("news.test", "/"); return c == 200 })
	if c, _ := get("blog.test", "/"); c != http.StatusMisdirectedRequest {
		t.Errorf("blog.test after its removal: %d, want 421", c)
	}

	// 3. A broken ConfigMap update is refused; the last good one serves.
	publish(reloadConfig(up.URL, "token: {ttl: 1s}\n", "shop", "news", "extra"))
	waitFor("broken config refused", func() bool { return metric("cobrowse_proxy_config_last_reload_successful") == "0" })
	if c, _ := get("news.test", "/"); c != 200 {
		t.Errorf("news.test after a refused reload: %d, want 200", c)
	}
	if c, _ := get("extra.test", "/"); c != http.StatusMisdirectedRequest {
		t.Errorf("extra.test from a refused config: %d, want 421", c)
	}

	// 4. POST /-/reload after fixing it.
	publish(reloadConfig(up.URL, "", "shop", "news", "extra"))
	resp, err := client.Post(admin+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Status, ConfigHash string }
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || res.Status != "reloaded" || len(res.ConfigHash) != 64 {
		t.Errorf("POST /-/reload: %d %+v", resp.StatusCode, res)
	}
	if c, _ := get("extra.test", "/"); c != 200 {
		t.Errorf("extra.test after POST /-/reload: %d, want 200", c)
	}
	waitFor("successful gauge back to 1", func() bool { return metric("cobrowse_proxy_config_last_reload_successful") == "1" })

	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed across the reloads; first: %v", n, requests.Load(), firstFailure.Load())
	}
	if reloads("file", "failure") == "" || reloads("api", "success") != "1" {
		t.Errorf("reload counters: file/failure=%q api/success=%q", reloads("file", "failure"), reloads("api", "success"))
	}
	if h := metric(`cobrowse_proxy_config_info\{config_hash="` + res.ConfigHash + `",policy_hash="",policy_version=""\}`); h != "1" {
		t.Errorf("config_info does not carry the hash in force %s", res.ConfigHash)
	}
	t.Logf("%d requests across 4 reloads and 1 refusal, %d failed", requests.Load(), failures.Load())
}
