// Package redisstore keeps the state a fleet of replicas shares in Redis: a certmagic.Storage for ACME certificates, accounts, challenge answers and issuance locks, and the Redis client the rest of fleet mode uses.
//
// Why Redis: most clusters have no ReadWriteMany volume for certmagic's
// FileStorage, and without shared storage every replica orders its own
// certificates (hitting the CA's duplicate-certificate limit) and cannot
// answer a challenge another replica started. Redis (or Valkey) is what
// Caddy clusters and rate-limit services already run.
package redisstore

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// NewClient opens a client for storage.redis: a single server, a Sentinel
// failover set (master_name=) or a Cluster (addr= seeds), as
// config.StorageRedis.Mode says. Dial, read, write and pool waits are all
// bounded by the configured timeout, so a dead Redis costs a bounded wait
// per command, and a failed command is retried at most once (the caller's
// deadline bounds the total anyway; retrying a dead server only delays the
// error). It does not contact Redis: connections are made on first
// use, so a replica starts (and serves what it has) while Redis is down.
func NewClient(r config.StorageRedis) (redis.UniversalClient, error) {
	t := r.Timeout
	if t <= 0 {
		t = config.DefaultRedisTimeout
	}
	switch r.Mode() {
	case config.RedisSentinel:
		o, err := redis.ParseFailoverURL(r.URL)
		if err != nil {
			return nil, fmt.Errorf("storage.redis.url %s: %w", r.RedactedURL(), err)
		}
		if r.Password != "" {
			o.Password = r.Password
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = t, t, t, t
		o.ContextTimeoutEnabled = true
		o.MaxRetries = 1
		return redis.NewFailoverClient(o), nil
	case config.RedisCluster:
		o, err := redis.ParseClusterURL(r.URL)
		if err != nil {
			return nil, fmt.Errorf("storage.redis.url %s: %w", r.RedactedURL(), err)
		}
		if r.Password != "" {
			o.Password = r.Password
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = t, t, t, t
		o.ContextTimeoutEnabled = true
		o.MaxRetries = 1
		return redis.NewClusterClient(o), nil
	case config.RedisSingle:
		o, err := redis.ParseURL(r.URL)
		if err != nil {
			return nil, fmt.Errorf("storage.redis.url %s: %w", r.RedactedURL(), err)
		}
		if r.Password != "" {
			o.Password = r.Password
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = t, t, t, t
		o.ContextTimeoutEnabled = true
		o.MaxRetries = 1
		o.MinRetryBackoff, o.MaxRetryBackoff = 8*time.Millisecond, 64*time.Millisecond
		return redis.NewClient(o), nil
	}
	return nil, fmt.Errorf("storage.redis.url %q: not a redis://, rediss:// or unix:// URL", r.RedactedURL())
}
