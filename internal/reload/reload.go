// Package reload keeps the config in force current without a restart, the
// way Prometheus and Caddy do: it re-reads the config file (and the
// masking policy file) on SIGHUP, when their directories change (a
// Kubernetes ConfigMap update swaps a ..data symlink, which a watch on the
// file itself would miss) and on POST /-/reload; it loads, validates and
// builds the new config completely, and only then swaps it in. A config
// that fails changes nothing: every problem is logged with its field path
// and the last good config keeps serving.
package reload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
)

// Triggers of a reload: the fixed label set of reloads_total.
const (
	TriggerSignal = "signal"
	TriggerFile   = "file"
	TriggerAPI    = "api"
)

// Options configure a Reloader.
type Options struct {
	// Path is the config file.
	Path string
	// LookupEnv expands ${NAME} (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Current is the config in force, already serving through Live.
	Current *config.Config
	// Build builds a router from a validated config (server.Shared.Build).
	Build func(*config.Config) (*server.Router, error)
	// Live is the handler whose router a successful reload replaces.
	Live *server.Live
	// Registerer receives the reload metrics.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Debounce is how long the file watch waits for more changes before
	// reloading (default 500ms): an editor or the kubelet writes in steps.
	Debounce time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Reloader reloads the config. Reloads are serialized.
type Reloader struct {
	o   Options
	log *slog.Logger

	mu  sync.Mutex
	cur *config.Config
	// started is the config the process started with: the listeners, TLS
	// and the logger were set up from it and stay as they are.
	started *config.Config
	// lastTried is the sources' hash of the last reload attempt, so that a
	// watch event that changes nothing (or a broken file seen again) does
	// not reload or log again.
	lastTried string

	// watching is set once Watch has added its directories (for tests).
	watching atomic.Bool

	successful, successTime, restartNeeded prometheus.Gauge
	info                                   *prometheus.GaugeVec
	reloads                                *prometheus.CounterVec
}

// New returns a Reloader for o.Current and registers its metrics.
func New(o Options) (*Reloader, error) {
	if o.Path == "" || o.Current == nil || o.Build == nil || o.Live == nil {
		return nil, errors.New("reload: Path, Current, Build and Live are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Debounce <= 0 {
		o.Debounce = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Reloader{
		o: o, log: o.Logger, cur: o.Current, started: o.Current,
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobrowse_proxy_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt succeeded (1) or was refused (0).",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobrowse_proxy_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration load (start-up or reload).",
		}),
		restartNeeded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobrowse_proxy_config_restart_required",
			Help: "1 when the config in force changed settings that apply only after a restart (listen, tls, server, log, storage).",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cobrowse_proxy_config_info",
			Help: "Always 1; the labels identify the config file and masking policy file in force (compare them across a fleet to find drift).",
		}, []string{"config_hash", "policy_hash", "policy_version"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_config_reloads_total",
			Help: "Configuration reload attempts by trigger (signal, file, api) and result (success, failure).",
		}, []string{"trigger", "result"}),
	}
	if o.Registerer != nil {
		if err := registerAll(o.Registerer, r.successful, r.successTime, r.restartNeeded, r.info, r.reloads); err != nil {
			return nil, fmt.Errorf("reload metrics: %w", err)
		}
	}
	r.successful.Set(1)
	r.successTime.Set(float64(o.Now().UnixNano()) / 1e9)
	r.setInfo(o.Current)
	r.lastTried = sourcesHash(o.Path, o.Current)
	return r, nil
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// NeedsRestart lists the sections of the config in force that differ from
// the ones the process started with and apply only after a restart.
func (r *Reloader) NeedsRestart() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return NeedsRestart(r.started, r.cur)
}

// Current returns the config in force.
func (r *Reloader) Current() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Reload loads the config file again and swaps it in when it loads,
// validates and builds; otherwise it logs every problem, keeps the config
// in force and returns the error (config.Errors for validation problems).
func (r *Reloader) Reload(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(trigger)
}

// TryReload is Reload, unless a reload is already running: then it
// returns ErrBusy at once (the API does not queue callers).
func (r *Reloader) TryReload(trigger string) error {
	if !r.mu.TryLock() {
		return ErrBusy
	}
	defer r.mu.Unlock()
	return r.reload(trigger)
}

// ErrBusy: another reload is running.
var ErrBusy = errors.New("a reload is already in progress")

func (r *Reloader) reload(trigger string) error {
	r.lastTried = sourcesHash(r.o.Path, r.cur)
	cfg, err := config.Load(r.o.Path, r.o.LookupEnv)
	if err == nil {
		r.lastTried = sourcesHash(r.o.Path, cfg)
		var rt *server.Router
		if rt, err = r.o.Build(cfg); err == nil {
			r.swap(trigger, cfg, rt)
			return nil
		}
	}
	r.successful.Set(0)
	r.reloads.WithLabelValues(trigger, "failure").Inc()
	attrs := []any{"trigger", trigger, "file", r.o.Path}
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			r.log.Error("config reload refused", append(attrs, "problem", e.Error())...)
		}
		r.log.Error("config reload refused; the last good config keeps serving", append(attrs, "problems", len(es))...)
		return err
	}
	r.log.Error("config reload refused; the last good config keeps serving", append(attrs, "error", err)...)
	return err
}

func (r *Reloader) swap(trigger string, cfg *config.Config, rt *server.Router) {
	old := r.cur
	r.o.Live.Swap(rt)
	r.cur = cfg
	r.successful.Set(1)
	r.successTime.Set(float64(r.o.Now().UnixNano()) / 1e9)
	r.reloads.WithLabelValues(trigger, "success").Inc()
	r.setInfo(cfg)
	added, removed := siteChanges(old, cfg)
	attrs := []any{"trigger", trigger, "config_hash", short(cfg.Hash), "sites", len(cfg.Sites)}
	if cfg.Masking.PolicyFile != "" {
		attrs = append(attrs, "policy_version", cfg.Masking.Policy.Version, "policy_hash", short(cfg.Masking.Policy.Hash))
	}
	if len(added) > 0 {
		attrs = append(attrs, "sites_added", added)
	}
	if len(removed) > 0 {
		attrs = append(attrs, "sites_removed", removed)
	}
	r.log.Info("config reloaded", attrs...)
	if hosts := newACMEHosts(r.started, cfg); len(hosts) > 0 {
		r.log.Warn("new hosts are served now, but get ACME certificates only after a restart (unless tls.acme.onDemand allows them)", "hosts", hosts)
	}
	if keys := NeedsRestart(r.started, cfg); len(keys) > 0 {
		r.restartNeeded.Set(1)
		r.log.Warn("config reloaded, but these settings differ from the ones the process started with and need a restart to apply; it keeps the old values",
			"keys", keys)
	} else {
		r.restartNeeded.Set(0)
	}
}

func (r *Reloader) setInfo(cfg *config.Config) {
	r.info.Reset()
	r.info.WithLabelValues(cfg.Hash, cfg.Masking.Policy.Hash, cfg.Masking.Policy.Version).Set(1)
}

// NeedsRestart lists the top-level config sections that differ between
// old and next and that a reload cannot apply: the listeners, TLS, the
// HTTP server's limits, the logger and the Redis connection are set up
// once at start.
func NeedsRestart(old, next *config.Config) []string {
	var keys []string
	for _, c := range []struct {
		key  string
		a, b any
	}{
		{"listen", old.Listen, next.Listen},
		{"tls", old.TLS, next.TLS},
		{"server", old.Server, next.Server},
		{"log", old.Log, next.Log},
		{"storage", old.Storage, next.Storage},
	} {
		if !reflect.DeepEqual(c.a, c.b) {
			keys = append(keys, c.key)
		}
	}
	return keys
}

// newACMEHosts lists the exact host names of next that the process did
// not start with, when it gets its certificates by ACME: the certificate
// manager obtains certificates for the names it started with.
func newACMEHosts(started, next *config.Config) []string {
	if started.TLS.Mode != config.TLSModeACME {
		return nil
	}
	had := map[string]bool{}
	for _, h := range tlsconf.SiteHosts(started.Sites) {
		had[h] = true
	}
	var out []string
	for _, h := range tlsconf.SiteHosts(next.Sites) {
		if !had[h] {
			out = append(out, h)
		}
	}
	return out
}

// siteChanges names the sites only in next (added) and only in old.
func siteChanges(old, next *config.Config) (added, removed []string) {
	in := func(c *config.Config, name string) bool {
		for _, s := range c.Sites {
			if s.Name == name {
				return true
			}
		}
		return false
	}
	for _, s := range next.Sites {
		if !in(old, s.Name) {
			added = append(added, s.Name)
		}
	}
	for _, s := range old.Sites {
		if !in(next, s.Name) {
			removed = append(removed, s.Name)
		}
	}
	return added, removed
}

// sourcesHash is the hash of the config file's and the policy file's
// current bytes (the policy file named by cfg): it changes exactly when a
// reload could load something different.
func sourcesHash(path string, cfg *config.Config) string {
	h := sha256.New()
	for _, p := range []string{path, cfg.Masking.PolicyFile} {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(h, "error:%v", err)
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Signals reloads on every value from sig until ctx ends; extra, when set,
// runs after each reload (certificate files on SIGHUP).
func (r *Reloader) Signals(ctx context.Context, sig <-chan os.Signal, extra func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			r.log.Info("SIGHUP: reloading the config")
			r.Reload(TriggerSignal)
			if extra != nil {
				extra()
			}
		}
	}
}
