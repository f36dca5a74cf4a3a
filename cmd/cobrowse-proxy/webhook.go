package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/webhook"
)

// webhookOptions are the webhook command's settings.
type webhookOptions struct {
	certFile, keyFile string
	certReload        time.Duration
	sidecar           sidecar.Options
	log               *slog.Logger
}

// cmdWebhook serves the mutating admission webhook over TLS from
// certificate files (cert-manager's Secret, re-read when it rotates), and
// its metrics on a separate plain-HTTP listener.
func cmdWebhook(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	certFile := fs.String("cert", "", "TLS certificate file (PEM), e.g. cert-manager's tls.crt (required)")
	keyFile := fs.String("key", "", "TLS key file (PEM), e.g. tls.key (required)")
	listen := fs.String("listen", ":9443", "address of the HTTPS admission listener")
	metricsAddr := fs.String("metrics", ":9090", `address of the plain-HTTP /metrics and /healthz listener ("" for none)`)
	image := fs.String("image", sidecar.DefaultImage, "proxy image the sidecar runs")
	configMap := fs.String("config-map", sidecar.DefaultConfigMap, "default ConfigMap with config.yaml (annotation "+sidecar.AnnotationConfig+" overrides)")
	secret := fs.String("secret", sidecar.DefaultSecret, "default Secret with sdk-secret (annotation "+sidecar.AnnotationSecret+" overrides)")
	port := fs.String("port", sidecar.DefaultPort, "default name of the app port to take over (annotation "+sidecar.AnnotationPort+" overrides)")
	native := fs.Bool("native-sidecar", false, "add the proxy as a native sidecar (init container, restartPolicy Always; Kubernetes 1.29+) by default")
	namespace := fs.String("namespace", envOr("POD_NAMESPACE", "cobrowse-proxy-system"), "the webhook's own namespace, never injected (default $POD_NAMESPACE)")
	reloadEvery := fs.Duration("cert-reload-interval", config.DefaultTLSReloadInterval, "how often the certificate files are checked for a change (SIGHUP checks now)")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *certFile == "" || *keyFile == "" {
		return usageError{"-cert and -key are required (the webhook serves TLS only; the API server calls it over HTTPS)"}
	}
	if *reloadEvery <= 0 {
		return usageError{fmt.Sprintf("-cert-reload-interval %s: must be positive", *reloadEvery)}
	}
	o := webhookOptions{
		certFile: *certFile, keyFile: *keyFile, certReload: *reloadEvery,
		sidecar: sidecar.Options{
			Image: *image, ConfigMap: *configMap, Secret: *secret, Port: *port, NativeSidecar: *native,
			ExcludedNamespaces: []string{*namespace},
		},
		log: newLogger(stderr, slog.LevelInfo, *logFormat),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("-listen %s: %w", *listen, err)
	}
	var mln net.Listener
	if *metricsAddr != "" {
		if mln, err = net.Listen("tcp", *metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("-metrics %s: %w", *metricsAddr, err)
		}
	}
	return serveWebhook(ctx, o, ln, mln)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// serveWebhook serves on ln (TLS) and mln (metrics, may be nil) until ctx
// ends, then shuts both down gracefully.
func serveWebhook(ctx context.Context, o webhookOptions, ln, mln net.Listener) error {
	defer ln.Close()
	if mln != nil {
		defer mln.Close()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tm, err := tlsconf.New(ctx, tlsconf.Options{
		TLS: config.TLS{Mode: config.TLSModeFiles, Files: config.TLSFiles{
			CertFile: o.certFile, KeyFile: o.keyFile, ReloadInterval: o.certReload,
		}},
		Logger: o.log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	if err := tm.Start(ctx); err != nil {
		return err
	}
	defer tm.Close()
	m, err := webhook.NewMetrics(reg)
	if err != nil {
		return err
	}
	h := &webhook.Handler{Options: o.sidecar, Metrics: m, Log: o.log}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tm.TLSConfig(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second, // the API server waits timeoutSeconds (5) at most
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.log.Handler(), slog.LevelDebug),
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	o.log.Info("starting cobrowse-proxy webhook", "version", versionString(), "listen", ln.Addr().String(),
		"image", o.sidecar.Image, "excludedNamespaces", o.sidecar.ExcludedNamespaces)
	for {
		select {
		case <-hup:
			if err := tm.Reload(); err != nil {
				o.log.Error("tls certificate files refused; keeping the certificate in force", "error", err)
			}
			continue
		case err := <-errc:
			shutdown(servers)
			return fmt.Errorf("webhook server: %w", err)
		case <-ctx.Done():
		}
		break
	}
	shutdown(servers)
	return nil
}

func shutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Close()
		}
	}
}
