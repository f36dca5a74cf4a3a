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
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/demo"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// placeholderSDKKey is used by the demo when ZOOM_SDK_KEY is not set: pages
// still get the loader, but Zoom's CDN will not serve an SDK for it.
const placeholderSDKKey = "DEMO_PLACEHOLDER_SDK_KEY"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the proxy (loopback)")
	admin := fs.String("admin", "127.0.0.1:9090", `address of the admin endpoints (/metrics, /healthz); "" to disable`)
	verbose := fs.Bool("v", false, "log every proxied request")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level, "text")

	key := os.Getenv("ZOOM_SDK_KEY")
	fromEnv := key != ""
	if !fromEnv {
		key = placeholderSDKKey
	}
	// The token endpoint signs with the SDK secret; without one it answers 503.
	secret := os.Getenv("ZOOM_SDK_SECRET")
	// A fresh agent access key for this run, so the agent desk can be tried.
	agentKey := token.GenerateKey()

	// The two demo upstreams, each on its own loopback port.
	shopLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo shop listener: %w", err)
	}
	widgetsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		shopLn.Close()
		return fmt.Errorf("demo widgets listener: %w", err)
	}
	l := server.Listeners{}
	if l.HTTP, err = net.Listen("tcp", *listen); err != nil {
		shopLn.Close()
		widgetsLn.Close()
		return fmt.Errorf("listen on %s: %w (choose another address with -listen)", *listen, err)
	}
	if *admin != "" {
		if l.Admin, err = net.Listen("tcp", *admin); err != nil {
			log.Warn("admin endpoints disabled: cannot listen", "addr", *admin, "error", err)
		}
	}
	_, port, _ := net.SplitHostPort(l.HTTP.Addr().String())
	shopURL := "http://shop.localhost:" + port
	widgetsURL := "http://widgets.localhost:" + port

	cfg := demoConfig(key, secret, token.HashKey(agentKey), "http://"+shopLn.Addr().String(), "http://"+widgetsLn.Addr().String())
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}

	upstreams := []*http.Server{
		{Handler: demo.Shop(log.With("upstream", "shop"), widgetsURL), ReadHeaderTimeout: 10 * time.Second},
		{Handler: demo.Widgets(log.With("upstream", "widgets")), ReadHeaderTimeout: 10 * time.Second},
	}
	for i, ln := range []net.Listener{shopLn, widgetsLn} {
		go upstreams[i].Serve(ln)
	}
	defer func() {
		for _, s := range upstreams {
			s.Close()
		}
	}()

	printDemoBanner(stdout, demoBanner{shopURL, widgetsURL, agentKey, secret != "", fromEnv}, cfg, l)

	err = serve(ctx, cfg, "", l, log)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// demoConfig is the config the demo runs with, as if read from a file.
func demoConfig(sdkKey, sdkSecret, agentKeyHash, shopUpstream, widgetsUpstream string) *config.Config {
	yes := true
	cfg := &config.Config{
		Zoom: config.Zoom{SDKKey: sdkKey, SDKSecret: sdkSecret},
		Token: config.Token{Agent: config.TokenAgent{
			Keys: []config.AgentKey{{Name: "demo-agent", Hash: agentKeyHash}},
			// Plain HTTP on loopback: the cookie cannot be Secure.
			InsecureCookie: true,
		}},
		Masking: config.Masking{
			Selectors:  []string{".pii-mask", "#ssn"},
			Attributes: []string{"data-sensitive=true"},
		},
		Sites: []config.Site{
			{
				Name:     "shop",
				Hosts:    []string{"shop.localhost", "localhost", "127.0.0.1"},
				Upstream: shopUpstream,
				Settings: config.Settings{Annotation: &config.Annotation{AllowCustomerAnnotation: &yes}},
			},
			{
				Name:     "widgets",
				Hosts:    []string{"widgets.localhost"},
				Upstream: widgetsUpstream,
			},
		},
	}
	cfg.ApplyDefaults()
	cfg.Server.ShutdownGrace = 5 * time.Second
	return cfg
}

// demoBanner is what the demo's start-up text needs to know.
type demoBanner struct {
	shopURL, widgetsURL, agentKey string
	secretSet, keyFromEnv         bool
}

// printDemoBanner tells the user where to look and what is missing.
func printDemoBanner(stdout io.Writer, b demoBanner, cfg *config.Config, l server.Listeners) {
	fmt.Fprintf(stdout, `
cobrowse-proxy demo: a demo shop behind the proxy, on loopback.

  Shop (every page gets the Cobrowse loader):  %[1]s/
  Checkout form with masked fields and a CSP:   %[1]s/checkout
  Page with an iframe from a second host:       %[1]s/iframe
  Server-sent events and websocket echo:        %[1]s/live
  gzip-compressed page:                         %[1]s/gzip
  The second host, on its own:                  %[2]s/chat
  Agent desk (access key below):                %[1]s%[3]s/agent
`, b.shopURL, b.widgetsURL, cfg.Token.Prefix)
	if l.Admin != nil {
		fmt.Fprintf(stdout, "  Metrics:                                      http://%s/metrics\n", l.Admin.Addr())
	}
	fmt.Fprintf(stdout, `
View a page's source to see <script src="%s/bootstrap.js?..."> at the top of <head>.
*.localhost names resolve to this machine in browsers; with curl use
  curl -H 'Host: shop.localhost' http://%s/
`, cfg.Token.Prefix, l.HTTP.Addr())
	fmt.Fprintf(stdout, "\nAgent access key for this run: %s\n", b.agentKey)
	if !b.secretSet {
		fmt.Fprintln(stdout, "ZOOM_SDK_SECRET is not set: the token endpoint answers 503 and the agent desk says so until it is.")
	}
	if b.keyFromEnv {
		fmt.Fprintln(stdout, "\nUsing the Zoom SDK key from ZOOM_SDK_KEY.")
	} else {
		fmt.Fprintf(stdout, "\nZOOM_SDK_KEY is not set: pages load the SDK with the placeholder key %q,\nwhich Zoom's CDN will refuse. Set ZOOM_SDK_KEY to your Cobrowse SDK key to start real sessions.\n", placeholderSDKKey)
	}
	fmt.Fprintln(stdout, "\nPress Ctrl-C to stop.")
}
