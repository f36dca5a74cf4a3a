package token

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMintClaims(t *testing.T) {
	c := newClock()
	m := NewMinter(testKey, StaticSecret(testSecret), c.Now)
	long := strings.Repeat("é", 100)
	tests := []struct {
		name     string
		claims   Claims
		wantName string
		wantBYOP bool
	}{
		{"customer", Claims{Role: RoleCustomer, UserID: "u1", UserName: "Ann", TTL: DefaultTTL}, "Ann", false},
		{"agent min ttl", Claims{Role: RoleAgent, UserID: "a@example.com", UserName: "Bob", TTL: MinTTL}, "Bob", false},
		{"max ttl, name defaults to id", Claims{Role: RoleCustomer, UserID: "u2", TTL: MaxTTL}, "u2", false},
		{"long name cut to 80 characters", Claims{Role: RoleCustomer, UserID: "u3", UserName: long, TTL: time.Hour}, strings.Repeat("é", 80), false},
		{"control characters stripped", Claims{Role: RoleCustomer, UserID: "u4", UserName: "A\x00n\u202En\r\n  X\x7f", TTL: time.Hour}, "Ann X", false},
		{"byop", Claims{Role: RoleCustomer, UserID: "u5", TTL: time.Hour, BYOP: true}, "u5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, exp, err := m.Mint(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			hdr, cl := verifyJWT(t, tok, []byte(testSecret))
			if hdr["alg"] != "HS256" || hdr["typ"] != "JWT" || len(hdr) != 2 {
				t.Errorf("header = %v, want exactly alg HS256, typ JWT", hdr)
			}
			want := []string{"app_key", "exp", "iat", "role_type", "user_id", "user_name"}
			if tt.wantBYOP {
				want = append(want, "enable_byop")
			}
			var got []string
			for k := range cl {
				got = append(got, k)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("claims = %v, want exactly %v", got, want)
			}
			if str(t, cl, "app_key") != testKey {
				t.Errorf("app_key = %s", cl["app_key"])
			}
			if r := num(t, cl, "role_type"); r != int64(tt.claims.Role) {
				t.Errorf("role_type = %d", r)
			}
			iat, expC := num(t, cl, "iat"), num(t, cl, "exp")
			if iat != c.Now().Unix() || expC-iat != int64(tt.claims.TTL/time.Second) || expC != exp.Unix() {
				t.Errorf("iat %d exp %d (returned %d), ttl %s", iat, expC, exp.Unix(), tt.claims.TTL)
			}
			if str(t, cl, "user_id") != tt.claims.UserID {
				t.Errorf("user_id = %s", cl["user_id"])
			}
			name := str(t, cl, "user_name")
			if name != tt.wantName || utf8.RuneCountInString(name) > MaxUserNameLen {
				t.Errorf("user_name = %q, want %q", name, tt.wantName)
			}
			if tt.wantBYOP && num(t, cl, "enable_byop") != 1 {
				t.Errorf("enable_byop = %s", cl["enable_byop"])
			}
			if signatureValid(tok, []byte(testSecret+"x")) {
				t.Error("signature verifies with another secret")
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	ok := Claims{Role: RoleCustomer, UserID: "u", TTL: time.Hour}
	tests := []struct {
		name   string
		secret SecretSource
		mod    func(*Claims)
	}{
		{"ttl too short", StaticSecret(testSecret), func(c *Claims) { c.TTL = MinTTL - time.Second }},
		{"ttl too long", StaticSecret(testSecret), func(c *Claims) { c.TTL = MaxTTL + time.Second }},
		{"ttl not whole seconds", StaticSecret(testSecret), func(c *Claims) { c.TTL = time.Hour + time.Millisecond }},
		{"role 3", StaticSecret(testSecret), func(c *Claims) { c.Role = 3 }},
		{"no user id", StaticSecret(testSecret), func(c *Claims) { c.UserID = "" }},
		{"control char in user id", StaticSecret(testSecret), func(c *Claims) { c.UserID = "a\nb" }},
		{"blank user id: the name would be empty", StaticSecret(testSecret), func(c *Claims) { c.UserID = " \u00a0\u3000" }},
		{"empty static secret", StaticSecret(nil), func(*Claims) {}},
		{"missing file", NewFileSecret(filepath.Join(dir, "nope"), 0, nil), func(*Claims) {}},
		{"empty file", NewFileSecret(empty, 0, nil), func(*Claims) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			tok, _, err := NewMinter(testKey, tt.secret, nil).Mint(c)
			if err == nil || tok != "" {
				t.Fatalf("Mint = %q, %v; want an error and no token", tok, err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatal("error contains the secret")
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann", "Ann"},
		{"  Ann   Lee  ", "Ann Lee"},
		{"A\tB\nC", "A B C"},
		{"\x1b[31mred\x1b[0m", "[31mred[0m"},
		{"ev\u202eil\u200b", "evil"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{strings.Repeat("a", 79) + " b", strings.Repeat("a", 79)},
		{strings.Repeat("ü", 81), strings.Repeat("ü", 80)},
		// An inner space counts towards the 80: 40 + 1 + 39.
		{strings.Repeat("a", 40) + " " + strings.Repeat("b", 45), strings.Repeat("a", 40) + " " + strings.Repeat("b", 39)},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CleanName(tt.in, MaxUserNameLen); got != tt.want {
			t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFileSecretRotation: a rotated secret file is used for the next token
// without a restart, and the old secret no longer verifies.
func TestFileSecretRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sdk-secret")
	write := func(s string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, mtime, mtime)
	}
	base := time.Now().Add(-time.Hour)
	write("first-secret-aaaa", base)
	c := newClock()
	src := NewFileSecret(path, 5*time.Second, c.Now)
	m := NewMinter(testKey, src, c.Now)
	claims := Claims{Role: RoleCustomer, UserID: "u", TTL: time.Hour}

	tok, _, err := m.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	verifyJWT(t, tok, []byte("first-secret-aaaa"))

	// Same size, new content and mtime: the way a Kubernetes Secret rotates.
	write("second-secret-bbb", base.Add(time.Minute))
	tok, _, _ = m.Mint(claims)
	if !signatureValid(tok, []byte("first-secret-aaaa")) {
		t.Fatal("the file was re-read before the check interval passed")
	}
	c.Advance(5 * time.Second)
	tok, _, err = m.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	verifyJWT(t, tok, []byte("second-secret-bbb"))
	if signatureValid(tok, []byte("first-secret-aaaa")) {
		t.Fatal("old secret still verifies")
	}

	// Rotation by an atomic rename (a new file) with the same size and mtime.
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte("third--secret-ccc\n"), 0o600)
	os.Chtimes(tmp, base.Add(time.Minute), base.Add(time.Minute))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	c.Advance(5 * time.Second)
	tok, _, _ = m.Mint(claims)
	verifyJWT(t, tok, []byte("third--secret-ccc"))

	// Fail closed: a removed or emptied file stops signing at once.
	os.Remove(path)
	c.Advance(5 * time.Second)
	if _, _, err := m.Mint(claims); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Mint after removal: %v, want not-exist", err)
	}
	write("", base)
	c.Advance(5 * time.Second)
	if _, _, err := m.Mint(claims); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("Mint with empty file: %v, want ErrNoSecret", err)
	}
	if err := src.Check(); err == nil {
		t.Fatal("Check passes on an empty file")
	}
}
