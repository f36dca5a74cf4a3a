package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// A bad flag is a usage error: exit 2, and the problem said once.
func TestBadFlagExitsTwoOnce(t *testing.T) {
	for _, cmd := range []string{"run", "validate", "demo", "token", "hash-key"} {
		var stdout, stderr bytes.Buffer
		code := runMain([]string{cmd, "-no-such-flag"}, &stdout, &stderr)
		if code != 2 {
			t.Errorf("%s -no-such-flag: exit %d, want 2", cmd, code)
		}
		if n := strings.Count(stderr.String(), "flag provided but not defined"); n != 1 {
			t.Errorf("%s -no-such-flag: the error appears %d times:\n%s", cmd, n, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: stdout %q", cmd, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"validate", "-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("validate -h: exit %d, want 0", code)
	}
}

// An argument a command does not take is refused, not ignored.
func TestStrayArgument(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "-config", "x.yaml", "extra"},
		{"run", "-config", "x.yaml", "extra"},
		{"version", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runMain(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %q", args, code, stderr.String())
		}
		if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; lines != 1 {
			t.Errorf("%v: %d lines on stderr, want one:\n%s", args, lines, stderr.String())
		}
	}
}

// hash-key never takes the key as an argument (it would be in the shell
// history): it says how to pass it instead, without echoing it.
func TestHashKeyRefusesArgument(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runMain([]string{"hash-key", "cbpk_my-secret-key"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if stdout.Len() != 0 {
		t.Errorf("something was hashed: %q", stdout.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "standard input") || !strings.Contains(msg, "-generate") || strings.Contains(msg, "my-secret-key") {
		t.Errorf("message %q should point to standard input and -generate, without the key", msg)
	}
}

// token errors carry one prefix and say which key to set.
func TestTokenErrors(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := "zoom: {sdkKey: cli-key}\nsites: [{name: shop, hosts: [shop.example.com], upstream: \"http://127.0.0.1:1\"}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "-config", cfgPath}, 1, "zoom.sdkSecretFile"},
		{[]string{"token", "-config", cfgPath, "-ttl", "1m"}, 2, "-ttl 1m0s: lifetime 1m0s is outside 30m0s..48h0m0s"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, msg, tc.code, tc.want)
		}
		if strings.Count(msg, "\n") != 1 || strings.Contains(msg, "mint token: mint token") {
			t.Errorf("%v: want one line with one prefix, got %q", tc.args, msg)
		}
	}
}

// version names the commit and the Go version, so a plain "dev" build can
// still be traced to its source.
func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-03T07:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "dev (commit 0123456789abcdef0123456789abcdef01234567, modified, 2026-12-03T07:00:00Z) go1.99.1 " + platform},
		{&debug.BuildInfo{GoVersion: "go1.99.1"}, "dev go1.99.1 " + platform},
		{nil, "dev " + runtime.Version() + " " + platform},
	} {
		if got := versionLine("dev", tc.bi); got != tc.want {
			t.Errorf("versionLine = %q, want %q", got, tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"version"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), runtime.Version()) {
		t.Errorf("version: exit %d, output %q lacks %s", code, stdout.String(), runtime.Version())
	}
}

// validate -allow-missing-env checks a config where the secrets' variables
// are not set (CI): they are warnings and the exit is 0 when nothing else
// is wrong; other problems still fail it, and run has no such flag.
func TestValidateAllowMissingEnv(t *testing.T) {
	t.Setenv("ZOOM_SDK_KEY", "")
	os.Unsetenv("ZOOM_SDK_KEY")
	const example = "../../config.example.yaml"
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"validate", "-config", example}, 1, "", "zoom.sdkKey: environment variable ZOOM_SDK_KEY is not set"},
		{[]string{"validate", "-allow-missing-env", "-config", example}, 0, "OK", "1 unset environment variable(s), allowed by -allow-missing-env"},
		{[]string{"validate", "-allow-missing-env", "-config", "testdata/bad.yaml"}, 1, "", `sites[0].upstream: "ftp://x" must be an http or https URL`},
		{[]string{"run", "-allow-missing-env", "-config", example}, 2, "", "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, %q and %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

// log.access switches the access line on at info level; it is off by
// default.
func TestAccessLogSwitch(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer up.Close()
	for _, access := range []bool{false, true} {
		yml := fmt.Sprintf("log: {format: json, access: %t}\nzoom: {sdkKey: k}\nsites: [{name: shop, hosts: [shop.localhost], upstream: %q}]\n", access, up.URL)
		cfg, err := config.Parse([]byte(yml), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var logs syncBuffer
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- serve(ctx, cfg, "", server.Listeners{HTTP: ln}, newLogger(&logs, cfg.Log.SlogLevel(), cfg.Log.Format))
		}()
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
		req.Host = "shop.localhost"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		cancel()
		<-done
		if got := strings.Contains(logs.String(), `"msg":"access"`); got != access {
			t.Errorf("log.access %t: access line written = %t\n%s", access, got, logs.String())
		}
	}
}
