package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
)

// Listeners are the sockets the server serves on. HTTPS is nil in plain
// mode; Admin may be nil to serve no admin endpoints.
type Listeners struct {
	HTTP, HTTPS, Admin net.Listener
}

// Listen opens the listeners the config asks for.
func Listen(cfg *config.Config) (Listeners, error) {
	var l Listeners
	var err error
	open := func(addr, what string) net.Listener {
		if err != nil || addr == "" {
			return nil
		}
		var ln net.Listener
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			err = fmt.Errorf("listen on %s (listen.%s): %w", addr, what, err)
		}
		return ln
	}
	l.HTTP = open(cfg.Listen.HTTP, "http")
	if cfg.TLS.Mode != config.TLSModeOff {
		l.HTTPS = open(cfg.Listen.HTTPS, "https")
	}
	l.Admin = open(cfg.Listen.Admin, "admin")
	if err != nil {
		l.Close()
		return Listeners{}, err
	}
	return l, nil
}

// Close closes every open listener.
func (l Listeners) Close() {
	for _, ln := range []net.Listener{l.HTTP, l.HTTPS, l.Admin} {
		if ln != nil {
			ln.Close()
		}
	}
}

// Options configure Serve.
type Options struct {
	Handler http.Handler        // the public handler (see NewHandler)
	TLS     *tls.Config         // required when Listeners.HTTPS is set
	Gather  prometheus.Gatherer // for /metrics
	Server  config.Server       // timeouts and the shutdown grace period
	Logger  *slog.Logger
	// HTTPHandler wraps the plain-HTTP listener's handler when there is an
	// HTTPS listener: ACME challenges, then a redirect to HTTPS
	// (tlsconf.Manager.HTTPHandler).
	HTTPHandler func(http.Handler) http.Handler
	// TrustedPeers are exempt from Server.MaxConnsPerClient: an ingress or
	// load balancer (proxy.trustedProxies) carries many clients.
	TrustedPeers []netip.Prefix
	// Metrics, if set, counts connections refused by the per-client limit.
	Metrics *metrics.Metrics
	// Admin are more admin listener routes, by ServeMux pattern
	// ("POST /-/reload", "GET /policy").
	Admin map[string]http.Handler
}

// Serve serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting, reports not ready, and waits up to Server.ShutdownGrace for
// in-flight requests before closing what is left. With an HTTPS listener,
// the HTTP listener only redirects to HTTPS.
func Serve(ctx context.Context, l Listeners, o Options) error {
	log := o.Logger
	var ready atomic.Bool
	all := servers(ctx, l, o, &ready)
	if len(all) == 0 {
		return errors.New("no listener to serve on")
	}
	errc := make(chan error, len(all))
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if s.tls {
				err = s.srv.ServeTLS(s.ln, "", "")
			} else {
				err = s.srv.Serve(s.ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", s.ln.Addr(), err)
			}
		}()
		log.Info("listening", "addr", s.ln.Addr().String(), "tls", s.tls)
	}
	ready.Store(true)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	ready.Store(false)
	if d := o.Server.DrainDelay; d > 0 && serveErr == nil {
		// Still serving while the endpoint leaves the load balancer; a
		// listener that fails meanwhile ends the wait.
		log.Info("draining: not ready, still serving", "for", d.String())
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case serveErr = <-errc:
			t.Stop()
		}
	}
	shutdownAll(all, o.Server.ShutdownGrace, log)
	wg.Wait()
	return serveErr
}

// served is one listener with its server.
type served struct {
	srv   *http.Server
	ln    net.Listener
	tls   bool
	admin bool
}

// servers builds a server per open listener, the public ones wrapped by the
// accept-error logger and the per-client connection limit.
func servers(ctx context.Context, l Listeners, o Options, ready *atomic.Bool) []served {
	log := o.Logger
	newServer := func(h http.Handler, name string) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: o.Server.ReadHeaderTimeout,
			ReadTimeout:       o.Server.ReadTimeout,
			WriteTimeout:      o.Server.WriteTimeout,
			IdleTimeout:       o.Server.IdleTimeout,
			MaxHeaderBytes:    o.Server.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.With("listener", name).Handler(), slog.LevelDebug),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
	}
	var all []served
	if l.HTTPS != nil {
		s := newServer(o.Handler, "https")
		s.TLSConfig = o.TLS
		all = append(all, served{s, l.HTTPS, true, false})
		if l.HTTP != nil {
			h := o.Handler
			if o.HTTPHandler != nil {
				h = o.HTTPHandler(h)
			}
			all = append(all, served{newServer(h, "http"), l.HTTP, false, false})
		}
	} else if l.HTTP != nil {
		all = append(all, served{newServer(o.Handler, "http"), l.HTTP, false, false})
	}
	if l.Admin != nil {
		all = append(all, served{newServer(adminHandler(o.Gather, ready, o.Admin), "admin"), l.Admin, false, true})
	}
	for i := range all {
		all[i].ln = newAcceptLogger(all[i].ln, all[i].ln.Addr().String(), log)
	}
	if max := o.Server.MaxConnsPerClient; max > 0 {
		var refused prometheus.Counter
		if o.Metrics != nil {
			refused = o.Metrics.ConnsRefused
		}
		for i := range all {
			if !all[i].admin {
				all[i].ln = newClientListener(all[i].ln, max, o.TrustedPeers, refused, log)
			}
		}
	}
	return all
}

// shutdownAll shuts the public listeners down at once, under one grace
// period, then the admin listener, so /readyz keeps saying "not ready"
// while they drain.
func shutdownAll(all []served, grace time.Duration, log *slog.Logger) {
	log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	shutdown := func(s served) {
		if err := s.srv.Shutdown(sctx); err != nil {
			log.Warn("grace period over; closing remaining connections", "addr", s.ln.Addr().String(), "error", err)
			s.srv.Close()
		}
	}
	var swg sync.WaitGroup
	for _, s := range all {
		if s.admin {
			continue
		}
		swg.Add(1)
		go func() { defer swg.Done(); shutdown(s) }()
	}
	swg.Wait()
	for _, s := range all {
		if s.admin {
			shutdown(s)
		}
	}
}

func adminHandler(g prometheus.Gatherer, ready *atomic.Bool, more map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range more {
		mux.Handle(pattern, h)
	}
	if g != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}
