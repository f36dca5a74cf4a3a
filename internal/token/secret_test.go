package token

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileSecretTooShort: a rotated secret file with fewer than
// MinSecretLen bytes is refused and logged once, and the previous secret
// stays in use; without a previous one nothing is signed.
func TestFileSecretTooShort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sdk-secret")
	base := time.Now().Add(-time.Hour)
	write := func(s string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	const good, short, next = "first-secret-0123456789", "abc12", "second-secret-0123456789"
	write(good, base)
	var logs bytes.Buffer
	src := NewFileSecret(path, 0, nil)
	src.Log = slog.New(slog.NewTextHandler(&logs, nil))
	get := func() string {
		t.Helper()
		b, err := src.Secret()
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		return string(b)
	}
	if got := get(); got != good {
		t.Fatalf("secret %q, want the first", got)
	}

	write(short, base.Add(time.Minute))
	for range 3 {
		if got := get(); got != good {
			t.Fatalf("after a 5-byte rotation the secret is %q, want the previous one kept", got)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want the refusal logged once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "5 bytes") || strings.Contains(logs.String(), short) {
		t.Errorf("log should give the length, never the value:\n%s", logs.String())
	}

	write(next, base.Add(2*time.Minute))
	if got := get(); got != next {
		t.Fatalf("a good rotation after a refused one: secret %q", got)
	}

	write(short, base.Add(3*time.Minute))
	fresh := NewFileSecret(path, 0, nil)
	if _, err := fresh.Secret(); !errors.Is(err, ErrSecretTooShort) {
		t.Fatalf("first read of a short secret: %v, want ErrSecretTooShort", err)
	}
}

// TestFileSecretMinLength: a secret file of exactly 16 bytes (the minimum)
// is used; one of 15 is refused as too short.
func TestFileSecretMinLength(t *testing.T) {
	for _, tc := range []struct {
		secret string
		ok     bool
	}{{"0123456789abcdef", true}, {"0123456789abcde", false}} {
		path := filepath.Join(t.TempDir(), "sdk-secret")
		if err := os.WriteFile(path, []byte(tc.secret), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := NewFileSecret(path, 0, nil).Secret()
		if tc.ok && (err != nil || string(b) != tc.secret) {
			t.Errorf("%d-byte secret: %q, %v; want it used", len(tc.secret), b, err)
		}
		if !tc.ok && !errors.Is(err, ErrSecretTooShort) {
			t.Errorf("%d-byte secret: %q, %v; want ErrSecretTooShort", len(tc.secret), b, err)
		}
	}
}
