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
	"strconv"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
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
	Reload  Reload  `yaml:"reload"`
	Storage Storage `yaml:"storage"`
	Sites   []Site  `yaml:"sites"`

	// Hash is the SHA-256 of the config file, hex (set by Load), so a
	// fleet can be checked for drift.
	Hash string `yaml:"-"`
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

// TLS selects how HTTPS certificates are obtained. The internal/tlsconf
// package turns it into a certificate source.
type TLS struct {
	// Mode is TLSModeOff (default: plain HTTP only, TLS ends at an
	// ingress), TLSModeFiles (certificate and key from disk, e.g.
	// cert-manager secrets) or TLSModeACME (automatic certificates).
	Mode  string   `yaml:"mode"`
	Files TLSFiles `yaml:"files"`
	ACME  TLSACME  `yaml:"acme"`
	// RedirectPort is the public HTTPS port the HTTP listener redirects to,
	// when it differs from listen.https's port (a container publishing
	// 8443 as 443). 0 (default): listen.https's port.
	RedirectPort int `yaml:"redirectPort"`
}

// TLS modes.
const (
	TLSModeOff   = "off"
	TLSModeFiles = "files"
	TLSModeACME  = "acme"
)

// ACME challenge types (RFC 8555 section 8.3, RFC 8737).
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// TLSFiles names PEM files. Relative paths are resolved against the config
// file's directory by Load, so the paths held here can be opened directly.
type TLSFiles struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// ReloadInterval is how often the files are checked for a change (by
	// modification time and size), so a rotated certificate is served
	// without a restart.
	ReloadInterval time.Duration `yaml:"reloadInterval"`
}

// TLSACME configures automatic certificates from an RFC 8555 CA.
type TLSACME struct {
	// Email is the ACME account contact; optional.
	Email string `yaml:"email"`
	// CA is the ACME directory URL (default Let's Encrypt production).
	CA string `yaml:"ca"`
	// CARoots is a PEM file of roots trusted for the connection to the CA
	// (a private CA such as step-ca); empty uses the system roots.
	CARoots string `yaml:"caRoots"`
	// Challenges lists the enabled challenge types (ChallengeHTTP01,
	// ChallengeTLSALPN01); default both.
	Challenges []string `yaml:"challenges"`
	// Storage is the directory holding the account, certificates and
	// locks. Replicas must share it, or each obtains its own certificates
	// and they exhaust the CA's rate limits.
	Storage string `yaml:"storage"`
	// Domains are names managed in addition to the sites' hosts.
	Domains  []string    `yaml:"domains"`
	OnDemand TLSOnDemand `yaml:"onDemand"`
}

// TLSOnDemand configures issuance during the TLS handshake for names not
// listed anywhere. It is refused without Allow or Ask, so that nobody can
// make the proxy ask the CA for names it does not serve.
type TLSOnDemand struct {
	Enabled bool `yaml:"enabled"`
	// Allow lists host patterns: a name, or "*.example.com" for exactly
	// one label under example.com.
	Allow []string `yaml:"allow"`
	// Ask is a URL asked "GET {ask}?domain=NAME" before issuing; only a 2xx
	// answer allows it. With Allow too, both must agree.
	Ask string `yaml:"ask"`
	// RatePerMinute bounds new on-demand issuances.
	RatePerMinute int `yaml:"ratePerMinute"`
}

// Server holds http.Server limits.
type Server struct {
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout and WriteTimeout default to 0 (none): pages stream, and
	// SSE and websockets stay open for as long as the session lasts.
	ReadTimeout   time.Duration `yaml:"readTimeout"`
	WriteTimeout  time.Duration `yaml:"writeTimeout"`
	IdleTimeout   time.Duration `yaml:"idleTimeout"`
	ShutdownGrace time.Duration `yaml:"shutdownGrace"`
	// DrainDelay is how long, on shutdown, the proxy keeps serving while
	// /readyz already reports not ready, so a load balancer stops sending
	// new requests before the listeners close. Default 0.
	DrainDelay time.Duration `yaml:"drainDelay"`
	// MaxHeaderBytes bounds a request's header block (request line and
	// header fields); beyond it the client gets 431. Each connection may
	// hold about this much while its headers arrive, so it is kept to what
	// browsers send (nginx allows 4 buffers of 8 KiB), not megabytes.
	MaxHeaderBytes int `yaml:"maxHeaderBytes"`
	// MaxConnsPerClient bounds the open connections from one client
	// address (an IPv6 /64 counts as one address), so a single host cannot
	// hold every connection the process can open. Peers listed in
	// proxy.trustedProxies are exempt: their connections carry many
	// clients. -1 means no limit.
	MaxConnsPerClient int `yaml:"maxConnsPerClient"`
	// Compression sets the levels used to compress injected pages for the
	// client. It is under server because the encoders are shared by every
	// site of the process and built at start: a change needs a restart.
	Compression Compression `yaml:"compression"`
}

// Compression holds the content-coding levels for pages the proxy
// compresses on the fly (it decodes a compressed upstream page, injects,
// and encodes it again in the coding the client accepts). 0 means the
// encoding package's default, chosen for on-the-fly use (see
// encoding.DefaultGzipLevel); higher levels give smaller pages for more
// CPU per response.
type Compression struct {
	// GzipLevel is the gzip and deflate level, 1 (fastest) to 9 (smallest).
	GzipLevel int `yaml:"gzipLevel"`
	// BrotliQuality is the brotli quality, 1 (fastest) to 11 (smallest).
	BrotliQuality int `yaml:"brotliQuality"`
	// ZstdLevel is a zstd level as the zstd CLI numbers them, 1 (fastest)
	// to 22 (smallest).
	ZstdLevel int `yaml:"zstdLevel"`
	// KeepBrotli re-encodes a brotli page as brotli when the client accepts
	// it; by default it goes out as zstd or gzip if the client accepts one
	// of them as much (see encoding.Options.KeepBrotli).
	KeepBrotli bool `yaml:"keepBrotli"`
}

// EncodingOptions returns the levels as the encoding package takes them.
// Call it on a validated Config: encoding.New panics on a level out of
// range.
func (c Compression) EncodingOptions() encoding.Options {
	return encoding.Options{GzipLevel: c.GzipLevel, BrotliQuality: c.BrotliQuality, ZstdLevel: c.ZstdLevel, KeepBrotli: c.KeepBrotli}
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
	// UpstreamIdleTimeout ends a response whose upstream sends no body
	// bytes for this long after its headers: the client sees a failed
	// transfer instead of waiting forever. Server-sent event streams and
	// upgraded connections (websockets) are exempt.
	UpstreamIdleTimeout time.Duration `yaml:"upstreamIdleTimeout"`
	IdleConnTimeout     time.Duration `yaml:"idleConnTimeout"`
	MaxIdleConnsPerHost int           `yaml:"maxIdleConnsPerHost"`
	// UnknownHostStatus is the status for a Host no site serves: 421
	// (Misdirected Request, default) or 404. Never proxied: no open proxy.
	UnknownHostStatus int `yaml:"unknownHostStatus"`
	// MaxScanBytes bounds how far into a page the rewriter looks for <head>
	// before giving up and passing the page through unchanged.
	MaxScanBytes int `yaml:"maxScanBytes"`
	// UpstreamPlain (default true) asks the upstream for a plain page when
	// a browser navigates to a page that will be injected and the upstream
	// has compressed an HTML page of the site in the last minute; the page
	// is then compressed once, here, in the coding the client would have
	// got (server.compression's levels). false passes the client's
	// Accept-Encoding on as it is, and a compressed page is decompressed
	// and compressed again.
	UpstreamPlain *bool `yaml:"upstreamPlain"`
}

// AskUpstreamPlain reports whether UpstreamPlain is on (unset is on).
func (p Proxy) AskUpstreamPlain() bool { return p.UpstreamPlain == nil || *p.UpstreamPlain }

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
	// Access writes one info line per public request ("access": client,
	// method, host, path, status, bytes, duration in seconds, user agent,
	// site). Off by default: in front of the proxy there is usually an
	// ingress or load balancer that already logs every request.
	Access bool `yaml:"access"`
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

// Token configures the reserved path prefix and the token endpoint
// ({prefix}/token) with the agent desk ({prefix}/agent). Its fields map one
// to one onto token.Options.
type Token struct {
	// Prefix is the reserved path served by the proxy itself
	// ({prefix}/bootstrap.js, /token, /agent, /csp-report).
	Prefix string `yaml:"prefix"`
	// TTL is the token lifetime; Zoom accepts 30m..48h.
	TTL time.Duration `yaml:"ttl"`
	// MaxBodyBytes limits token request bodies; larger ones get 413.
	MaxBodyBytes int `yaml:"maxBodyBytes"`
	// BYOP turns on Bring Your Own PIN (docs/zoom.md): customer tokens carry
	// enable_byop and the response carries the PIN.
	BYOP     bool          `yaml:"byop"`
	Customer TokenCustomer `yaml:"customer"`
	Agent    TokenAgent    `yaml:"agent"`
}

// TokenCustomer configures customer (role 1) tokens.
type TokenCustomer struct {
	// Rate limits customer token requests per client address.
	Rate RateLimit `yaml:"rate"`
}

// RateLimit is a per-client token bucket: one request's worth refills
// every Every, up to Burst at once, for at most MaxClients tracked clients.
type RateLimit struct {
	Every      time.Duration `yaml:"every"`
	Burst      int           `yaml:"burst"`
	MaxClients int           `yaml:"maxClients"`
}

// TokenAgent configures agent (role 2) authentication and the agent desk
// session. With neither keys nor an identity header, agent tokens are
// refused (see Configured).
//
// SessionKey signs the desk's session cookies and is a secret: like Zoom,
// TokenAgent's String, GoString, LogValue, MarshalJSON and MarshalYAML
// redact it, and no validation message contains it.
type TokenAgent struct {
	// Keys are bearer access keys, stored only as SHA-256 hashes.
	Keys     []AgentKey    `yaml:"keys"`
	Identity AgentIdentity `yaml:"identity"`
	// SessionTTL is the desk session cookie's lifetime (1m..7d).
	SessionTTL time.Duration `yaml:"sessionTTL"`
	// SessionKey (32+ bytes) signs session cookies; empty: a key derived
	// from the SDK secret is used.
	SessionKey     string `yaml:"sessionKey"`
	SessionKeyFile string `yaml:"sessionKeyFile"`
	// InsecureCookie leaves Secure off the session cookie: plain-HTTP
	// development only.
	InsecureCookie bool `yaml:"insecureCookie"`
	// Rate limits failed agent authentications (a wrong key at sign-in, an
	// agent token request without valid credentials) per client address:
	// a lock-out against guessing that successful agents do not use up.
	Rate RateLimit `yaml:"rate"`
	// IdentityRate limits agent token requests per authenticated agent
	// (key name or forwarded identity), so agents behind one NAT do not
	// share a bucket.
	IdentityRate RateLimit `yaml:"identityRate"`

	// sessionKeyFromFile records that Parse filled SessionKey from
	// SessionKeyFile, so Validate does not take the pair for a conflict.
	sessionKeyFromFile bool
}

// AgentKey is one bearer access key: Name becomes the agent's user_id;
// DisplayName, or Name when it is empty, the user_name Zoom shows the
// customer. Hash is the lower-case hex SHA-256 of the key, as
// "cobrowse-proxy hash-key" prints it. The key itself is never stored.
type AgentKey struct {
	Name        string `yaml:"name"`
	DisplayName string `yaml:"displayName"`
	Hash        string `yaml:"hash"`
}

// AgentIdentity configures authentication by a header that a trusted auth
// proxy sets (oauth2-proxy's X-Forwarded-Email, for example).
type AgentIdentity struct {
	// Header holds the agent's identity (user_id).
	Header string `yaml:"header"`
	// NameHeader optionally holds the display name (user_name).
	NameHeader string `yaml:"nameHeader"`
	// From lists the CIDR prefixes or single IPs the auth proxy connects
	// from; the header is ignored from any other connection peer.
	From []string `yaml:"from"`
}

// FromPrefixes returns From parsed like Proxy.TrustedPrefixes: single
// addresses as /32 or /128, prefixes masked, entries that do not parse
// skipped (Validate reports them).
func (a AgentIdentity) FromPrefixes() []netip.Prefix {
	return Proxy{TrustedProxies: a.From}.TrustedPrefixes()
}

// Configured reports whether agent authentication is set up: at least one
// access key or an identity header. Validate makes sure a header always
// comes with the addresses it is accepted from.
func (a TokenAgent) Configured() bool {
	return len(a.Keys) > 0 || a.Identity.Header != ""
}

// agentView is TokenAgent without its methods, so printers can show a
// redacted copy without recursing.
type agentView TokenAgent

func (a TokenAgent) redacted() agentView {
	v := agentView(a)
	v.Keys = slices.Clone(a.Keys)
	v.Identity.From = slices.Clone(a.Identity.From)
	if v.SessionKey != "" {
		v.SessionKey = redacted
	}
	return v
}

// String prints the settings with the session key redacted.
func (a TokenAgent) String() string {
	v := a.redacted()
	return fmt.Sprintf("{keys:%v identity:%+v sessionTTL:%s sessionKey:%q sessionKeyFile:%q insecureCookie:%t rate:%+v identityRate:%+v}",
		v.Keys, v.Identity, v.SessionTTL, v.SessionKey, v.SessionKeyFile, v.InsecureCookie, v.Rate, v.IdentityRate)
}

// GoString makes %#v redact the session key too.
func (a TokenAgent) GoString() string { return "config.TokenAgent" + a.String() }

// LogValue implements slog.LogValuer with the session key redacted.
func (a TokenAgent) LogValue() slog.Value { return slog.StringValue(a.String()) }

// MarshalJSON redacts the session key.
func (a TokenAgent) MarshalJSON() ([]byte, error) { return json.Marshal(a.redacted()) }

// MarshalYAML redacts the session key.
func (a TokenAgent) MarshalYAML() (any, error) { return a.redacted(), nil }

// Reload configures live reloading of this file. SIGHUP and POST /-/reload
// on the admin listener always reload it.
type Reload struct {
	// Watch reloads when the file or masking.policyFile changes (default
	// true): their directories are watched, which also sees a Kubernetes
	// ConfigMap update.
	Watch *bool `yaml:"watch"`
}

// WatchEnabled reports whether reload.watch is on (the default).
func (r Reload) WatchEnabled() bool { return r.Watch == nil || *r.Watch }

// Masking is the central masking policy every site inherits.
type Masking struct {
	Selectors               []string `yaml:"selectors"`
	Attributes              []string `yaml:"attributes"`
	AutoMaskSensitiveInputs *bool    `yaml:"autoMaskSensitiveInputs"`
	// PolicyFile, when set, is a separate YAML file (the security team's,
	// e.g. its own ConfigMap) holding the central policy: version,
	// selectors, attributes, autoMaskSensitiveInputs (see Policy). Its
	// selectors and attributes come first; the config's own are added to
	// them; autoMaskSensitiveInputs then belongs to the file alone. It is
	// reloaded with the config.
	PolicyFile string `yaml:"policyFile"`
	// Audit configures the masking audit in bootstrap.js.
	Audit MaskAudit `yaml:"audit"`

	// Policy is the policy file as read (zero without policyFile).
	Policy Policy `yaml:"-"`
}

// MaskAudit configures the masking audit: bootstrap.js looks for fields
// that look sensitive and that no masking rule covers, and reports them to
// {token.prefix}/mask-report; the admin listener lists them.
type MaskAudit struct {
	// Enabled turns the audit on (default true).
	Enabled *bool `yaml:"enabled"`
	// SampleRate is the share of injected page views that run the audit,
	// 0 to 1 (default 1: every page).
	SampleRate *float64 `yaml:"sampleRate"`
}

// Policy is the masking policy file owned by the security team.
type Policy struct {
	// Version names this revision of the policy in logs, metrics and the
	// admin view (default: the first 12 hex digits of the file's SHA-256).
	Version                 string   `yaml:"version" json:"version"`
	Selectors               []string `yaml:"selectors" json:"selectors"`
	Attributes              []string `yaml:"attributes" json:"attributes"`
	AutoMaskSensitiveInputs *bool    `yaml:"autoMaskSensitiveInputs" json:"autoMaskSensitiveInputs"`
	// Hash is the SHA-256 of the file, hex (set by the loader).
	Hash string `yaml:"-" json:"hash"`
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
	CSP          CSP         `yaml:"csp"`
	// CrossOriginAssets adds Access-Control-Allow-Origin and
	// Cross-Origin-Resource-Policy to static asset responses that lack
	// them, so the agent's browser can re-render the page from a Zoom
	// origin: CrossOriginZoom (the Zoom origins), CrossOriginAny (*) or
	// CrossOriginOff. Never to HTML pages or the reserved prefix, never
	// with credentials.
	CrossOriginAssets string `yaml:"crossOriginAssets"`
	HSTS              HSTS   `yaml:"hsts"`
}

// HSTS configures the Strict-Transport-Security header of a site. It is
// sent only on responses over the proxy's own HTTPS.
type HSTS struct {
	// MaxAge is the header's max-age; 0 (default) sends no header.
	MaxAge            time.Duration `yaml:"maxAge"`
	IncludeSubDomains bool          `yaml:"includeSubDomains"`
}

// CSP configures how the site's Content-Security-Policy is merged with what
// the Cobrowse SDK needs.
type CSP struct {
	// Mode is CSPModeMerge (add the Zoom sources to every policy, never
	// weakening it otherwise) or CSPModeOff (pass policies through).
	Mode string `yaml:"mode"`
	// ExtraSources adds source expressions per directive to the built-in
	// Zoom list; it can only add, never remove. Keys are lower-case
	// directive names.
	ExtraSources map[string][]string `yaml:"extraSources"`
	// ReportURI adds "report-uri {prefix}/csp-report" to header policies
	// that have no reporting of their own.
	ReportURI *bool `yaml:"reportUri"`
	// AlwaysReport adds it even to policies that report elsewhere.
	AlwaysReport bool `yaml:"alwaysReport"`
	// Baseline is a policy sent (then merged) when a response has none;
	// empty adds none.
	Baseline string `yaml:"baseline"`
}

// CSP modes.
const (
	CSPModeMerge = "merge"
	CSPModeOff   = "off"
)

// Cross-origin asset modes.
const (
	CrossOriginZoom = "zoom"
	CrossOriginAny  = "any"
	CrossOriginOff  = "off"
)

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

// Settings are the customer-side Zoom init settings: the keys known today
// are typed and anything else is passed through to init unchanged, because
// the SDK's schema moves between versions.
//
// The typed keys follow the Cobrowse SDK from 2.11.0 on (the defaults target
// 3.x; see docs/zoom.md): customer annotation lives in the annotation object,
// and allowAgentAnnotation is no customer setting any more. The flat names
// of older SDKs still load, so existing configs keep working: they are sent
// in the new shape, and Deprecations names each with its replacement.
type Settings struct {
	Annotation                 *Annotation   `yaml:"annotation"`
	RemoteAssist               *RemoteAssist `yaml:"remoteAssist"`
	MultiTabSessionPersistence *MultiTab     `yaml:"multiTabSessionPersistence"`

	// AllowCustomerAnnotation and EnableAnnotationFollowScroll are the
	// names before SDK 2.11.0; they are sent inside annotation unless the
	// annotation object sets the same key.
	//
	// Deprecated: use Annotation.
	AllowCustomerAnnotation      *bool `yaml:"allowCustomerAnnotation"`
	EnableAnnotationFollowScroll *bool `yaml:"enableAnnotationFollowScroll"`
	// AllowAgentAnnotation left the customer settings in SDK 2.11.0 (agent
	// annotation became an agent-side setting); it is accepted and not sent.
	//
	// Deprecated: remove it.
	AllowAgentAnnotation *bool `yaml:"allowAgentAnnotation"`

	Extra map[string]any `yaml:",inline"`
}

// Annotation is settings.annotation (SDK 2.11.0 and later). Unknown keys
// (newer SDK options) are passed through in Extra.
type Annotation struct {
	AllowCustomerAnnotation      *bool          `yaml:"allowCustomerAnnotation"`
	EnableAnnotationFollowScroll *bool          `yaml:"enableAnnotationFollowScroll"`
	Extra                        map[string]any `yaml:",inline"`
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

// InitSettings returns the settings object for ZoomCobrowseSDK.init in the
// shape of SDK 2.11.0 and later: only the keys that were set, under the
// SDK's names, plus the pass-through keys. A typed key replaces a
// pass-through key of the same name; the deprecated flat names are never
// sent as such. The map is new on every call; pass-through values are
// shared, not copied.
func (s Settings) InitSettings() map[string]any {
	m := make(map[string]any, len(s.Extra)+4)
	for k, v := range s.Extra {
		switch k {
		case "allowAgentAnnotation", "allowCustomerAnnotation", "enableAnnotationFollowScroll":
			// Typed (deprecated) names: never sent flat.
		default:
			m[k] = v
		}
	}
	if a := s.annotation(); a != nil {
		r := make(map[string]any, len(a.Extra)+2)
		for k, v := range a.Extra {
			r[k] = v
		}
		putBool(r, "allowCustomerAnnotation", a.AllowCustomerAnnotation)
		putBool(r, "enableAnnotationFollowScroll", a.EnableAnnotationFollowScroll)
		m["annotation"] = r
	}
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

// annotation returns the annotation object to send: settings.annotation
// with the deprecated flat names filled in where it leaves them unset, or
// nil when neither is given.
func (s Settings) annotation() *Annotation {
	if s.Annotation == nil && s.AllowCustomerAnnotation == nil && s.EnableAnnotationFollowScroll == nil {
		return nil
	}
	var a Annotation
	if s.Annotation != nil {
		a = *s.Annotation
	}
	if a.AllowCustomerAnnotation == nil {
		a.AllowCustomerAnnotation = s.AllowCustomerAnnotation
	}
	if a.EnableAnnotationFollowScroll == nil {
		a.EnableAnnotationFollowScroll = s.EnableAnnotationFollowScroll
	}
	return &a
}

func putBool(m map[string]any, k string, b *bool) {
	if b != nil {
		m[k] = *b
	}
}

// annotationSince is the first Cobrowse SDK version that reads customer
// annotation from the annotation object (its 2.11.0 changelog).
const annotationSince = "2.11.0"

// Deprecations lists the keys that still work but are written the way of
// an older Cobrowse SDK, each with what to write instead. They are notes,
// not errors: Validate accepts them; the validate command prints them as
// warnings and run logs them, so a config is never refused for them.
func (c *Config) Deprecations() []FieldError {
	var es Errors
	var annotated []string
	for i, site := range c.Sites {
		s := site.Settings
		p := fmt.Sprintf("sites[%d].settings", i)
		if s.AllowAgentAnnotation != nil {
			es.add(p+".allowAgentAnnotation", fmt.Sprint(*s.AllowAgentAnnotation),
				"is not a customer setting since Cobrowse SDK %s and is no longer sent: agent annotation is an agent-side setting (enableAgentAnnotation in Zoom's agent SDK), which the Zoom-hosted agent desk does not take from this proxy; remove the key", annotationSince)
		}
		for _, old := range []struct {
			name     string
			old, new *bool
		}{
			{"allowCustomerAnnotation", s.AllowCustomerAnnotation, annotationField(s.Annotation, true)},
			{"enableAnnotationFollowScroll", s.EnableAnnotationFollowScroll, annotationField(s.Annotation, false)},
		} {
			switch {
			case old.old == nil:
			case old.new != nil:
				es.add(p+"."+old.name, fmt.Sprint(*old.old),
					"is the name used before Cobrowse SDK %s and is ignored because settings.annotation.%s is set; remove it", annotationSince, old.name)
			default:
				es.add(p+"."+old.name, fmt.Sprint(*old.old),
					"is the name used before Cobrowse SDK %s; it still works and is sent as annotation.%s: write it as settings.annotation.%s", annotationSince, old.name, old.name)
			}
		}
		if s.annotation() != nil {
			annotated = append(annotated, p+".annotation")
		}
	}
	if v := c.Zoom.SDKVersion; len(annotated) > 0 && versionBefore(v, 2, 11) {
		es.add("zoom.sdkVersion", v,
			"is older than Cobrowse SDK %s, which the typed settings target: %s is not read by it; load %s or later (or leave sdkVersion empty for the latest)",
			annotationSince, strings.Join(annotated, ", "), annotationSince)
	}
	return es
}

func annotationField(a *Annotation, allow bool) *bool {
	switch {
	case a == nil:
		return nil
	case allow:
		return a.AllowCustomerAnnotation
	}
	return a.EnableAnnotationFollowScroll
}

// versionBefore reports whether an SDK version such as "2.9.0" or "2.9.x"
// is older than major.minor. An empty or unparsable version (the latest,
// or one Validate reports) is not.
func versionBefore(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || ma == major && mi < minor
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
// c.Sites[i]: the policy file first, then the config's central policy, then the site's additions, without
// duplicates. Because a site can only append, the central policy can never
// be weakened by a site's configuration.
func (c *Config) SiteMask(i int) (selectors, attributes []string) {
	s := c.Sites[i]
	m := &c.Masking
	return union(m.Policy.Selectors, m.Selectors, s.Masking.Selectors), union(m.Policy.Attributes, m.Attributes, s.Masking.Attributes)
}

func union(lists ...[]string) []string {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for _, list := range lists {
		for _, v := range list {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}
