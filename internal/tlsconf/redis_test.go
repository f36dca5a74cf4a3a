package tlsconf

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redistest"
)

// redisServer is a real redis-server on loopback (internal/redistest:
// skipped without redis-server, failed under CI), with the few verbs
// these tests use.
type redisServer struct{ srv *redistest.Server }

func startRedis(t testing.TB) *redisServer { return &redisServer{redistest.Start(t)} }

func (s *redisServer) url() string { return "redis://" + s.srv.Addr }

// client returns a raw client, to inspect what the storage wrote.
func (s *redisServer) client() *redis.Client { return s.srv.Client() }

// stop kills the server as a crash would; start brings it back empty.
func (s *redisServer) stop()  { s.srv.Stop() }
func (s *redisServer) start() { s.srv.Start() }

// pause stops the process without closing its sockets (a Redis that does
// not answer); resume undoes it.
func (s *redisServer) pause()  { s.srv.Pause() }
func (s *redisServer) resume() { s.srv.Resume() }
