package server

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/inject"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/maskaudit"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
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
// from a validated config, for a process that never reloads it (tests);
// see Shared.Build.
func NewHandler(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, codecs *encoding.Codecs) (*Router, error) {
	return NewShared(log, m, codecs).Build(cfg)
}

// Build builds the public handler (router, reserved prefix, proxy) from a
// validated config. It starts nothing and changes nothing in force: a
// reload calls it, and swaps the result in (Live) only when it succeeds.
func (sh *Shared) Build(cfg *config.Config) (*Router, error) {
	log, m, codecs, cspMetrics := sh.Log, sh.Metrics, sh.Codecs, sh.cspMetrics
	p := proxy.New(proxy.Options{
		Logger:              log,
		Metrics:             m,
		Codecs:              codecs,
		Transport:           sh.upstreamTransport(cfg),
		TrustedProxies:      cfg.Proxy.TrustedPrefixes(),
		MaxScan:             cfg.Proxy.MaxScanBytes,
		CSPMetrics:          cspMetrics,
		IdentityHeaders:     []string{cfg.Token.Agent.Identity.Header, cfg.Token.Agent.Identity.NameHeader},
		UpstreamIdleTimeout: cfg.Proxy.UpstreamIdleTimeout,
		UpstreamPlain:       cfg.Proxy.AskUpstreamPlain(),
	})
	tokens, err := sh.newTokenService(cfg, p)
	if err != nil {
		return nil, err
	}
	desk := &web.Desk{
		Prefix:   cfg.Token.Prefix,
		DeskURL:  web.DeskURLFor(cfg.Zoom.CDN),
		Auth:     tokens.Agents,
		KeyLogin: len(cfg.Token.Agent.Keys) > 0,
	}
	prefix := cfg.Token.Prefix
	markers := [][]byte{[]byte(prefix + "/bootstrap.js")}
	if cdn, err := url.Parse(cfg.Zoom.CDN); err == nil && cdn.Host != "" {
		markers = append(markers, []byte(cdn.Host+cdn.Path+"/"))
	}
	hosts := map[string]*Site{}
	bootstraps := make([]*web.Bootstrap, len(cfg.Sites))
	for i := range cfg.Sites {
		sc := &cfg.Sites[i]
		site, err := buildSite(cfg, i, markers, codecs)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", sc.Name, err)
		}
		bootstraps[i], _ = site.Endpoints["/bootstrap.js"].(*web.Bootstrap)
		if auditOn(cfg) {
			site.Endpoints["/mask-report"] = sh.Audit.Handler(sc.Name, maskaudit.HandlerOptions{
				Scheme:     p.Scheme,
				ClientAddr: p.ClientAddr,
			})
			if s := bootstraps[i].AuditScript(); s != nil {
				site.Endpoints[web.AuditScriptPath] = s
			}
		}
		if site.Proxy.CSP != nil {
			site.Endpoints["/csp-report"] = &csp.ReportHandler{
				Site:       sc.Name,
				Sources:    site.cspSources,
				KnownHosts: cdnHosts(cfg.Zoom.CDN),
				Prefix:     prefix,
				Metrics:    cspMetrics,
				Logger:     log,
				ClientAddr: p.ClientAddr,
				Redis:      sh.fleet,
			}
		}
		for _, h := range sc.Hosts {
			hosts[h] = site
		}
	}
	rt := NewRouter(RouterOptions{
		Prefix:            prefix,
		UnknownHostStatus: cfg.Proxy.UnknownHostStatus,
		Proxy:             p,
		Metrics:           m,
		Logger:            log,
		Endpoints: map[string]http.Handler{
			"/token":        tokens.Token,
			"/agent":        desk,
			"/agent/login":  tokens.Login,
			"/agent/logout": tokens.Logout,
		},
	}, hosts)
	rt.policy = policyView(cfg, bootstraps)
	return rt, nil
}

// SecretSource returns the SDK secret's source: zoom.sdkSecretFile, re-read
// whenever it changes (so a rotated Kubernetes Secret needs no restart), or
// the value of zoom.sdkSecret.
func SecretSource(cfg *config.Config) token.SecretSource {
	if cfg.Zoom.SDKSecretFile != "" {
		return token.NewFileSecret(cfg.Zoom.SDKSecretFile, 0, nil)
	}
	return token.StaticSecret(cfg.Zoom.SDKSecret)
}

// newTokenService builds the token endpoint and agent authentication. The
// SDK secret is read from zoom.sdkSecretFile on every change (rotation
// without restart) or taken from zoom.sdkSecret; without either, token
// requests get 503 and the log says why.
func (sh *Shared) newTokenService(cfg *config.Config, p *proxy.Proxy) (*token.Service, error) {
	log := sh.Log
	secret := SecretSource(cfg)
	if fs, ok := secret.(*token.FileSecret); ok {
		fs.Log = log // a too-short rotated secret is refused with an error line
	}
	if cfg.Zoom.SDKSecretFile == "" && cfg.Zoom.SDKSecret == "" {
		log.Warn("zoom.sdkSecret is not set: the token endpoint answers 503 until it is (set zoom.sdkSecretFile or ${ZOOM_SDK_SECRET})")
	}
	rate := func(r config.RateLimit) token.RateLimit {
		return token.RateLimit{Every: r.Every, Burst: r.Burst, MaxClients: r.MaxClients}
	}
	a := cfg.Token.Agent
	keys := make([]token.AgentKey, len(a.Keys))
	for i, k := range a.Keys {
		keys[i] = token.AgentKey{Name: k.Name, DisplayName: k.DisplayName, Hash: k.Hash}
	}
	var sessionKey []byte
	if a.SessionKey != "" {
		sessionKey = []byte(a.SessionKey)
	}
	svc, err := token.New(token.Options{
		Prefix:       cfg.Token.Prefix,
		SDKKey:       cfg.Zoom.SDKKey,
		Secret:       secret,
		TTL:          cfg.Token.TTL,
		MaxBodyBytes: int64(cfg.Token.MaxBodyBytes),
		BYOP:         cfg.Token.BYOP,
		CustomerRate: rate(cfg.Token.Customer.Rate),
		Redis:        sh.fleet,
		Agent: token.AgentOptions{
			Keys:           keys,
			Identity:       token.IdentityHeader{Header: a.Identity.Header, NameHeader: a.Identity.NameHeader, From: a.Identity.FromPrefixes()},
			SessionTTL:     a.SessionTTL,
			SessionKey:     sessionKey,
			InsecureCookie: a.InsecureCookie,
			Rate:           rate(a.Rate),
			IdentityRate:   rate(a.IdentityRate),
			Revoked:        sh.revoked,
		},
		Scheme:     p.Scheme,
		ClientAddr: p.ClientAddr,
		Logger:     log,
		Metrics:    sh.tokenMetrics,
	})
	if err != nil {
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	return svc, nil
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
		Widget: web.Widget{
			Enabled:  sc.Widget.Enabled == nil || *sc.Widget.Enabled,
			Position: sc.Widget.Position,
			Label:    sc.Widget.Label,
		},
		Audit: web.Audit{
			Enabled:    auditOn(cfg),
			SampleRate: auditRate(cfg),
			ReportURL:  cfg.Token.Prefix + "/mask-report",
		},
	}, codecs)
	if err != nil {
		return nil, err
	}
	var cspSite *proxy.CSP
	var cspSources csp.Sources
	if sc.CSP.Mode != config.CSPModeOff {
		cspSources = csp.DefaultSources().With(sc.CSP.ExtraSources)
		opts := csp.MergeOptions{
			Sources:      cspSources,
			Prefix:       cfg.Token.Prefix,
			NewNonce:     csp.NewNonce,
			AlwaysReport: sc.CSP.AlwaysReport,
		}
		if sc.CSP.ReportURI == nil || *sc.CSP.ReportURI {
			opts.ReportURI = cfg.Token.Prefix + "/csp-report"
		}
		cspSite = &proxy.CSP{Merger: csp.NewMerger(opts), Baseline: sc.CSP.Baseline}
	}
	src := cfg.Token.Prefix + "/bootstrap.js?v=" + bs.Version()
	tag := `<script src="` + html.EscapeString(src) + `"></script>`
	frameTag := `<script src="` + html.EscapeString(src+"&frame=1") + `"></script>`
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
			Tag:               []byte(tag),
			FrameTag:          []byte(frameTag),
			Markers:           markers,
			CSP:               cspSite,
			CrossOriginAssets: sc.CrossOriginAssets,
		},
		Endpoints:  map[string]http.Handler{"/bootstrap.js": bs},
		cspSources: cspSources,
		Wrap:       hsts(sc.HSTS),
	}, nil
}

// auditOn reports whether the masking audit runs (masking.audit.enabled
// and a sample rate above 0).
func auditOn(cfg *config.Config) bool {
	a := cfg.Masking.Audit
	return (a.Enabled == nil || *a.Enabled) && auditRate(cfg) > 0
}

// auditRate is masking.audit.sampleRate (default 1).
func auditRate(cfg *config.Config) float64 {
	if r := cfg.Masking.Audit.SampleRate; r != nil {
		return *r
	}
	return 1
}

// hsts returns the site's Strict-Transport-Security middleware, or nil.
func hsts(h config.HSTS) func(http.Handler) http.Handler {
	if h.MaxAge <= 0 {
		return nil
	}
	return tlsconf.HSTS(h.MaxAge, h.IncludeSubDomains)
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

// cdnHosts is the SDK's CDN host, which also serves the agent desk: the one
// Zoom host CSP violation reports count under its own name.
func cdnHosts(cdn string) []string {
	if u, err := url.Parse(cdn); err == nil && u.Hostname() != "" {
		return []string{strings.ToLower(u.Hostname())}
	}
	return nil
}
