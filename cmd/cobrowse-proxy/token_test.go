package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// The token command mints a token that verifies with the configured secret
// (checked here with crypto/hmac, not the JWT library that signed it).
func TestTokenCommand(t *testing.T) {
	const secret = "cli-test-secret-value"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := "zoom: {sdkKey: cli-key, sdkSecret: \"${SECRET}\"}\nsites: [{name: shop, hosts: [shop.example.com], upstream: \"http://127.0.0.1:1\"}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECRET", secret)
	for _, tc := range []struct {
		args []string
		role float64
		name string
		ttl  float64
	}{
		{[]string{"-role", "1", "-user-id", "u1", "-user-name", "Ann"}, 1, "Ann", 7200},
		{[]string{"-role", "2", "-user-id", "agent-7", "-ttl", "1h"}, 2, "agent-7", 3600},
	} {
		var stdout, stderr bytes.Buffer
		if code := runMain(append([]string{"token", "-config", cfgPath}, tc.args...), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr.String())
		}
		parts := strings.Split(strings.TrimSpace(stdout.String()), ".")
		if len(parts) != 3 {
			t.Fatalf("%v: not a JWT: %q", tc.args, stdout.String())
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if sig, _ := base64.RawURLEncoding.DecodeString(parts[2]); !hmac.Equal(sig, mac.Sum(nil)) {
			t.Errorf("%v: signature does not verify with the configured secret", tc.args)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["app_key"] != "cli-key" || claims["role_type"] != tc.role || claims["user_name"] != tc.name ||
			claims["exp"].(float64)-claims["iat"].(float64) != tc.ttl {
			t.Errorf("%v: claims %v", tc.args, claims)
		}
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("%v: the secret is on stderr", tc.args)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"token", "-config", cfgPath, "-role", "3"}, &stdout, &stderr); code != 2 {
		t.Errorf("-role 3: exit %d, want 2", code)
	}
}

func TestHashKeyCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"hash-key", "-generate"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var key, hash string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "key:  "); ok {
			key = v
		}
		if v, ok := strings.CutPrefix(line, "hash: "); ok {
			hash = v
		}
	}
	if key == "" || hash != token.HashKey(key) {
		t.Errorf("generate printed key %q hash %q", key, hash)
	}
	sum := sha256.Sum256([]byte("my-key"))
	stdout.Reset()
	if code := cmdHashKey(nil, strings.NewReader("my-key\n"), &stdout, &stderr); code != nil {
		t.Fatal(code)
	}
	if got := strings.TrimSpace(stdout.String()); got != token.HashKey("my-key") || got != hex.EncodeToString(sum[:]) {
		t.Errorf("hash of stdin key: %q", got)
	}
}
