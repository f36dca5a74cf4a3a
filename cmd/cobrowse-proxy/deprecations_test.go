package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateWarnsDeprecatedSettings: a config with the init settings'
// names from before Cobrowse SDK 2.11.0 still validates (exit 0), and the
// output says, per key, what to write instead.
func TestValidateWarnsDeprecatedSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(`
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    settings: {allowAgentAnnotation: true, allowCustomerAnnotation: true}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"validate", "-config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	for _, want := range []string{
		"2 warning(s)",
		"sites[0].settings.allowAgentAnnotation: \"true\" is not a customer setting since Cobrowse SDK 2.11.0",
		"write it as settings.annotation.allowCustomerAnnotation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}
