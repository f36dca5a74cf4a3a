// Package config defines cobrowse-proxy's YAML schema, fills defaults, expands ${ENV} and *File secrets, and validates, reporting every problem at once with its field path.
//
// The lifecycle follows Caddy's provision → validate: Parse (or Load) decodes
// strictly, reads *File keys, calls ApplyDefaults and then Validate. A
// Config built in code goes through the same two exported steps. The structs
// are plain data: nothing here opens a listener or keeps global state, so a
// reload is "Load again and swap the pointer if it returned no error".
package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Listen  Listen  `yaml:"listen"`
	TLS     TLS     `yaml:"tls"`
	Server  Server  `yaml:"server"`
	Proxy   Proxy   `yaml:"proxy"`
	Log     Log     `yaml:"log"`
	Zoom    Zoom    `yaml:"zoom"`
	Token   Token   `yaml:"token"`
	Masking Masking `yaml:"masking"`
	Sites   []Site  `yaml:"sites"`
}

// Listen holds the listener addresses, each in net.Listen's host:port form.
type Listen struct {
	// HTTP serves plain HTTP (default ":8080").
	HTTP string `yaml:"http"`
	// HTTPS serves TLS; it is only opened when tls.mode is not off (default ":8443").
	HTTPS string `yaml:"https"`
	// Admin serves /metrics, /healthz and /readyz. It defaults to loopback
	// ("127.0.0.1:9090") because metrics reveal traffic patterns.
	Admin string `yaml:"admin"`
}

// TLS selects how HTTPS certificates are obtained.
type TLS struct {
	// Mode is "off" (default: plain HTTP only, TLS ends at an ingress) or
	// "files" (certificate and key from disk, e.g. cert-manager secrets).
	Mode  string   `yaml:"mode"`
	Files TLSFiles `yaml:"files"`
}

// TLS modes.
const (
	TLSModeOff   = "off"
	TLSModeFiles = "files"
)

// TLSFiles names PEM files. Relative paths are resolved against the config
// file's directory by Load, so the paths held here can be opened directly.
type TLSFiles struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

// Server holds http.Server limits.
type Server struct {
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout and WriteTimeout default to 0 (none): pages stream, and
	// SSE and websockets stay open for as long as the session lasts.
	ReadTimeout    time.Duration `yaml:"readTimeout"`
	WriteTimeout   time.Duration `yaml:"writeTimeout"`
	IdleTimeout    time.Duration `yaml:"idleTimeout"`
	ShutdownGrace  time.Duration `yaml:"shutdownGrace"`
	MaxHeaderBytes int           `yaml:"maxHeaderBytes"`
}

// Proxy holds the reverse proxy's transport and routing settings.
type Proxy struct {
	// TrustedProxies lists CIDR prefixes or single IPs (v4 or v6) whose
	// X-Forwarded-* headers are believed. Empty means trust nobody: the peer
	// address is the client.
	TrustedProxies        []string      `yaml:"trustedProxies"`
	DialTimeout           time.Duration `yaml:"dialTimeout"`
	TLSHandshakeTimeout   time.Duration `yaml:"tlsHandshakeTimeout"`
	ResponseHeaderTimeout time.Duration `yaml:"responseHeaderTimeout"`
	IdleConnTimeout       time.Duration `yaml:"idleConnTimeout"`
	MaxIdleConnsPerHost   int           `yaml:"maxIdleConnsPerHost"`
	// UnknownHostStatus is the status for a Host no site serves: 421
	// (Misdirected Request, default) or 404. Never proxied: no open proxy.
	UnknownHostStatus int `yaml:"unknownHostStatus"`
	// MaxScanBytes bounds how far into a page the rewriter looks for <head>
	// before giving up and passing the page through unchanged.
	MaxScanBytes int `yaml:"maxScanBytes"`
}

// TrustedPrefixes returns TrustedProxies parsed, with single addresses as
// /32 or /128 prefixes (IPv4-mapped IPv6 addresses are unmapped, zones
// dropped) and prefixes masked. Entries that do not parse are skipped;
// Validate reports them.
func (p Proxy) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range p.TrustedProxies {
		if pfx, ok := parseTrusted(s); ok {
			out = append(out, pfx)
		}
	}
	return out
}

func parseTrusted(s string) (netip.Prefix, bool) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// SlogLevel returns Level as a slog.Level; anything unrecognised is Info
// (Validate rejects it first).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Zoom holds the Cobrowse SDK credentials and where the SDK is loaded from.
//
// The SDK key is public (it is in the CDN URL); the secret signs tokens and
// must never leave the process, so Zoom's String, GoString, LogValue,
// MarshalJSON and MarshalYAML all redact it, and no validation message
// contains it.
type Zoom struct {
	SDKKey        string `yaml:"sdkKey"`
	SDKKeyFile    string `yaml:"sdkKeyFile"`
	SDKSecret     string `yaml:"sdkSecret"`
	SDKSecretFile string `yaml:"sdkSecretFile"`
	// CDN is the SDK's base URL, without the /{key}/js part.
	CDN string `yaml:"cdn"`
	// SDKVersion pins the SDK ("3.6.0") or its latest patch ("3.6.x"); empty
	// loads the latest.
	SDKVersion string `yaml:"sdkVersion"`

	// keyFromFile and secretFromFile record that Parse filled SDKKey or
	// SDKSecret from the *File key, so Validate does not take the pair for a
	// conflict.
	keyFromFile, secretFromFile bool
}

// SDKURL is the script URL of the SDK loader:
// CDN/{url-escaped key}/js[/{version}].
func (z Zoom) SDKURL() string {
	u := z.CDN + "/" + url.PathEscape(z.SDKKey) + "/js"
	if z.SDKVersion != "" {
		u += "/" + z.SDKVersion
	}
	return u
}

const redacted = "[REDACTED]"

// redactedView is Zoom with the secret replaced, used by every printer.
type redactedView struct {
	SDKKey        string `json:"sdkKey" yaml:"sdkKey"`
	SDKKeyFile    string `json:"sdkKeyFile,omitempty" yaml:"sdkKeyFile,omitempty"`
	SDKSecret     string `json:"sdkSecret,omitempty" yaml:"sdkSecret,omitempty"`
	SDKSecretFile string `json:"sdkSecretFile,omitempty" yaml:"sdkSecretFile,omitempty"`
	CDN           string `json:"cdn" yaml:"cdn"`
	SDKVersion    string `json:"sdkVersion,omitempty" yaml:"sdkVersion,omitempty"`
}

func (z Zoom) redacted() redactedView {
	v := redactedView{SDKKey: z.SDKKey, SDKKeyFile: z.SDKKeyFile, SDKSecretFile: z.SDKSecretFile, CDN: z.CDN, SDKVersion: z.SDKVersion}
	if z.SDKSecret != "" {
		v.SDKSecret = redacted
	}
	return v
}

// String prints the settings with the secret redacted.
func (z Zoom) String() string {
	v := z.redacted()
	return fmt.Sprintf("{sdkKey:%q sdkKeyFile:%q sdkSecret:%q sdkSecretFile:%q cdn:%q sdkVersion:%q}",
		v.SDKKey, v.SDKKeyFile, v.SDKSecret, v.SDKSecretFile, v.CDN, v.SDKVersion)
}

// GoString makes %#v redact the secret too.
func (z Zoom) GoString() string { return "config.Zoom" + z.String() }

// LogValue implements slog.LogValuer with the secret redacted.
func (z Zoom) LogValue() slog.Value {
	v := z.redacted()
	return slog.GroupValue(
		slog.String("sdkKey", v.SDKKey),
		slog.String("sdkKeyFile", v.SDKKeyFile),
		slog.String("sdkSecret", v.SDKSecret),
		slog.String("sdkSecretFile", v.SDKSecretFile),
		slog.String("cdn", v.CDN),
		slog.String("sdkVersion", v.SDKVersion),
	)
}

// MarshalJSON redacts the secret, so a Config dumped as JSON (a debug
// endpoint, a JSON log handler) cannot leak it.
func (z Zoom) MarshalJSON() ([]byte, error) { return json.Marshal(z.redacted()) }

// MarshalYAML redacts the secret, for the same reason as MarshalJSON.
func (z Zoom) MarshalYAML() (any, error) { return z.redacted(), nil }

// Token configures the reserved path prefix and token lifetime.
type Token struct {
	// Prefix is the reserved path served by the proxy itself
	// ({prefix}/bootstrap.js, /token, /agent, /csp-report).
	Prefix string `yaml:"prefix"`
	// TTL is the token lifetime; Zoom accepts 30m..48h.
	TTL time.Duration `yaml:"ttl"`
}

// Masking is the central masking policy every site inherits.
type Masking struct {
	Selectors               []string `yaml:"selectors"`
	Attributes              []string `yaml:"attributes"`
	AutoMaskSensitiveInputs *bool    `yaml:"autoMaskSensitiveInputs"`
}

// Site is one website served through the proxy.
type Site struct {
	Name     string   `yaml:"name"`
	Hosts    []string `yaml:"hosts"`
	Upstream string   `yaml:"upstream"`
	// PreserveHost sends the client's Host upstream (default, like Caddy);
	// false sends the upstream URL's host.
	PreserveHost *bool       `yaml:"preserveHost"`
	Inject       Inject      `yaml:"inject"`
	Settings     Settings    `yaml:"settings"`
	Widget       Widget      `yaml:"widget"`
	Masking      SiteMasking `yaml:"masking"`
}

// Inject decides which pages receive the Cobrowse loader. A page is
// injected when Enabled, its path matches an Include pattern (or Include is
// empty) and matches no Exclude pattern. Patterns follow MatchPath.
type Inject struct {
	Enabled *bool    `yaml:"enabled"`
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Iframes also injects documents loaded in iframes: cross-origin iframes
	// need the loader in their own document to be visible to the agent.
	Iframes *bool `yaml:"iframes"`
}

// Settings are the Zoom init settings: the keys known today are typed and
// anything else is passed through to init unchanged, because the SDK's
// schema moves between versions.
type Settings struct {
	AllowAgentAnnotation       *bool          `yaml:"allowAgentAnnotation"`
	AllowCustomerAnnotation    *bool          `yaml:"allowCustomerAnnotation"`
	RemoteAssist               *RemoteAssist  `yaml:"remoteAssist"`
	MultiTabSessionPersistence *MultiTab      `yaml:"multiTabSessionPersistence"`
	Extra                      map[string]any `yaml:",inline"`
}

// RemoteAssist is settings.remoteAssist. Unknown keys (newer SDK options)
// are passed through in Extra.
type RemoteAssist struct {
	Enable                  *bool          `yaml:"enable"`
	EnableCustomerConsent   *bool          `yaml:"enableCustomerConsent"`
	RemoteAssistTypes       []string       `yaml:"remoteAssistTypes"`
	RequireStopConfirmation *bool          `yaml:"requireStopConfirmation"`
	Extra                   map[string]any `yaml:",inline"`
}

// MultiTab is settings.multiTabSessionPersistence. Unknown keys are passed
// through in Extra.
type MultiTab struct {
	Enable         *bool          `yaml:"enable"`
	StateCookieKey string         `yaml:"stateCookieKey"`
	Extra          map[string]any `yaml:",inline"`
}

// InitSettings returns the settings object for ZoomCobrowseSDK.init: only
// the keys that were set, under the SDK's names, plus the pass-through keys.
// The map is new on every call; pass-through values are shared, not copied.
func (s Settings) InitSettings() map[string]any {
	m := make(map[string]any, len(s.Extra)+4)
	for k, v := range s.Extra {
		m[k] = v
	}
	putBool(m, "allowAgentAnnotation", s.AllowAgentAnnotation)
	putBool(m, "allowCustomerAnnotation", s.AllowCustomerAnnotation)
	if ra := s.RemoteAssist; ra != nil {
		r := make(map[string]any, len(ra.Extra)+4)
		for k, v := range ra.Extra {
			r[k] = v
		}
		putBool(r, "enable", ra.Enable)
		putBool(r, "enableCustomerConsent", ra.EnableCustomerConsent)
		if ra.RemoteAssistTypes != nil {
			r["remoteAssistTypes"] = slices.Clone(ra.RemoteAssistTypes)
		}
		putBool(r, "requireStopConfirmation", ra.RequireStopConfirmation)
		m["remoteAssist"] = r
	}
	if mt := s.MultiTabSessionPersistence; mt != nil {
		r := make(map[string]any, len(mt.Extra)+2)
		for k, v := range mt.Extra {
			r[k] = v
		}
		putBool(r, "enable", mt.Enable)
		if mt.StateCookieKey != "" {
			r["stateCookieKey"] = mt.StateCookieKey
		}
		m["multiTabSessionPersistence"] = r
	}
	return m
}

func putBool(m map[string]any, k string, b *bool) {
	if b != nil {
		m[k] = *b
	}
}

// Widget configures the "get help" button that shows the support PIN.
type Widget struct {
	Enabled  *bool  `yaml:"enabled"`
	Position string `yaml:"position"` // bottom-right | bottom-left | top-right | top-left
	Label    string `yaml:"label"`
}

// SiteMasking adds to the central masking policy; it cannot remove from it.
type SiteMasking struct {
	Selectors  []string `yaml:"selectors"`
	Attributes []string `yaml:"attributes"`
}

// SiteMask returns the masking selectors and attributes in force for
// c.Sites[i]: the central policy first, then the site's additions, without
// duplicates. Because a site can only append, the central policy can never
// be weakened by a site's configuration.
func (c *Config) SiteMask(i int) (selectors, attributes []string) {
	s := c.Sites[i]
	return union(c.Masking.Selectors, s.Masking.Selectors), union(c.Masking.Attributes, s.Masking.Attributes)
}

func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	seen := make(map[string]bool, len(a)+len(b))
	for _, list := range [][]string{a, b} {
		for _, v := range list {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}
