package config

import (
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of storage.redis.timeout: below the minimum even a Redis on the
// same host times out under load; above the maximum a handshake waiting on
// a dead Redis stalls longer than clients wait.
const (
	MinRedisTimeout = 10 * time.Millisecond
	MaxRedisTimeout = 30 * time.Second
	// MaxRedisKeyPrefixLen keeps keys short; a prefix names a fleet.
	MaxRedisKeyPrefixLen = 64
)

// validateStorage checks storage.redis. It parses the URL with the same
// go-redis parser the client uses, so what validates also connects (as far
// as parsing goes), but it does not contact Redis: "cobrowse-proxy
// validate" may run on another machine. Messages never contain a password:
// the URL is shown redacted.
func (c *Config) validateStorage(es *Errors) {
	r := c.Storage.Redis
	if r.URL == "" {
		if r.PasswordFile != "" {
			es.add("storage.redis.passwordFile", r.PasswordFile, "has no effect without storage.redis.url; set the url (redis://host:6379) or remove passwordFile")
		}
		if r.EncryptionKeyFile != "" {
			es.add("storage.redis.encryptionKeyFile", r.EncryptionKeyFile, "has no effect without storage.redis.url; set the url (redis://host:6379) or remove encryptionKeyFile")
		}
		return
	}
	shown := r.RedactedURL()
	u, err := url.Parse(r.URL)
	if err != nil {
		es.add("storage.redis.url", shown, "is not a URL; write redis://[user:password@]host:6379[/db] (rediss:// for TLS)")
		return
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			es.add("storage.redis.url", shown, "has no host; write redis://host:6379")
			return
		}
	case "unix":
		if r.Mode() != RedisSingle {
			es.add("storage.redis.url", shown, "unix sockets reach a single Redis; Sentinel (master_name=) and Cluster (addr=) need redis:// or rediss://")
			return
		}
	default:
		es.add("storage.redis.url", shown, "must start with redis:// (plain), rediss:// (TLS) or unix://")
		return
	}
	if err := parseRedisURL(r); err != nil {
		es.add("storage.redis.url", shown, "does not parse as a go-redis %s URL: %s", r.Mode(), redactErr(err, r.URL))
	}
	if _, hasPassword := u.User.Password(); hasPassword && r.PasswordFile != "" {
		es.add("storage.redis.passwordFile", r.PasswordFile, "conflicts with the password in storage.redis.url; keep one (the file is safer: a URL shows up in process listings)")
	}
	switch p := r.KeyPrefix; {
	case p == "":
		es.add("storage.redis.keyPrefix", "", "must not be empty (default %s)", DefaultRedisKeyPrefix)
	case len(p) > MaxRedisKeyPrefixLen:
		es.add("storage.redis.keyPrefix", p, "is longer than %d bytes; a short name per fleet is enough", MaxRedisKeyPrefixLen)
	case strings.ContainsAny(p, "*?[]\\{} \t") || hasControl(p):
		es.add("storage.redis.keyPrefix", p, "may not contain spaces, control characters or *?[]\\{}; use letters, digits, - _ . : /")
	}
	if r.Timeout < MinRedisTimeout || r.Timeout > MaxRedisTimeout {
		es.add("storage.redis.timeout", r.Timeout.String(), "must be between %s and %s (default %s)", MinRedisTimeout, MaxRedisTimeout, DefaultRedisTimeout)
	}
	if r.EncryptionKeyFile != "" && len(r.EncryptionKey) != EncryptionKeyLen {
		// Load reports a bad file; this is a Config built in code.
		es.add("storage.redis.encryptionKeyFile", r.EncryptionKeyFile, "was not read into a 32-byte key; load the config with config.Load")
	}
}

// parseRedisURL runs the go-redis parser for r's mode.
func parseRedisURL(r StorageRedis) error {
	var err error
	switch r.Mode() {
	case RedisSentinel:
		_, err = redis.ParseFailoverURL(r.URL)
	case RedisCluster:
		_, err = redis.ParseClusterURL(r.URL)
	default:
		_, err = redis.ParseURL(r.URL)
	}
	return err
}

// redactErr removes a password that err's text might echo.
func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}
