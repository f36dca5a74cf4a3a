package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/redisstore"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/reload"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
)

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to the YAML config file (default: $"+configEnv+", else "+defaultConfigPath+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		p, err := defaultConfig(os.LookupEnv, os.Stat)
		if err != nil {
			return err
		}
		*path = p
	}
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		printConfigErrors(stderr, *path, err)
		return errReported
	}
	log := newLogger(stderr, cfg.Log.SlogLevel(), cfg.Log.Format)
	for _, d := range cfg.Deprecations() {
		log.Warn("deprecated config key: still works", "key", d.Path, "note", d.Message)
	}
	l, err := server.Listen(cfg)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, *path, l, log)
}

// serve builds the handler chain for cfg and serves on l until ctx ends.
// With path set (run), the config is reloaded from it on SIGHUP, on a
// change of the file (or of its masking policy file) and on POST /-/reload
// on the admin listener; the demo passes "" and reloads nothing.
func serve(ctx context.Context, cfg *config.Config, path string, l server.Listeners, log *slog.Logger) error {
	defer l.Close()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, versionString())
	var sharedOpts []server.SharedOption
	var fr *fleet.Redis // nil: no storage.redis, every replica on its own
	if cfg.Storage.Redis.URL != "" {
		// go-redis logs through one process-wide logger (its only
		// package-level setting, which it forces on us): send its lines to
		// slog, for every client (the fleet's and the certificate storage's).
		redis.SetLogger(fleet.Logger{Log: log})
		var err error
		if fr, err = newFleet(ctx, cfg, reg, log); err != nil {
			return err
		}
		sharedOpts = append(sharedOpts, server.WithFleet(fr))
	}
	shared := server.NewShared(log, m, encoding.New(cfg.Server.Compression.EncodingOptions()), sharedOpts...)
	rt, err := shared.Build(cfg)
	if err != nil {
		return err
	}
	var access *slog.Logger
	if cfg.Log.Access {
		access = log
	}
	live := server.NewLive(rt, access)
	opts := server.Options{
		Handler:      live,
		Gather:       reg,
		Server:       cfg.Server,
		Logger:       log,
		TrustedPeers: cfg.Proxy.TrustedPrefixes(),
		Metrics:      m,
		Admin: map[string]http.Handler{
			"GET /policy":     live.PolicyHandler(),
			"GET /mask-audit": shared.Audit.Admin(),
		},
	}
	var reloader *reload.Reloader
	if path != "" {
		reloader, err = reload.New(reload.Options{
			Path: path, LookupEnv: os.LookupEnv, Current: cfg,
			Build: shared.Build, Live: live, Registerer: reg, Logger: log,
		})
		if err != nil {
			return err
		}
		opts.Admin["POST /-/reload"] = reloader.Handler()
	}
	// Background work (SIGHUP, the file watch) ends before serve returns,
	// so it never reloads a closed certificate manager.
	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	stopBgWait := sync.OnceFunc(func() { stopBg(); bg.Wait() })
	defer stopBgWait()
	var reloadCerts atomic.Pointer[func() error]
	// SIGHUP is always handled, so a reloader that sends it never kills
	// the process (the default action for SIGHUP).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg.Add(1)
	go func() {
		defer bg.Done()
		onHUP(bgCtx, hup, reloader, &reloadCerts, log)
	}()
	if reloader != nil && cfg.Reload.WatchEnabled() {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := reloader.Watch(bgCtx); err != nil {
				log.Warn("config file watch not running; reload with SIGHUP or POST /-/reload", "error", err)
			}
		}()
	}
	if l.HTTPS != nil {
		tm, err := startTLS(ctx, cfg, l, live, log, reg, fr)
		if err != nil {
			return err
		}
		defer tm.Close()
		defer stopBgWait() // before tm.Close: no reload of a closed manager
		reload := tm.Reload
		reloadCerts.Store(&reload)
		opts.TLS, opts.HTTPHandler = tm.TLSConfig(), tm.HTTPHandler
	}
	for _, s := range cfg.Sites {
		log.Info("site", "name", s.Name, "hosts", s.Hosts, "upstream", s.Upstream)
	}
	log.Info("starting cobrowse-proxy", "version", versionString(), "tls", cfg.TLS.Mode, "sdk", cfg.Zoom,
		"config_hash", shortHash(cfg.Hash), "policy_version", cfg.Masking.Policy.Version)
	return server.Serve(ctx, l, opts)
}

// newFleet connects to storage.redis for what replicas share besides
// certificates (rate limits, sign-outs, the masking audit). A Redis that does not
// answer at start is logged, not fatal: the replica serves on local state
// until it does (cobrowse_proxy_redis_up).
func newFleet(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*fleet.Redis, error) {
	client, err := redisstore.NewClient(cfg.Storage.Redis)
	if err != nil {
		return nil, fmt.Errorf("storage.redis: %w", err)
	}
	fr, err := fleet.New(client, fleet.Options{
		Prefix:     cfg.Storage.Redis.KeyPrefix + ":",
		Timeout:    cfg.Storage.Redis.Timeout,
		Registerer: reg,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("storage.redis: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := fr.Probe(pctx); err != nil {
		log.Warn("storage.redis does not answer yet; rate limits, sign-outs and the masking audit stay local until it does", "error", err)
	}
	return fr, nil
}

// onHUP handles SIGHUP until ctx ends: the config is reloaded (when serve
// has a config file) and certificate files are re-read now rather than at
// the next check.
func onHUP(ctx context.Context, hup <-chan os.Signal, r *reload.Reloader, certs *atomic.Pointer[func() error], log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if r != nil {
			log.Info("SIGHUP: reloading the config")
			r.Reload(reload.TriggerSignal)
		}
		if reload := certs.Load(); reload == nil {
			if r == nil {
				log.Info("SIGHUP: nothing to reload (no config file)")
			}
		} else if err := (*reload)(); err != nil {
			log.Error("SIGHUP: certificate files refused; keeping the certificate in force", "error", err)
		} else {
			log.Info("SIGHUP: certificate files checked")
		}
	}
}

// startTLS starts the certificate manager for the HTTPS listener. The
// listeners are bound, so a CA can already validate through them.
// Readiness does not wait for certificates: a replica that is not ready
// gets no traffic, including the CA's validation requests.
func startTLS(ctx context.Context, cfg *config.Config, l server.Listeners, live *server.Live, log *slog.Logger, reg prometheus.Registerer, fr *fleet.Redis) (*tlsconf.Manager, error) {
	httpAddr := ""
	if l.HTTP != nil {
		httpAddr = l.HTTP.Addr().String()
	}
	redirectPort := ""
	if cfg.TLS.RedirectPort != 0 {
		redirectPort = strconv.Itoa(cfg.TLS.RedirectPort)
	}
	tm, err := tlsconf.New(ctx, tlsconf.Options{
		TLS:          cfg.TLS,
		Redis:        cfg.Storage.Redis,
		Fleet:        fr,
		Names:        tlsconf.SiteHosts(cfg.Sites),
		HTTPAddr:     httpAddr,
		HTTPSAddr:    l.HTTPS.Addr().String(),
		RedirectPort: redirectPort,
		Serves:       live.Serves,
		Logger:       log,
		Registerer:   reg,
	})
	if err != nil {
		return nil, err
	}
	if err := tm.Start(ctx); err != nil {
		tm.Close()
		return nil, err
	}
	return tm, nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to the YAML config file (required unless -policy)")
	policyPath := fs.String("policy", "", "check this masking policy file on its own (the security team's CI)")
	allowMissingEnv := fs.Bool("allow-missing-env", false,
		"check the structure even where ${VARS} are not set (CI without the secrets): report them as warnings, not errors")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *policyPath != "" {
		if *path != "" {
			return usageError{"give -config or -policy, not both (a config's policyFile is checked with -config)"}
		}
		return validatePolicy(*policyPath, stdout, stderr)
	}
	if *path == "" {
		return usageError{"-config FILE or -policy FILE is required"}
	}
	var cfg *config.Config
	var err error
	if *allowMissingEnv {
		var unset config.Errors
		cfg, unset, err = config.LoadAllowingMissingEnv(*path, os.LookupEnv)
		if len(unset) > 0 {
			fmt.Fprintf(stderr, "%s: %d unset environment variable(s), allowed by -allow-missing-env (run needs them):\n", *path, len(unset))
			for _, e := range unset {
				fmt.Fprintf(stderr, "  %s\n", e.Error())
			}
		}
	} else {
		cfg, err = config.Load(*path, os.LookupEnv)
	}
	if err != nil {
		printConfigErrors(stderr, *path, err)
		return errReported
	}
	hosts := 0
	for _, s := range cfg.Sites {
		hosts += len(s.Hosts)
	}
	fmt.Fprintf(stdout, "%s: OK (%d sites, %d hosts, tls %s)\n", *path, len(cfg.Sites), hosts, cfg.TLS.Mode)
	if p := cfg.Masking.PolicyFile; p != "" {
		fmt.Fprintf(stdout, "%s: OK (policy version %s, %d selectors, %d attributes)\n", p, cfg.Masking.Policy.Version, len(cfg.Masking.Policy.Selectors), len(cfg.Masking.Policy.Attributes))
	}
	printDeprecations(stderr, *path, cfg)
	return nil
}

// validatePolicy checks a masking policy file alone.
func validatePolicy(path string, stdout, stderr io.Writer) error {
	p, err := config.LoadPolicy(path)
	if err != nil {
		printConfigErrors(stderr, path, err)
		return errReported
	}
	fmt.Fprintf(stdout, "%s: OK (policy version %s, %d selectors, %d attributes)\n", path, p.Version, len(p.Selectors), len(p.Attributes))
	return nil
}

// cmdPolicy prints the effective masking policy per site, built the way
// run builds it, so it is exactly what bootstrap.js carries.
func cmdPolicy(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to the YAML config file (required)")
	site := fs.String("site", "", "print only this site (its name)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"-config FILE is required"}
	}
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		printConfigErrors(stderr, *path, err)
		return errReported
	}
	rt, err := server.NewHandler(cfg, nil, metrics.New(prometheus.NewRegistry(), versionString()), encoding.New(cfg.Server.Compression.EncodingOptions()))
	if err != nil {
		return err
	}
	v := rt.Policy()
	if *site != "" {
		var ok bool
		if v, ok = v.Site(*site); !ok {
			names := make([]string, len(cfg.Sites))
			for i, s := range cfg.Sites {
				names[i] = s.Name
			}
			return fmt.Errorf("-site %q: no such site (sites: %s)", *site, strings.Join(names, ", "))
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printDeprecations lists the keys that still work but are deprecated
// (config.Deprecations), one per line; they never fail validate.
func printDeprecations(w io.Writer, path string, cfg *config.Config) {
	if ds := cfg.Deprecations(); len(ds) > 0 {
		fmt.Fprintf(w, "%s: %d warning(s):\n", path, len(ds))
		for _, d := range ds {
			fmt.Fprintf(w, "  %s\n", d.Error())
		}
	}
}

// printConfigErrors lists every problem in the config, one per line.
func printConfigErrors(w io.Writer, path string, err error) {
	var es config.Errors
	if errors.As(err, &es) {
		fmt.Fprintf(w, "%s: %d problem(s):\n", path, len(es))
		for _, e := range es {
			fmt.Fprintf(w, "  %s\n", e.Error())
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", path, err)
}
