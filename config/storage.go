package config

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
)

// Storage holds where state shared by the replicas of a fleet lives.
type Storage struct {
	Redis StorageRedis `yaml:"redis"`
}

// StorageRedis points the fleet at one Redis (or Valkey). With URL empty
// every replica keeps its state to itself, as a single replica does.
//
// The URL may carry a password and Password and EncryptionKey are secrets,
// so StorageRedis's String, GoString, LogValue, MarshalJSON and MarshalYAML
// redact them, and no validation message contains them.
type StorageRedis struct {
	// URL is redis://[user:password@]host:port[/db], rediss:// for TLS, or
	// unix:///path/redis.sock. A master_name=NAME query parameter makes the
	// host a Sentinel and NAME the master set; addr=host:port parameters
	// (without master_name) add Cluster seed nodes. Other query parameters
	// are go-redis's (dial_timeout, pool_size, ...).
	URL string `yaml:"url"`
	// PasswordFile holds the Redis password (a mounted Secret); read by
	// Load into Password. Not allowed with a password in the URL.
	PasswordFile string `yaml:"passwordFile"`
	// KeyPrefix starts every key, so that several fleets can share one
	// Redis (default DefaultRedisKeyPrefix).
	KeyPrefix string `yaml:"keyPrefix"`
	// Timeout bounds each Redis command, so a slow or unreachable Redis
	// costs a bounded wait (default DefaultRedisTimeout).
	Timeout time.Duration `yaml:"timeout"`
	// EncryptionKeyFile holds an AES-256 key, 32 raw bytes or 64 hex
	// digits, that encrypts the private keys stored in Redis (AES-GCM).
	// Read by Load into EncryptionKey. Optional.
	EncryptionKeyFile string `yaml:"encryptionKeyFile"`

	// Password is read from PasswordFile by Load.
	Password string `yaml:"-"`
	// EncryptionKey is read from EncryptionKeyFile by Load (32 bytes).
	EncryptionKey []byte `yaml:"-"`
}

// Redis topologies, as chosen by the URL (see StorageRedis.URL).
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// Mode says which topology URL selects: RedisSentinel with a master_name
// query parameter, RedisCluster with addr parameters, else RedisSingle.
// It is "" when URL is empty or does not parse.
func (r StorageRedis) Mode() string {
	if r.URL == "" {
		return ""
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		return RedisSentinel
	case q.Has("addr"):
		return RedisCluster
	}
	return RedisSingle
}

// RedactedURL is URL with any password replaced by "xxxxx", for logs and
// error messages.
func (r StorageRedis) RedactedURL() string { return redactURL(r.URL) }

func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Do not echo what might hold a password: keep the scheme only.
		scheme, _, _ := strings.Cut(raw, ":")
		return scheme + "://" + redacted
	}
	return u.Redacted()
}

type storageRedisView struct {
	URL               string `json:"url,omitempty" yaml:"url,omitempty"`
	PasswordFile      string `json:"passwordFile,omitempty" yaml:"passwordFile,omitempty"`
	KeyPrefix         string `json:"keyPrefix" yaml:"keyPrefix"`
	Timeout           string `json:"timeout" yaml:"timeout"`
	EncryptionKeyFile string `json:"encryptionKeyFile,omitempty" yaml:"encryptionKeyFile,omitempty"`
}

func (r StorageRedis) view() storageRedisView {
	return storageRedisView{URL: r.RedactedURL(), PasswordFile: r.PasswordFile, KeyPrefix: r.KeyPrefix,
		Timeout: r.Timeout.String(), EncryptionKeyFile: r.EncryptionKeyFile}
}

// String prints the settings with the URL's password redacted and without
// the password and key read from files.
func (r StorageRedis) String() string {
	v := r.view()
	return fmt.Sprintf("{url:%q passwordFile:%q keyPrefix:%q timeout:%s encryptionKeyFile:%q}",
		v.URL, v.PasswordFile, v.KeyPrefix, v.Timeout, v.EncryptionKeyFile)
}

// GoString makes %#v redact too.
func (r StorageRedis) GoString() string { return "config.StorageRedis" + r.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (r StorageRedis) LogValue() slog.Value {
	v := r.view()
	return slog.GroupValue(
		slog.String("url", v.URL),
		slog.String("passwordFile", v.PasswordFile),
		slog.String("keyPrefix", v.KeyPrefix),
		slog.String("timeout", v.Timeout),
		slog.String("encryptionKeyFile", v.EncryptionKeyFile),
	)
}

// MarshalJSON redacts the secrets.
func (r StorageRedis) MarshalJSON() ([]byte, error) { return json.Marshal(r.view()) }

// MarshalYAML redacts the secrets.
func (r StorageRedis) MarshalYAML() (any, error) { return r.view(), nil }

// readStorageFiles reads storage.redis's passwordFile and encryptionKeyFile.
func readStorageFiles(r *StorageRedis, baseDir string, es *Errors) {
	var fromFile bool
	readSecretKey(&r.Password, &r.PasswordFile, &fromFile, "storage.redis.passwordFile", baseDir, es)
	if r.EncryptionKeyFile == "" {
		return
	}
	r.EncryptionKeyFile = resolvePath(baseDir, r.EncryptionKeyFile)
	key, err := readEncryptionKey(r.EncryptionKeyFile)
	if err != nil {
		es.add("storage.redis.encryptionKeyFile", r.EncryptionKeyFile, "%v", err)
		return
	}
	r.EncryptionKey = key
}

// EncryptionKeyLen is the AES-256 key length storage.redis.encryptionKeyFile
// must hold.
const EncryptionKeyLen = 32

// readEncryptionKey reads an AES-256 key: exactly 32 raw bytes, or 64 hex
// digits with optional trailing white space ("openssl rand -hex 32 > key").
// Errors never include the content.
func readEncryptionKey(name string) ([]byte, error) {
	if err := regularFile(name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<10))
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	if len(data) == EncryptionKeyLen {
		return data, nil
	}
	text := strings.TrimRightFunc(string(data), unicode.IsSpace)
	if len(text) == 2*EncryptionKeyLen {
		if key, err := hex.DecodeString(text); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("must hold a 256-bit key: 32 raw bytes or 64 hex digits (found %d bytes); make one with: openssl rand -hex 32 > FILE", len(data))
}
