// Package redistest starts a real redis-server for tests: on a free
// loopback port, in a temporary directory, with persistence off, so a
// restart comes back empty. A test can stop it (Redis down), pause it
// (Redis slow: the process is stopped with SIGSTOP, connections stay open
// and nothing answers), and start it again on the same address.
//
// When redis-server is not installed the test is skipped with a message,
// except under CI (CI set), where it fails: CI must run these tests.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long redis-server may take to say it is ready.
const startTimeout = 10 * time.Second

// Server is one redis-server process, restartable on the same address.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	Addr string // host:port on 127.0.0.1

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Binary returns the redis-server path, skipping the test (failing it
// under CI) when there is none. REDIS_SERVER overrides the lookup.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	const msg = "redis-server is not installed: apt-get install -y redis-server (CI installs it), or set REDIS_SERVER"
	if os.Getenv("CI") != "" {
		t.Fatal(msg) // CI must run the Redis tests, not skip them
	}
	t.Skip(msg)
	return ""
}

// Start starts a redis-server and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir(), Addr: freeAddr(t)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Client returns a client for s, closed when the test ends. Its options
// are those a product client needs: ContextTimeoutEnabled, so a caller's
// deadline bounds socket reads, and no retries, so a test sees the first
// failure.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: s.Addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Start starts the server (again) on its address, empty, and waits until
// it accepts connections. It is a no-op when the server is running.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin,
		"--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				io.Copy(io.Discard, out) // keep draining until the process exits
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			s.t.Fatal(err)
		}
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		cmd.Wait()
		s.t.Fatalf("redis-server on %s not ready after %v", s.Addr, startTimeout)
	}
	s.cmd = cmd
}

// Stop kills the server (as a crash would: nothing is saved) and waits
// for it to exit. It is a no-op when the server is not running.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot die
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart stops the server and starts it again, empty, on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Pause stops the process (SIGSTOP) without closing its sockets: commands
// are accepted by the kernel and never answered, as with a Redis that is
// overloaded or behind a partition. Resume undoes it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("redistest: server not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// Ping reports whether the server answers, within a second.
func (s *Server) Ping(c redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// Delayed returns the address of a proxy to s that holds every chunk of
// bytes for oneWay in each direction, so a round trip costs 2*oneWay more:
// a Redis in another zone or region. It stops when the test ends.
func (s *Server) Delayed(t testing.TB, oneWay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("delayed proxy: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(oneWay)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", s.Addr)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(up)
			wg.Add(2)
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}
