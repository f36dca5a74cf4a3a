package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// failingListener fails every Accept with err, as a listener does when the
// process is out of file descriptors.
type failingListener struct {
	net.Listener
	err error
}

func (f failingListener) Accept() (net.Conn, error) { return nil, f.err }

// TestAcceptErrorsLogged: accept errors reach the log at error level (not
// only net/http's debug-level ErrorLog), at most once per acceptLogEvery
// with a count of the rest, and a closed listener is not an error.
func TestAcceptErrorsLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	now := time.Unix(1_000_000, 0)
	l := newAcceptLogger(failingListener{err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}}, "127.0.0.1:8080", log)
	l.now = func() time.Time { return now }
	for range 100 {
		if _, err := l.Accept(); !errors.Is(err, syscall.EMFILE) {
			t.Fatalf("Accept error %v, want EMFILE passed on", err)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("%d error lines for 100 accept errors within %v, want 1:\n%s", n, acceptLogEvery, logs.String())
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the log does not give the cause:\n%s", logs.String())
	}
	now = now.Add(acceptLogEvery)
	l.Accept()
	if !strings.Contains(logs.String(), "more_errors_since_last_report=99") {
		t.Errorf("the second report does not count the 99 suppressed errors:\n%s", logs.String())
	}

	logs.Reset()
	closed := newAcceptLogger(failingListener{err: net.ErrClosed}, "x", log)
	closed.Accept()
	if logs.Len() != 0 {
		t.Errorf("a closed listener was logged: %s", logs.String())
	}
}

// flakyListener fails its first Accept with EMFILE, then accepts.
type flakyListener struct {
	net.Listener
	failed atomic.Bool
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.failed.CompareAndSwap(false, true) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return f.Listener.Accept()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeLogsAcceptErrors: Serve reports an accept error at error level
// at the default log level, and keeps serving.
func TestServeLogsAcceptErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := config.Config{}
	c.ApplyDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Listeners{HTTP: &flakyListener{Listener: ln}}, Options{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			Server:  c.Server, Logger: log,
		})
	}()
	defer func() {
		cancel()
		<-served
	}()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("not served after an accept error: %v", err)
	}
	res.Body.Close()
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "too many open files") {
		t.Errorf("the accept error is not logged at error level:\n%s", out)
	}
}
