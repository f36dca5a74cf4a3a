package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// TestNewClient: the URL picks the topology, passwordFile's password
// replaces the URL's, and every wait is bounded by the timeout. No
// connection is made.
func TestNewClient(t *testing.T) {
	const timeout = 123 * time.Millisecond
	tests := []struct {
		url      string
		password string
		check    func(t *testing.T, c redis.UniversalClient)
	}{
		{"redis://:url-pw@h:6379/3", "file-pw", func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Addr != "h:6379" || o.DB != 3 || o.Password != "file-pw" || o.TLSConfig != nil ||
				o.ReadTimeout != timeout || o.DialTimeout != timeout || o.WriteTimeout != timeout || o.PoolTimeout != timeout ||
				!o.ContextTimeoutEnabled || o.MaxRetries != 1 {
				t.Errorf("options = %+v", o)
			}
		}},
		{"rediss://user:url-pw@h:6380", "", func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Username != "user" || o.Password != "url-pw" || o.TLSConfig == nil || o.TLSConfig.ServerName != "h" {
				t.Errorf("options = %+v", o)
			}
		}},
		{"redis://n1:6379?addr=n2:6379", "pw", func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.ClusterClient).Options()
			if len(o.Addrs) != 2 || o.Password != "pw" || o.ReadTimeout != timeout || !o.ContextTimeoutEnabled || o.MaxRetries != 1 {
				t.Errorf("cluster options = %+v", o)
			}
		}},
		{"redis://s1:26379?master_name=m", "pw", func(t *testing.T, c redis.UniversalClient) {
			if _, ok := c.(*redis.Client); !ok {
				t.Errorf("sentinel client is %T", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := NewClient(config.StorageRedis{URL: tt.url, Password: tt.password, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tt.check(t, c)
		})
	}
	if _, err := NewClient(config.StorageRedis{URL: "http://h"}); err == nil {
		t.Error("NewClient accepted http://")
	}
	// A dead address fails within the timeout's order, not the default 5s.
	c, err := NewClient(config.StorageRedis{URL: "redis://127.0.0.1:1", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Error("ping of a closed port succeeded")
	}
}
