package config

import (
	"strings"
	"time"
)

// Defaults for keys left unset (or zero). They are exported so that
// documentation and the demo can refer to them instead of repeating values.
const (
	DefaultHTTPAddr  = ":8080"
	DefaultHTTPSAddr = ":8443"
	DefaultAdminAddr = "127.0.0.1:9090"

	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownGrace     = 30 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
	MinMaxHeaderBytes        = 4 << 10
	MaxMaxHeaderBytes        = 1 << 20
	DefaultMaxConnsPerClient = 1024

	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultUpstreamIdleTimeout   = 60 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxIdleConnsPerHost   = 1024 // see proxy.TransportOptions.MaxIdleConnsPerHost
	DefaultUnknownHostStatus     = 421
	DefaultMaxScanBytes          = 64 << 10

	DefaultCDN         = "https://us01-zcb.zoom.us/static/resource/sdk"
	DefaultTokenPrefix = "/__cobrowse"
	DefaultTokenTTL    = 2 * time.Hour

	DefaultTokenMaxBodyBytes = 8 << 10
	DefaultCustomerRateEvery = 10 * time.Second
	DefaultCustomerRateBurst = 5
	DefaultAgentRateEvery    = 6 * time.Second
	DefaultAgentRateBurst    = 10
	// An agent's own bucket: a desk reload is one token request.
	DefaultAgentIdentityRateEvery = 2 * time.Second
	DefaultAgentIdentityRateBurst = 30
	DefaultRateMaxClients         = 10000
	DefaultAgentSessionTTL        = 8 * time.Hour

	DefaultTLSReloadInterval     = 30 * time.Second
	DefaultACMECA                = "https://acme-v02.api.letsencrypt.org/directory"
	DefaultACMEStorage           = "/var/lib/cobrowse-proxy/acme"
	DefaultOnDemandRatePerMinute = 10

	DefaultRedisKeyPrefix = "cobrowse-proxy"
	DefaultRedisTimeout   = 500 * time.Millisecond

	DefaultWidgetPosition = "bottom-right"
	DefaultWidgetLabel    = "Get help"
)

// MinSDKSecretLen is the shortest SDK secret accepted (token.MinSecretLen
// applies the same bound when a secret file is re-read on rotation).
const MinSDKSecretLen = 16

// ApplyDefaults fills every unset key with its default and normalises hosts
// (lower case, trailing dots removed) and the CDN URL (no trailing slash).
// It is idempotent: applying it twice gives the same Config as once.
func (c *Config) ApplyDefaults() { applyDefaults(c) }

// applyDefaults is the one place defaults live. A zero value means "unset":
// for durations and counts where zero would be meaningless that is the only
// way to ask for the default; readTimeout and writeTimeout default to zero.
func applyDefaults(c *Config) {
	setStr(&c.Listen.HTTP, DefaultHTTPAddr)
	setStr(&c.Listen.HTTPS, DefaultHTTPSAddr)
	setStr(&c.Listen.Admin, DefaultAdminAddr)

	setStr(&c.TLS.Mode, TLSModeOff)
	setStr(&c.Storage.Redis.KeyPrefix, DefaultRedisKeyPrefix)
	setDur(&c.Storage.Redis.Timeout, DefaultRedisTimeout)
	setDur(&c.TLS.Files.ReloadInterval, DefaultTLSReloadInterval)
	acme := &c.TLS.ACME
	setStr(&acme.CA, DefaultACMECA)
	if acme.Challenges == nil {
		acme.Challenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}
	}
	setStr(&acme.Storage, DefaultACMEStorage)
	for i, d := range acme.Domains {
		acme.Domains[i] = strings.TrimRight(strings.ToLower(d), ".")
	}
	for i, d := range acme.OnDemand.Allow {
		acme.OnDemand.Allow[i] = strings.TrimRight(strings.ToLower(d), ".")
	}
	setInt(&acme.OnDemand.RatePerMinute, DefaultOnDemandRatePerMinute)

	setDur(&c.Server.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDur(&c.Server.IdleTimeout, DefaultIdleTimeout)
	setDur(&c.Server.ShutdownGrace, DefaultShutdownGrace)
	setInt(&c.Server.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setInt(&c.Server.MaxConnsPerClient, DefaultMaxConnsPerClient)

	setDur(&c.Proxy.DialTimeout, DefaultDialTimeout)
	setDur(&c.Proxy.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	setDur(&c.Proxy.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	setDur(&c.Proxy.UpstreamIdleTimeout, DefaultUpstreamIdleTimeout)
	setDur(&c.Proxy.IdleConnTimeout, DefaultIdleConnTimeout)
	setInt(&c.Proxy.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	setInt(&c.Proxy.UnknownHostStatus, DefaultUnknownHostStatus)
	setInt(&c.Proxy.MaxScanBytes, DefaultMaxScanBytes)
	setBool(&c.Proxy.UpstreamPlain, true)

	setStr(&c.Log.Level, "info")
	setStr(&c.Log.Format, "text")

	setStr(&c.Zoom.CDN, DefaultCDN)
	c.Zoom.CDN = strings.TrimRight(c.Zoom.CDN, "/")

	setStr(&c.Token.Prefix, DefaultTokenPrefix)
	setDur(&c.Token.TTL, DefaultTokenTTL)
	setInt(&c.Token.MaxBodyBytes, DefaultTokenMaxBodyBytes)
	setRate(&c.Token.Customer.Rate, DefaultCustomerRateEvery, DefaultCustomerRateBurst)
	a := &c.Token.Agent
	for i := range a.Keys {
		// Upper-case hex is the same hash; anything else is left for
		// Validate to explain.
		if h := strings.ToLower(a.Keys[i].Hash); isSHA256Hex(h) {
			a.Keys[i].Hash = h
		}
	}
	setDur(&a.SessionTTL, DefaultAgentSessionTTL)
	setRate(&a.Rate, DefaultAgentRateEvery, DefaultAgentRateBurst)
	setRate(&a.IdentityRate, DefaultAgentIdentityRateEvery, DefaultAgentIdentityRateBurst)

	setBool(&c.Masking.AutoMaskSensitiveInputs, true)
	setBool(&c.Masking.Audit.Enabled, true)
	setBool(&c.Reload.Watch, true)
	if c.Masking.Audit.SampleRate == nil {
		one := 1.0
		c.Masking.Audit.SampleRate = &one
	}

	for i := range c.Sites {
		s := &c.Sites[i]
		for j, h := range s.Hosts {
			s.Hosts[j] = strings.TrimRight(strings.ToLower(h), ".")
		}
		setBool(&s.PreserveHost, true)
		setBool(&s.Inject.Enabled, true)
		setBool(&s.Inject.Iframes, true)
		setBool(&s.Widget.Enabled, true)
		setStr(&s.Widget.Position, DefaultWidgetPosition)
		setStr(&s.Widget.Label, DefaultWidgetLabel)
		setStr(&s.CSP.Mode, CSPModeMerge)
		setBool(&s.CSP.ReportURI, true)
		setStr(&s.CrossOriginAssets, CrossOriginZoom)
	}
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDur(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setRate(r *RateLimit, every time.Duration, burst int) {
	setDur(&r.Every, every)
	setInt(&r.Burst, burst)
	setInt(&r.MaxClients, DefaultRateMaxClients)
}

func setBool(p **bool, v bool) {
	if *p == nil {
		*p = &v
	}
}
