package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
)

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to the YAML config file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"-config FILE is required (see config.example.yaml)"}
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
	return serve(ctx, cfg, l, log)
}

// serve builds the handler chain for cfg and serves on l until ctx ends.
func serve(ctx context.Context, cfg *config.Config, l server.Listeners, log *slog.Logger) error {
	defer l.Close()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, versionString())
	handler, err := server.NewHandler(cfg, log, m, encoding.New(encoding.Options{}))
	if err != nil {
		return err
	}
	opts := server.Options{
		Handler:      handler,
		Gather:       reg,
		Server:       cfg.Server,
		Logger:       log,
		TrustedPeers: cfg.Proxy.TrustedPrefixes(),
		Metrics:      m,
	}
	if cfg.Log.Access {
		opts.Handler = handler.WithAccessLog(log)
	}
	// SIGHUP re-reads certificate files now rather than at the next check.
	// It is always handled, so a reloader that sends it never kills the
	// process (the default action for SIGHUP); the goroutine ends before
	// serve returns, so it never reloads a closed manager.
	var reloadCerts atomic.Pointer[func() error]
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	hupCtx, stopHup := context.WithCancel(ctx)
	hupDone := make(chan struct{})
	stopHupWait := sync.OnceFunc(func() { signal.Stop(hup); stopHup(); <-hupDone })
	defer stopHupWait()
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				reload := reloadCerts.Load()
				if reload == nil {
					log.Info("SIGHUP: nothing to reload in this version (certificate files are re-read only with tls.mode files; config changes need a restart)")
				} else if err := (*reload)(); err != nil {
					log.Error("SIGHUP: certificate files refused; keeping the certificate in force", "error", err)
				} else {
					log.Info("SIGHUP: certificate files checked")
				}
			}
		}
	}()
	if l.HTTPS != nil {
		httpAddr := ""
		if l.HTTP != nil {
			httpAddr = l.HTTP.Addr().String()
		}
		redirectPort := ""
		if cfg.TLS.RedirectPort != 0 {
			redirectPort = strconv.Itoa(cfg.TLS.RedirectPort)
		}
		m, err := tlsconf.New(ctx, tlsconf.Options{
			TLS:          cfg.TLS,
			Names:        tlsconf.SiteHosts(cfg.Sites),
			HTTPAddr:     httpAddr,
			HTTPSAddr:    l.HTTPS.Addr().String(),
			RedirectPort: redirectPort,
			Serves:       handler.Serves,
			Logger:       log,
			Registerer:   reg,
		})
		if err != nil {
			return err
		}
		defer m.Close()
		defer stopHupWait() // before m.Close: no reload of a closed manager
		reload := m.Reload
		reloadCerts.Store(&reload)
		// The listeners are bound, so a CA can already validate through
		// them. Readiness does not wait for certificates: a replica that is
		// not ready gets no traffic, including the CA's validation requests.
		if err := m.Start(ctx); err != nil {
			return err
		}
		opts.TLS, opts.HTTPHandler = m.TLSConfig(), m.HTTPHandler
	}
	for _, s := range cfg.Sites {
		log.Info("site", "name", s.Name, "hosts", s.Hosts, "upstream", s.Upstream)
	}
	log.Info("starting cobrowse-proxy", "version", versionString(), "tls", cfg.TLS.Mode, "sdk", cfg.Zoom)
	return server.Serve(ctx, l, opts)
}

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to the YAML config file (required)")
	allowMissingEnv := fs.Bool("allow-missing-env", false,
		"check the structure even where ${VARS} are not set (CI without the secrets): report them as warnings, not errors")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"-config FILE is required"}
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
	printDeprecations(stderr, *path, cfg)
	return nil
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
