package server

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/inject"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/web"
)

// sensitiveInputs are masked when masking.autoMaskSensitiveInputs is on:
// fields whose autocomplete hints say they hold secrets or payment data.
var sensitiveInputs = []string{
	`input[type="password"]`,
	`input[autocomplete^="cc-"]`,
	`input[autocomplete="one-time-code"]`,
}

// NewHandler builds the public handler (router, reserved prefix, proxy)
// from a validated config.
func NewHandler(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, codecs *encoding.Codecs) (http.Handler, error) {
	p := proxy.New(proxy.Options{
		Logger:  log,
		Metrics: m,
		Codecs:  codecs,
		Transport: proxy.NewTransport(proxy.TransportOptions{
			DialTimeout:           cfg.Proxy.DialTimeout,
			TLSHandshakeTimeout:   cfg.Proxy.TLSHandshakeTimeout,
			ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout,
			IdleConnTimeout:       cfg.Proxy.IdleConnTimeout,
			MaxIdleConnsPerHost:   cfg.Proxy.MaxIdleConnsPerHost,
		}),
		TrustedProxies: cfg.Proxy.TrustedPrefixes(),
		MaxScan:        cfg.Proxy.MaxScanBytes,
	})
	prefix := cfg.Token.Prefix
	markers := [][]byte{[]byte(prefix + "/bootstrap.js")}
	if cdn, err := url.Parse(cfg.Zoom.CDN); err == nil && cdn.Host != "" {
		markers = append(markers, []byte(cdn.Host+cdn.Path+"/"))
	}
	hosts := map[string]*Site{}
	for i := range cfg.Sites {
		sc := &cfg.Sites[i]
		site, err := buildSite(cfg, i, markers, codecs)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", sc.Name, err)
		}
		for _, h := range sc.Hosts {
			hosts[h] = site
		}
	}
	return NewRouter(RouterOptions{
		Prefix:            prefix,
		UnknownHostStatus: cfg.Proxy.UnknownHostStatus,
		Proxy:             p,
		Metrics:           m,
		Logger:            log,
	}, hosts), nil
}

func buildSite(cfg *config.Config, i int, markers [][]byte, codecs *encoding.Codecs) (*Site, error) {
	sc := &cfg.Sites[i]
	upstream, err := url.Parse(sc.Upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", sc.Upstream, err)
	}
	bs, err := web.NewBootstrap(web.BootstrapConfig{
		SDKURL:   cfg.Zoom.SDKURL(),
		Prefix:   cfg.Token.Prefix,
		Settings: InitSettings(cfg, i),
	}, codecs)
	if err != nil {
		return nil, err
	}
	tag := `<script src="` + html.EscapeString(cfg.Token.Prefix+"/bootstrap.js?v="+bs.Version()) + `"></script>`
	include, exclude := sc.Inject.Include, sc.Inject.Exclude
	var allowed func(string) bool
	if len(include) > 0 || len(exclude) > 0 {
		allowed = func(p string) bool { return pathAllowed(include, exclude, p) }
	}
	return &Site{
		Proxy: &proxy.Site{
			Name:         sc.Name,
			Upstream:     upstream,
			PreserveHost: sc.PreserveHost == nil || *sc.PreserveHost,
			Policy: inject.Policy{
				Enabled:     sc.Inject.Enabled == nil || *sc.Inject.Enabled,
				Iframes:     sc.Inject.Iframes == nil || *sc.Inject.Iframes,
				PathAllowed: allowed,
			},
			Tag:     []byte(tag),
			Markers: markers,
		},
		Bootstrap: bs,
	}, nil
}

// pathAllowed: with include patterns, only matching paths; never a path
// that matches an exclude pattern.
func pathAllowed(include, exclude []string, p string) bool {
	for _, pat := range exclude {
		if config.MatchPath(pat, p) {
			return false
		}
	}
	if len(include) == 0 {
		return true
	}
	for _, pat := range include {
		if config.MatchPath(pat, p) {
			return true
		}
	}
	return false
}

// InitSettings returns the settings passed to ZoomCobrowseSDK.init for site
// i: the site's settings with the masking policy (central plus site, never
// less than central) as piiMask.
func InitSettings(cfg *config.Config, i int) map[string]any {
	settings := cfg.Sites[i].Settings.InitSettings()
	if settings == nil {
		settings = map[string]any{}
	}
	selectors, attributes := cfg.SiteMask(i)
	if a := cfg.Masking.AutoMaskSensitiveInputs; a == nil || *a {
		selectors = append(append([]string(nil), selectors...), sensitiveInputs...)
	}
	if len(selectors) > 0 || len(attributes) > 0 {
		mask := map[string]any{"maskType": "custom_input"}
		if len(selectors) > 0 {
			mask["maskCssSelectors"] = strings.Join(selectors, ", ")
		}
		if len(attributes) > 0 {
			mask["maskHTMLAttributes"] = strings.Join(attributes, ",")
		}
		settings["piiMask"] = mask
	}
	return settings
}
