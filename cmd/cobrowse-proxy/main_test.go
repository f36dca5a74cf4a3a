package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runMain([]string{"validate", "-config", "testdata/bad.yaml"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	want := []string{
		"testdata/bad.yaml: 9 problem(s):",
		"  sites[1].settinsg: unknown key at line 18;",
		`  listen.http: "nonsense" must be host:port`,
		`  tls.mode: "on" must be off, files or acme`,
		`  proxy.unknownHostStatus: "500" must be 421 or 404`,
		"  zoom.sdkKey: is required",
		`  sites[0].name: "Shop!" must be`,
		`  sites[0].upstream: "ftp://x" must be an http or https URL`,
		`  sites[0].inject.exclude[0]: "admin[/**" must be a URL path pattern`,
		`  sites[1].hosts[0]: "shop.example.com" is already used by sites[0].hosts[0]`,
	}
	for _, w := range want {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("output lacks %q; got:\n%s", w, stderr.String())
		}
	}
}

func TestValidateExampleConfig(t *testing.T) {
	t.Setenv("ZOOM_SDK_KEY", "abc123")
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"validate", "-config", "../../config.example.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "OK") {
		t.Errorf("stdout %q lacks OK", stdout.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"validate"}, {"run"}} {
		var stdout, stderr bytes.Buffer
		if code := runMain(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit code %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: nothing on stderr", args)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "cobrowse-proxy ") {
		t.Errorf("version: code %d, output %q", code, stdout.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while the demo writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The demo serves the shop through the proxy: pages carry the loader, the
// fragment does not, and it stops cleanly when its context ends.
func TestDemo(t *testing.T) {
	t.Setenv("ZOOM_SDK_KEY", "")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- cmdDemo(ctx, []string{"-listen", "127.0.0.1:0", "-admin", ""}, &stdout, &stderr) }()

	var port string
	re := regexp.MustCompile(`http://shop\.localhost:(\d+)/`)
	for deadline := time.Now().Add(10 * time.Second); port == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			port = m[1]
		}
	}
	if port == "" {
		cancel()
		t.Fatalf("demo printed no URL; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "ZOOM_SDK_KEY is not set") {
		t.Errorf("demo does not say it uses a placeholder key:\n%s", stdout.String())
	}
	get := func(path string, hdr map[string]string) string {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
		req.Host = "shop.localhost:" + port
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	tag := `<script src="/__cobrowse/bootstrap.js?v=`
	for _, p := range []string{"/", "/checkout", "/iframe", "/gzip", "/live"} {
		if body := get(p, nil); !strings.Contains(body, tag) {
			t.Errorf("%s: loader missing", p)
		}
	}
	if body := get("/fragment", map[string]string{"HX-Request": "true"}); strings.Contains(body, "bootstrap.js") {
		t.Errorf("fragment was injected: %s", body)
	}
	if body := get("/__cobrowse/bootstrap.js", nil); !strings.Contains(body, "DEMO_PLACEHOLDER_SDK_KEY") {
		t.Errorf("bootstrap.js lacks the placeholder key")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop after its context ended")
	}
}
