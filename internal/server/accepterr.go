package server

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// acceptLogEvery is how often, at most, accept errors are logged.
const acceptLogEvery = 10 * time.Second

// acceptLogger logs the listener's accept errors at error level. net/http
// only reports them through Server.ErrorLog, which is at debug level here
// because it also carries every client's TLS handshake failure; but an
// accept error such as "too many open files" means new clients are being
// turned away, which an operator must see. While the condition lasts the
// server retries every few milliseconds, so the log line is written at most
// once per acceptLogEvery, with the number of errors since the last one.
type acceptLogger struct {
	net.Listener
	log  *slog.Logger
	name string
	now  func() time.Time

	mu         sync.Mutex
	last       time.Time // when an error was last logged
	suppressed int       // errors since then, not logged
}

func newAcceptLogger(ln net.Listener, name string, log *slog.Logger) *acceptLogger {
	return &acceptLogger{Listener: ln, log: log, name: name, now: time.Now}
}

func (l *acceptLogger) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		l.report(err)
	}
	return c, err
}

func (l *acceptLogger) report(err error) {
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < acceptLogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Error("accepting connections failed: new clients are turned away (check the open file limit, ulimit -n)",
		"listener", l.name, "error", err, "more_errors_since_last_report", suppressed)
}
