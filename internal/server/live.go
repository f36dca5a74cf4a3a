package server

import (
	"log/slog"
	"net/http"
	"sync/atomic"
)

// Live is the public handler whose router a reload replaces while it
// serves. Each request loads the router once and finishes on it, so
// in-flight requests end on the config they started with and none is
// dropped by a swap.
type Live struct {
	cur    atomic.Pointer[Router]
	access *slog.Logger // log.access: one line per request, or nil
}

// NewLive returns a Live serving rt. With access set, every request writes
// an access line (see Router.WithAccessLog).
func NewLive(rt *Router, access *slog.Logger) *Live {
	l := &Live{access: access}
	l.cur.Store(rt)
	return l
}

// Swap makes rt serve every request that starts from now on.
func (l *Live) Swap(rt *Router) { l.cur.Store(rt) }

// Router returns the router in force.
func (l *Live) Router() *Router { return l.cur.Load() }

func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := l.cur.Load()
	if l.access != nil {
		rt.serveLogged(l.access, w, r)
		return
	}
	rt.ServeHTTP(w, r)
}

// Serves reports whether the config in force has a site for host.
func (l *Live) Serves(host string) bool { return l.cur.Load().Serves(host) }
