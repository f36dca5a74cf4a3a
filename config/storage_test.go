package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestValidateStorage(t *testing.T) {
	redis := func(f func(r *StorageRedis)) func(c *Config) {
		return func(c *Config) { f(&c.Storage.Redis) }
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"no fleet ok", redis(func(r *StorageRedis) {}), ``},
		{"single ok", redis(func(r *StorageRedis) { r.URL = "redis://:pw@redis.example.com:6379/2" }), ``},
		{"tls ok", redis(func(r *StorageRedis) { r.URL = "rediss://user@redis.example.com:6380?dial_timeout=2s" }), ``},
		{"unix ok", redis(func(r *StorageRedis) { r.URL = "unix:///run/redis.sock" }), ``},
		{"sentinel ok", redis(func(r *StorageRedis) { r.URL = "redis://s1:26379?master_name=mymaster&addr=s2:26379" }), ``},
		{"cluster ok", redis(func(r *StorageRedis) { r.URL = "redis://n1:6379?addr=n2:6379&addr=n3:6379" }), ``},
		{"password file without url", redis(func(r *StorageRedis) { r.PasswordFile = "/run/pw" }),
			`storage.redis.passwordFile: "/run/pw" has no effect without storage.redis.url; set the url (redis://host:6379) or remove passwordFile`},
		{"key file without url", redis(func(r *StorageRedis) { r.EncryptionKeyFile = "/run/k" }),
			`storage.redis.encryptionKeyFile: "/run/k" has no effect without storage.redis.url; set the url (redis://host:6379) or remove encryptionKeyFile`},
		{"scheme", redis(func(r *StorageRedis) { r.URL = "http://u:secret@redis:6379" }),
			`storage.redis.url: "http://u:xxxxx@redis:6379" must start with redis:// (plain), rediss:// (TLS) or unix://`},
		{"no host", redis(func(r *StorageRedis) { r.URL = "redis:///0" }),
			`storage.redis.url: "redis:///0" has no host; write redis://host:6379`},
		{"not a url", redis(func(r *StorageRedis) { r.URL = "redis://:sec ret@h:x y" }),
			`storage.redis.url: "redis://[REDACTED]" is not a URL; write redis://[user:password@]host:6379[/db] (rediss:// for TLS)`},
		{"bad db", redis(func(r *StorageRedis) { r.URL = "redis://:secret@h:6379/abc" }),
			`storage.redis.url: "redis://:xxxxx@h:6379/abc" does not parse as a go-redis single URL: redis: invalid database number: "abc"`},
		{"unknown parameter", redis(func(r *StorageRedis) { r.URL = "redis://h:6379?colour=red" }),
			`storage.redis.url: "redis://h:6379?colour=red" does not parse as a go-redis single URL: redis: unexpected option: colour`},
		{"unix sentinel", redis(func(r *StorageRedis) { r.URL = "unix:///run/s.sock?master_name=m" }),
			`storage.redis.url: "unix:///run/s.sock?master_name=m" unix sockets reach a single Redis; Sentinel (master_name=) and Cluster (addr=) need redis:// or rediss://`},
		{"two passwords", redis(func(r *StorageRedis) { r.URL = "redis://:secret@h:6379"; r.PasswordFile = "/run/pw" }),
			`storage.redis.passwordFile: "/run/pw" conflicts with the password in storage.redis.url; keep one (the file is safer: a URL shows up in process listings)`},
		{"prefix glob", redis(func(r *StorageRedis) { r.URL = "redis://h"; r.KeyPrefix = "fleet*" }),
			`storage.redis.keyPrefix: "fleet*" may not contain spaces, control characters or *?[]\{}; use letters, digits, - _ . : /`},
		{"prefix long", redis(func(r *StorageRedis) { r.URL = "redis://h"; r.KeyPrefix = strings.Repeat("p", 65) }),
			`storage.redis.keyPrefix: "` + strings.Repeat("p", 65) + `" is longer than 64 bytes; a short name per fleet is enough`},
		{"timeout small", redis(func(r *StorageRedis) { r.URL = "redis://h"; r.Timeout = time.Millisecond }),
			`storage.redis.timeout: "1ms" must be between 10ms and 30s (default 500ms)`},
		{"timeout large", redis(func(r *StorageRedis) { r.URL = "redis://h"; r.Timeout = time.Minute }),
			`storage.redis.timeout: "1m0s" must be between 10ms and 30s (default 500ms)`},
		{"key not read", redis(func(r *StorageRedis) { r.URL = "redis://h"; r.EncryptionKeyFile = "/run/k" }),
			`storage.redis.encryptionKeyFile: "/run/k" was not read into a 32-byte key; load the config with config.Load`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(c)
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("message shows the password: %s", got)
			}
		})
	}
}

func TestStorageRedisMode(t *testing.T) {
	for url, want := range map[string]string{
		"":                               "",
		"redis://h":                      RedisSingle,
		"redis://h?master_name=m":        RedisSentinel,
		"redis://h?master_name=m&addr=x": RedisSentinel,
		"redis://h?addr=x":               RedisCluster,
		"redis://h:x y":                  "",
	} {
		if got := (StorageRedis{URL: url}).Mode(); got != want {
			t.Errorf("Mode(%q) = %q, want %q", url, got, want)
		}
	}
}

// TestLoadStorageFiles: the password and key files are read, relative to
// the config file, and neither they nor the URL's password are printed.
func TestLoadStorageFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rawKey := bytes.Repeat([]byte{' '}, 32) // raw bytes are not trimmed
	write("pw", []byte("redis-pass-word\n"))
	write("hex.key", []byte(strings.Repeat("ab", 32)+"\n"))
	write("raw.key", rawKey)
	write("short.key", []byte("abcd"))
	cfg := func(extra string) string {
		return "zoom: {sdkKey: K, sdkSecret: 0123456789abcdef0123}\n" + minimalSite +
			"storage:\n  redis:\n    url: ${REDIS_URL}\n" + extra
	}
	env := envMap(map[string]string{"REDIS_URL": "redis://:url-pass-word@redis:6379"})
	envNoPW := envMap(map[string]string{"REDIS_URL": "redis://redis:6379"})

	c, err := Parse([]byte(cfg("    passwordFile: pw\n    encryptionKeyFile: hex.key\n")), dir, envNoPW)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Storage.Redis
	if r.Password != "redis-pass-word" || !bytes.Equal(r.EncryptionKey, bytes.Repeat([]byte{0xab}, 32)) ||
		r.PasswordFile != filepath.Join(dir, "pw") || r.Timeout != DefaultRedisTimeout || r.KeyPrefix != DefaultRedisKeyPrefix {
		t.Errorf("storage.redis = %#v", r)
	}

	c, err = Parse([]byte(cfg("    encryptionKeyFile: raw.key\n")), dir, env)
	if err != nil {
		t.Fatal(err)
	}
	r = c.Storage.Redis
	if !bytes.Equal(r.EncryptionKey, rawKey) {
		t.Errorf("raw key = %x", r.EncryptionKey)
	}
	var printed bytes.Buffer
	fmt.Fprintf(&printed, "%v %+v %#v %s\n", r, r, r, c.Storage)
	j, _ := json.Marshal(c)
	y, _ := yaml.Marshal(c)
	printed.Write(j)
	printed.Write(y)
	slog.New(slog.NewTextHandler(&printed, nil)).Info("x", "redis", r)
	if s := printed.String(); strings.Contains(s, "url-pass-word") || !strings.Contains(s, "redis://:xxxxx@redis:6379") {
		t.Errorf("printed config shows the password or not the URL:\n%s", s)
	}

	_, err = Parse([]byte(cfg("    encryptionKeyFile: short.key\n")), dir, env)
	want := `storage.redis.encryptionKeyFile: "` + filepath.Join(dir, "short.key") + `" must hold a 256-bit key: 32 raw bytes or 64 hex digits (found 4 bytes); make one with: openssl rand -hex 32 > FILE`
	if err == nil || err.Error() != want {
		t.Errorf("short key: %v\nwant %s", err, want)
	}
	_, err = Parse([]byte(cfg("    encryptionKeyFile: missing.key\n")), dir, env)
	if err == nil || !strings.Contains(err.Error(), "storage.redis.encryptionKeyFile") {
		t.Errorf("missing key file: %v", err)
	}
}
