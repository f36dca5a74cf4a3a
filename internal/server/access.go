package server

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode/utf8"
)

// Bounds on the client-controlled strings of an access line, so that one
// request cannot write kilobytes of log (the header limit alone allows 32 KiB).
const (
	maxLogHost      = 256
	maxLogPath      = 512
	maxLogUserAgent = 256
)

// WithAccessLog returns rt wrapped so that every public request, answered
// by a site, the reserved prefix or refused for its Host, writes one "access"
// line at info level when it ends (log.access). The path is logged without
// its query, which may carry tokens; client-controlled strings are cut to
// fixed lengths (the handlers quote and escape them). The client is the
// address the proxy believes (X-Forwarded-For only from proxy.trustedProxies).
func (rt *Router) WithAccessLog(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.serveLogged(log, w, r) })
}

// serveLogged serves r and writes its access line.
func (rt *Router) serveLogged(log *slog.Logger, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	aw := &accessWriter{ResponseWriter: w}
	defer func() {
		// Also when the handler panics (http.ErrAbortHandler for an
		// aborted response): the line is written, the panic goes on.
		rt.logAccess(log, r, aw, time.Since(start))
	}()
	rt.ServeHTTP(aw, r)
}

func (rt *Router) logAccess(log *slog.Logger, r *http.Request, aw *accessWriter, d time.Duration) {
	site := ""
	if s := rt.lookup(r.Host); s != nil && s.Proxy != nil {
		site = s.Proxy.Name
	}
	client := ""
	if rt.proxy != nil {
		if a := rt.proxy.ClientAddr(r); a.IsValid() {
			client = a.String()
		}
	}
	status := aw.code
	if status == 0 {
		status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
		if !aw.wrote && r.Context().Err() != nil {
			status = 499 // the client left before a response
		}
	}
	log.LogAttrs(r.Context(), slog.LevelInfo, "access",
		slog.String("client", client),
		slog.String("method", bounded(r.Method, 16)),
		slog.String("host", bounded(r.Host, maxLogHost)),
		slog.String("path", bounded(r.URL.Path, maxLogPath)),
		slog.Int("status", status),
		slog.Int64("bytes", aw.bytes),
		slog.Float64("duration_s", d.Seconds()),
		slog.String("user_agent", bounded(r.UserAgent(), maxLogUserAgent)),
		slog.String("site", site),
		slog.String("request_id", bounded(aw.Header().Get("X-Request-Id"), 64)),
	)
}

// bounded cuts s to at most n bytes at a character boundary, marking the cut.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a character cut in half (at most UTFMax-1 bytes).
	for i := 1; i < utf8.UTFMax && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s + "…"
}

// accessWriter records the final status and the body bytes written. It
// passes on Flush and Hijack (streams and websockets) and unwraps for
// http.ResponseController.
type accessWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
	wrote bool
}

func (a *accessWriter) WriteHeader(code int) {
	if a.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		a.code = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(p []byte) (int, error) {
	a.wrote = true
	n, err := a.ResponseWriter.Write(p)
	a.bytes += int64(n)
	return n, err
}

func (a *accessWriter) Flush() {
	a.wrote = true
	http.NewResponseController(a.ResponseWriter).Flush()
}

func (a *accessWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(a.ResponseWriter).Hijack()
	if err == nil && a.code == 0 {
		a.code = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (a *accessWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
