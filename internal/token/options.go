package token

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

// Defaults applied by Options.SetDefaults.
const (
	DefaultPrefix       = "/__cobrowse"
	DefaultMaxBodyBytes = 8 << 10
)

// RateLimit configures a per-client token bucket (see package ratelimit).
type RateLimit = ratelimit.Limit

// Options configure a Service. The config package fills the data fields;
// the caller supplies the functions. Call SetDefaults, then Validate.
type Options struct {
	// Prefix is the reserved path prefix (default /__cobrowse); the token
	// endpoint is {Prefix}/token.
	Prefix string
	// SDKKey is the public SDK key (app_key).
	SDKKey string
	// Secret yields the SDK secret: StaticSecret or FileSecret.
	Secret SecretSource
	// TTL is the token lifetime when a request asks for none (default 2h,
	// Zoom's sample's default); requests may ask for 30m..48h.
	TTL time.Duration
	// MaxBodyBytes limits request bodies (default 8 KiB); larger: 413.
	MaxBodyBytes int64
	// BYOP turns on Bring Your Own PIN: customer tokens carry enable_byop: 1
	// and the response carries the pinCode the page passes to session.start.
	BYOP bool
	// CustomerRate limits customer token requests per client address
	// (default one per 10 s, burst 5, 10000 clients).
	CustomerRate RateLimit
	// Agent configures agent authentication; with nothing configured,
	// agent tokens are refused.
	Agent AgentOptions
	// Redis, when set (storage.redis), makes CustomerRate, Agent.Rate and
	// Agent.IdentityRate count across every replica that shares it: one
	// round trip per limit checked. While Redis fails, each replica falls
	// back to its own buckets (see ratelimit.Shared).
	Redis *fleet.Redis

	// Scheme returns the scheme the client used, for the same-origin check
	// (default RequestScheme: TLS on this connection or not).
	Scheme func(*http.Request) string
	// ClientAddr returns the client address for rate limits; the caller
	// reads X-Forwarded-For here only when the peer is a trusted proxy
	// (default RemoteAddr).
	ClientAddr func(*http.Request) netip.Addr
	// PeerAddr returns the raw connection peer, the only address the
	// identity header check trusts (default RemoteAddr). Never a forwarded
	// header.
	PeerAddr func(*http.Request) netip.Addr
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives refusals (debug) and failures (error); default discards.
	Logger *slog.Logger
	// Metrics, when set, counts issued and refused tokens.
	Metrics *Metrics
}

// AgentOptions configure agent authentication and the agent desk session.
type AgentOptions struct {
	// Keys are bearer access keys, stored as hashes (see HashKey).
	Keys []AgentKey
	// Identity configures the identity header from a trusted auth proxy.
	Identity IdentityHeader
	// SessionTTL is the desk session cookie's lifetime (default 8h).
	SessionTTL time.Duration
	// SessionKey, when set (32+ bytes), signs session cookies instead of a
	// key derived from the SDK secret (see Sessions).
	SessionKey []byte
	// InsecureCookie leaves Secure off the session cookie: plain-HTTP
	// development on a non-localhost name only.
	InsecureCookie bool
	// Rate limits failed agent authentications per client address
	// (default one per 6 s, burst 10, 10000 clients): wrong keys at
	// sign-in and agent token requests without valid credentials use it
	// up; successful ones do not, so one agent's typos behind an office NAT
	// lock out guessing, not every colleague.
	Rate RateLimit
	// IdentityRate limits agent token requests per authenticated agent
	// (default one per 2 s, burst 30, 10000 agents).
	IdentityRate RateLimit
	// Revoked, when set, is the signed-out session list to share: the
	// server passes the same one to every Service it builds, so a reload
	// does not bring signed-out cookies back.
	Revoked *Revocations
}

// SetDefaults fills zero fields with their defaults.
func (o *Options) SetDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	rateDefaults(&o.CustomerRate, 10*time.Second, 5)
	rateDefaults(&o.Agent.Rate, 6*time.Second, 10)
	rateDefaults(&o.Agent.IdentityRate, 2*time.Second, 30)
	if o.Agent.SessionTTL == 0 {
		o.Agent.SessionTTL = DefaultSessionTTL
	}
	if o.Scheme == nil {
		o.Scheme = RequestScheme
	}
	if o.ClientAddr == nil {
		o.ClientAddr = RemoteAddr
	}
	if o.PeerAddr == nil {
		o.PeerAddr = RemoteAddr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func rateDefaults(r *RateLimit, every time.Duration, burst int) {
	if r.Every == 0 {
		r.Every = every
	}
	if r.Burst == 0 {
		r.Burst = burst
	}
	if r.MaxClients == 0 {
		r.MaxClients = 10000
	}
}

// Validate returns every problem at once, each naming its field by the
// config path proposed for it (token.*); no message contains a secret.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("token."+format, args...))
	}
	if !strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/") {
		add("prefix: %q must start with / and not end with /", o.Prefix)
	}
	if o.SDKKey == "" {
		errs = append(errs, errors.New("zoom.sdkKey: is required to sign tokens"))
	}
	if o.Secret == nil {
		errs = append(errs, errors.New("zoom.sdkSecret: is required (or zoom.sdkSecretFile)"))
	}
	if err := CheckTTL(o.TTL); err != nil {
		add("ttl: %v", err)
	}
	if o.MaxBodyBytes < 256 {
		add("maxBodyBytes: %d is too small (at least 256)", o.MaxBodyBytes)
	}
	checkRate := func(field string, r RateLimit) {
		if r.Every <= 0 {
			add("%s.every: must be positive", field)
		}
		if r.Burst < 1 {
			add("%s.burst: must be at least 1", field)
		}
		if r.MaxClients < 1 {
			add("%s.maxClients: must be at least 1", field)
		}
	}
	checkRate("customer.rate", o.CustomerRate)
	checkRate("agent.rate", o.Agent.Rate)
	checkRate("agent.identityRate", o.Agent.IdentityRate)
	names, hashes := map[string]bool{}, map[string]bool{}
	for i, k := range o.Agent.Keys {
		f := fmt.Sprintf("agent.keys[%d]", i)
		if checkUserID(k.Name) != nil || CleanName(k.Name, MaxUserNameLen) != k.Name {
			add("%s.name: must be 1..%d printable characters", f, MaxUserNameLen)
		} else if names[k.Name] {
			add("%s.name: %q is used twice", f, k.Name)
		}
		names[k.Name] = true
		h := strings.ToLower(k.Hash)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			add("%s.hash: must be 64 hex digits (run `cobrowse-proxy hash-key`); never put the key itself here", f)
		} else if hashes[h] {
			add("%s.hash: the same key is configured twice", f)
		}
		hashes[h] = true
	}
	id := o.Agent.Identity
	switch {
	case id.Header != "" && len(id.From) == 0:
		add("agent.identity.from: is required with agent.identity.header (the auth proxy's addresses)")
	case id.Header == "" && (len(id.From) > 0 || id.NameHeader != ""):
		add("agent.identity.header: is required with agent.identity.from / nameHeader")
	}
	for i, p := range id.From {
		if !p.IsValid() {
			add("agent.identity.from[%d]: is not a valid prefix", i)
		} else if p.Bits() == 0 {
			add("agent.identity.from[%d]: %s trusts every address; name the auth proxy's", i, p)
		}
	}
	if n := len(o.Agent.SessionKey); n > 0 && n < 32 {
		add("agent.sessionKey: must be at least 32 bytes")
	}
	if o.Agent.SessionTTL < time.Minute || o.Agent.SessionTTL > 7*24*time.Hour {
		add("agent.sessionTTL: %s is outside 1m..168h", o.Agent.SessionTTL)
	}
	return errors.Join(errs...)
}
