package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SHA-256 hashes of four made-up keys, as cobrowse-proxy hash-key prints them.
const (
	hashA = "15201f267c9a47721940dbf813fb959dd7cab16203e74b4edf2bf792a532ad9d"
	hashB = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	hashC = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
	hashD = "f2ca1bb6c7e907d06dafe4687e579fce76b37e4e93b7605022da52e6ccc26fd2"
)

// validConfig returns a minimal valid Config with defaults applied.
func validConfig() *Config {
	c := &Config{
		Zoom: Zoom{SDKKey: "KEY"},
		Sites: []Site{{
			Name:     "shop",
			Hosts:    []string{"shop.example.com"},
			Upstream: "http://127.0.0.1:3000",
		}},
	}
	c.ApplyDefaults()
	return c
}

func TestValidateMinimal(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "tls.crt")
	if err := os.WriteFile(cert, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"listen not host:port", func(c *Config) { c.Listen.HTTP = "8080" },
			`listen.http: "8080" must be host:port, e.g. ":8080" or "127.0.0.1:8080"`},
		{"listen bad port", func(c *Config) { c.Listen.Admin = "127.0.0.1:99999" },
			`listen.admin: "127.0.0.1:99999" must have a numeric port 0..65535`},
		{"listen clash", func(c *Config) { c.Listen.Admin = ":8080" },
			`listen.admin: ":8080" is already used by listen.http; each listener needs its own address`},
		{"https ignored when tls off", func(c *Config) { c.Listen.HTTPS = ":8080" }, ``},
		{"tls acme defaults ok", func(c *Config) { c.TLS.Mode = TLSModeACME }, ``},
		{"tls unknown mode", func(c *Config) { c.TLS.Mode = "on" },
			`tls.mode: "on" must be off, files or acme`},
		{"tls files missing", func(c *Config) {
			c.TLS.Mode = TLSModeFiles
			c.TLS.Files.CertFile = cert
			c.TLS.Files.KeyFile = filepath.Join(dir, "nope.key")
		}, `tls.files.keyFile: "` + filepath.Join(dir, "nope.key") + `" cannot be read: no such file or directory`},
		{"tls files required", func(c *Config) { c.TLS.Mode = TLSModeFiles },
			"tls.files.certFile: is required when tls.mode is files: the path to the PEM certificate chain\n" +
				"tls.files.keyFile: is required when tls.mode is files: the path to the PEM private key"},
		{"tls file is a directory", func(c *Config) {
			c.TLS.Mode = TLSModeFiles
			c.TLS.Files.CertFile = cert
			c.TLS.Files.KeyFile = dir
		}, `tls.files.keyFile: "` + dir + `" is not a regular file`},
		{"negative timeout", func(c *Config) { c.Server.WriteTimeout = -time.Second },
			`server.writeTimeout: "-1s" must not be negative; 0s means no limit`},
		{"upstream idle timeout negative", func(c *Config) { c.Proxy.UpstreamIdleTimeout = -time.Second },
			`proxy.upstreamIdleTimeout: "-1s" must be a positive duration such as 10s`},
		{"header limit too large", func(c *Config) { c.Server.MaxHeaderBytes = 2 << 20 },
			`server.maxHeaderBytes: "2097152" must be between 4096 and 1048576 bytes (default 32768): each connection may hold this much while its headers arrive`},
		{"header limit too small", func(c *Config) { c.Server.MaxHeaderBytes = 512 },
			`server.maxHeaderBytes: "512" must be between 4096 and 1048576 bytes (default 32768): each connection may hold this much while its headers arrive`},
		{"connection limit negative", func(c *Config) { c.Server.MaxConnsPerClient = -2 },
			`server.maxConnsPerClient: "-2" must be a positive number of connections, or -1 for no limit (default 1024)`},
		{"gzip level too high", func(c *Config) { c.Server.Compression.GzipLevel = 10 },
			`server.compression.gzipLevel: "10" must be 1 (fastest) to 9 (smallest), or 0 for the default (1)`},
		{"compression levels negative or too high", func(c *Config) {
			c.Server.Compression = Compression{GzipLevel: -1, BrotliQuality: 12, ZstdLevel: 23}
		}, `server.compression.gzipLevel: "-1" must be 1 (fastest) to 9 (smallest), or 0 for the default (1)` + "\n" +
			`server.compression.brotliQuality: "12" must be 1 (fastest) to 11 (smallest), or 0 for the default (2)` + "\n" +
			`server.compression.zstdLevel: "23" must be 1 (fastest) to 22 (smallest), or 0 for the default (1)`},
		{"zero timeout where default exists", func(c *Config) { c.Server.IdleTimeout = 0 },
			`server.idleTimeout: "0s" must be a positive duration such as 10s`},
		{"bad trusted proxy", func(c *Config) { c.Proxy.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33", "fe80::1%eth0"} },
			"proxy.trustedProxies[1]: \"10.0.0.0/33\" must be an IP address or CIDR prefix, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32\n" +
				`proxy.trustedProxies[2]: "fe80::1%eth0" must not have an IPv6 zone`},
		{"unknown host status", func(c *Config) { c.Proxy.UnknownHostStatus = 403 },
			`proxy.unknownHostStatus: "403" must be 421 or 404`},
		{"max scan bytes", func(c *Config) { c.Proxy.MaxScanBytes = 100 },
			`proxy.maxScanBytes: "100" must be between 1024 and 16777216 (16 MiB); default 65536`},
		{"log level", func(c *Config) { c.Log.Level = "verbose"; c.Log.Format = "xml" },
			"log.level: \"verbose\" must be debug, info, warn or error\nlog.format: \"xml\" must be text or json"},
		{"sdk key required", func(c *Config) { c.Zoom.SDKKey = "" },
			`zoom.sdkKey: is required: set zoom.sdkKey, e.g. sdkKey: ${ZOOM_SDK_KEY}, or zoom.sdkKeyFile`},
		{"sdk key and file", func(c *Config) { c.Zoom.SDKKeyFile = "key.txt" },
			`zoom.sdkKeyFile: set only one of zoom.sdkKey and zoom.sdkKeyFile`},
		{"sdk key newline", func(c *Config) { c.Zoom.SDKKey = "KEY\n" },
			`zoom.sdkKey: must not contain spaces or control characters (check for a stray newline)`},
		{"short secret", func(c *Config) { c.Zoom.SDKSecret = "12345" },
			`zoom.sdkSecret: holds a 5-byte secret; an SDK secret has at least 16 (Zoom's are 32 characters): copy the whole SDK secret from the Zoom app's credentials`},
		{"secret and file", func(c *Config) { c.Zoom.SDKSecret = "s3cret"; c.Zoom.SDKSecretFile = "s.txt" },
			`zoom.sdkSecretFile: set only one of zoom.sdkSecret and zoom.sdkSecretFile`},
		{"cdn http", func(c *Config) { c.Zoom.CDN = "http://cdn.example.com/sdk" },
			`zoom.cdn: "http://cdn.example.com/sdk" must use https; http is allowed only for loopback hosts (localhost, 127.0.0.1, ::1)`},
		{"cdn http loopback ok", func(c *Config) { c.Zoom.CDN = "http://127.0.0.1:9000/sdk" }, ``},
		{"cdn query", func(c *Config) { c.Zoom.CDN = "https://cdn.example.com/sdk?v=1" },
			`zoom.cdn: "https://cdn.example.com/sdk?v=1" must not have a query or fragment`},
		{"cdn not url", func(c *Config) { c.Zoom.CDN = "us01-zcb.zoom.us" },
			`zoom.cdn: "us01-zcb.zoom.us" must be an https URL such as https://us01-zcb.zoom.us/static/resource/sdk`},
		{"sdk version", func(c *Config) { c.Zoom.SDKVersion = "latest" },
			`zoom.sdkVersion: "latest" must be empty (latest), an exact version such as 3.6.0, or a patch range such as 3.6.x`},
		{"sdk version patch range ok", func(c *Config) { c.Zoom.SDKVersion = "3.6.x" }, ``},
		{"prefix no slash", func(c *Config) { c.Token.Prefix = "cobrowse" },
			`token.prefix: "cobrowse" must start with /, e.g. /__cobrowse`},
		{"prefix root", func(c *Config) { c.Token.Prefix = "/" },
			`token.prefix: "/" must not be / (it would hide the whole site); use e.g. /__cobrowse`},
		{"prefix trailing slash", func(c *Config) { c.Token.Prefix = "/cb/" },
			`token.prefix: "/cb/" must not end with /`},
		{"prefix query", func(c *Config) { c.Token.Prefix = "/cb?x" },
			`token.prefix: "/cb?x" may contain only letters, digits and . _ ~ / -`},
		{"ttl", func(c *Config) { c.Token.TTL = 10 * time.Minute },
			`token.ttl: "10m0s" must be between 30m and 48h (Zoom's limits); default 2h`},
		{"max body bytes", func(c *Config) { c.Token.MaxBodyBytes = 100 },
			`token.maxBodyBytes: "100" must be between 256 and 1048576 (1 MiB); default 8192`},
		{"customer rate", func(c *Config) { c.Token.Customer.Rate = RateLimit{Every: -time.Second, Burst: -1, MaxClients: -5} },
			"token.customer.rate.every: \"-1s\" must be a positive duration such as 10s\n" +
				"token.customer.rate.burst: \"-1\" must be at least 1 (default 5)\n" +
				`token.customer.rate.maxClients: "-5" must be at least 1 (default 10000)`},
		{"agent rate", func(c *Config) { c.Token.Agent.Rate.Burst = -1 },
			`token.agent.rate.burst: "-1" must be at least 1 (default 10)`},
		{"agent keys ok", func(c *Config) {
			c.Token.Agent.Keys = []AgentKey{{Name: "alice@example.com", Hash: hashA}, {Name: "bob", Hash: hashB}}
		}, ``},
		{"agent key names", func(c *Config) {
			c.Token.Agent.Keys = []AgentKey{{Name: "alice", Hash: hashA}, {Name: "alice", Hash: hashB}, {Name: "", Hash: hashC}, {Name: "Bob Smith", Hash: hashD}}
		}, "token.agent.keys[1].name: \"alice\" is already used by token.agent.keys[0]; names must be unique\n" +
			"token.agent.keys[2].name: is required: the agent's id, e.g. alice or alice@example.com\n" +
			`token.agent.keys[3].name: "Bob Smith" must be 1..64 lower-case letters, digits or . _ @ -, starting with a letter or digit`},
		{"agent key hashes", func(c *Config) {
			c.Token.Agent.Keys = []AgentKey{{Name: "a", Hash: hashA}, {Name: "b", Hash: "cbpk_RAW-KEY-VALUE"}, {Name: "c", Hash: ""}, {Name: "d", Hash: hashA}, {Name: "e", Hash: hashA[:63]}}
		}, "token.agent.keys[1].hash: must be the key's SHA-256 hash (64 lower-case hex digits), not the key itself: store only the hash, printed by \"cobrowse-proxy hash-key\"\n" +
			"token.agent.keys[2].hash: is required: the key's SHA-256 hash, printed by \"cobrowse-proxy hash-key\"\n" +
			"token.agent.keys[3].hash: is the same as token.agent.keys[0].hash; give every agent a key of their own\n" +
			`token.agent.keys[4].hash: must be the key's SHA-256 hash (64 lower-case hex digits), not the key itself: store only the hash, printed by "cobrowse-proxy hash-key"`},
		{"agent display names", func(c *Config) {
			c.Token.Agent.Keys = []AgentKey{
				{Name: "a", DisplayName: "Alice from Support – Zürich", Hash: hashA},
				{Name: "b", DisplayName: strings.Repeat("é", 80), Hash: hashB},
				{Name: "c", DisplayName: strings.Repeat("x", 81), Hash: hashC},
				{Name: "d", DisplayName: "Bob\nSmith", Hash: hashD},
			}
		}, "token.agent.keys[2].displayName: \"" + strings.Repeat("x", 81) + "\" must be at most 80 characters of text without control characters (it is the name Zoom shows the customer), e.g. \"Alice from Support\"\n" +
			`token.agent.keys[3].displayName: "Bob\nSmith" must be at most 80 characters of text without control characters (it is the name Zoom shows the customer), e.g. "Alice from Support"`},
		{"agent key hash upper case without defaults", func(c *Config) {
			c.Token.Agent.Keys = []AgentKey{{Name: "a", Hash: strings.ToUpper(hashA)}}
		}, `token.agent.keys[0].hash: must be the key's SHA-256 hash (64 lower-case hex digits), not the key itself: store only the hash, printed by "cobrowse-proxy hash-key"`},
		{"identity ok", func(c *Config) {
			c.Token.Agent.Identity = AgentIdentity{Header: "X-Forwarded-Email", NameHeader: "X-Forwarded-Preferred-Username", From: []string{"10.0.5.0/24", "::1"}}
		}, ``},
		{"identity header without from", func(c *Config) { c.Token.Agent.Identity.Header = "X-Forwarded-Email" },
			`token.agent.identity.from: is required with token.agent.identity.header: list the auth proxy's addresses (CIDR prefixes or IPs), since any client can send the header`},
		{"identity from without header", func(c *Config) {
			c.Token.Agent.Identity = AgentIdentity{NameHeader: "X-Name", From: []string{"10.0.0.1"}}
		}, `token.agent.identity.header: is required when token.agent.identity.nameHeader or token.agent.identity.from is set: the header your auth proxy sets, e.g. X-Forwarded-Email`},
		{"identity bad header names", func(c *Config) {
			c.Token.Agent.Identity = AgentIdentity{Header: "X-Forwarded-Email:", NameHeader: "X Name", From: []string{"10.0.0.1"}}
		}, "token.agent.identity.header: \"X-Forwarded-Email:\" must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or colon), e.g. X-Forwarded-Email\n" +
			"token.agent.identity.nameHeader: \"X Name\" must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or colon), e.g. X-Forwarded-Email"},
		{"identity from", func(c *Config) {
			c.Token.Agent.Identity = AgentIdentity{Header: "X-Email", From: []string{"0.0.0.0/0", "::/0", "10.0.0.0/33", "fe80::1%eth0", "192.0.2.7"}}
		}, "token.agent.identity.from[0]: \"0.0.0.0/0\" would trust every client; list only the auth proxy's addresses\n" +
			"token.agent.identity.from[1]: \"::/0\" would trust every client; list only the auth proxy's addresses\n" +
			"token.agent.identity.from[2]: \"10.0.0.0/33\" must be an IP address or CIDR prefix, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32\n" +
			`token.agent.identity.from[3]: "fe80::1%eth0" must not have an IPv6 zone`},
		{"session ttl", func(c *Config) { c.Token.Agent.SessionTTL = 30 * time.Second },
			`token.agent.sessionTTL: "30s" must be between 1m and 168h (7 days); default 8h`},
		{"session ttl too long", func(c *Config) { c.Token.Agent.SessionTTL = 8 * 24 * time.Hour },
			`token.agent.sessionTTL: "192h0m0s" must be between 1m and 168h (7 days); default 8h`},
		{"session key short", func(c *Config) { c.Token.Agent.SessionKey = "short-secret" },
			`token.agent.sessionKey: must be at least 32 bytes; generate one with: openssl rand -base64 48`},
		{"session key newline", func(c *Config) { c.Token.Agent.SessionKey = strings.Repeat("k", 40) + "\n" },
			`token.agent.sessionKey: must not contain control characters (check for a stray newline)`},
		{"session key and file", func(c *Config) {
			c.Token.Agent.SessionKey = strings.Repeat("k", 40)
			c.Token.Agent.SessionKeyFile = "k.txt"
		}, `token.agent.sessionKeyFile: set only one of token.agent.sessionKey and token.agent.sessionKeyFile`},
		{"session key file unread", func(c *Config) { c.Token.Agent.SessionKeyFile = "k.txt" },
			`token.agent.sessionKeyFile: "k.txt" has not been read: Load and Parse read *File keys`},
		{"bad selector", func(c *Config) { c.Masking.Selectors = []string{".ok", ".a["} },
			`masking.selectors[1]: ".a[" is not a valid CSS selector: expected identifier, found EOF instead`},
		{"bad attribute", func(c *Config) { c.Masking.Attributes = []string{"data-x", "1bad", "data-y="} },
			"masking.attributes[1]: \"1bad\" must be an attribute name or name=value, e.g. data-sensitive or data-pii=true\n" +
				`masking.attributes[2]: "data-y=" has an empty value after =; write just the name to match any value`},
		{"no sites", func(c *Config) { c.Sites = nil },
			`sites: no sites configured; add at least one site with name, hosts and upstream`},
		{"site name", func(c *Config) { c.Sites[0].Name = "Shop_1" },
			`sites[0].name: "Shop_1" must be 1..63 lower-case letters, digits or -, starting with a letter or digit`},
		{"site name required", func(c *Config) { c.Sites[0].Name = "" },
			`sites[0].name: is required: a short id of lower-case letters, digits and -`},
		{"duplicate site name and host", func(c *Config) {
			s := c.Sites[0]
			s.Hosts = []string{"other.example.com", "shop.example.com"}
			c.Sites = append(c.Sites, s)
		}, "sites[1].name: \"shop\" is already used by sites[0]; names must be unique\n" +
			`sites[1].hosts[1]: "shop.example.com" is already used by sites[0].hosts[0]; a host may belong to only one site`},
		{"hosts required", func(c *Config) { c.Sites[0].Hosts = nil },
			`sites[0].hosts: is required: list at least one host name, e.g. [shop.example.com]`},
		{"host with port", func(c *Config) { c.Sites[0].Hosts = []string{"shop.example.com:8080"} },
			`sites[0].hosts[0]: "shop.example.com:8080" must not include a port; the listener's port is not part of site matching`},
		{"host with scheme", func(c *Config) { c.Sites[0].Hosts = []string{"https://shop.example.com"} },
			`sites[0].hosts[0]: "https://shop.example.com" must be a host name without a scheme, e.g. shop.example.com`},
		{"host catch-all before a remote upstream", func(c *Config) { c.Sites[0].Hosts = []string{"*"}; c.Sites[0].Upstream = "http://app.internal:8080" },
			`sites[0].hosts[0]: "*" a catch-all host is only allowed for a sidecar whose upstream is on loopback (e.g. http://127.0.0.1:8080); in front of other upstreams list the host names, so unknown hosts get 421`},
		{"host inner wildcard", func(c *Config) { c.Sites[0].Hosts = []string{"shop.*.com"} },
			`sites[0].hosts[0]: "shop.*.com" may use * only as a whole leading label, as in *.example.com`},
		{"host unicode", func(c *Config) { c.Sites[0].Hosts = []string{"bücher.example"} },
			`sites[0].hosts[0]: "bücher.example" must be ASCII; write international names in punycode (xn--…)`},
		{"host bad label", func(c *Config) { c.Sites[0].Hosts = []string{"-shop.example.com"} },
			`sites[0].hosts[0]: "-shop.example.com" is not a valid host name: labels are 1..63 letters, digits, - or _, not starting or ending with -`},
		{"hosts ok: wildcard, IPv4, IPv6, localhost", func(c *Config) {
			c.Sites[0].Hosts = []string{"*.example.com", "192.0.2.1", "::1", "shop.localhost"}
		}, ``},
		{"upstream scheme", func(c *Config) { c.Sites[0].Upstream = "ftp://x" },
			`sites[0].upstream: "ftp://x" must be an http or https URL`},
		{"upstream no host", func(c *Config) { c.Sites[0].Upstream = "http:///path" },
			`sites[0].upstream: "http:///path" must include a host, e.g. http://127.0.0.1:3000`},
		{"upstream query", func(c *Config) { c.Sites[0].Upstream = "http://app:3000/x?y=1" },
			`sites[0].upstream: "http://app:3000/x?y=1" must not have a query or fragment (a path is allowed and becomes a prefix)`},
		{"upstream userinfo", func(c *Config) { c.Sites[0].Upstream = "http://u:p@app:3000" },
			`sites[0].upstream: "http://u:p@app:3000" must not contain user:password@`},
		{"upstream required", func(c *Config) { c.Sites[0].Upstream = "" },
			`sites[0].upstream: is required: the URL of the site behind the proxy, e.g. http://127.0.0.1:3000`},
		{"inject patterns", func(c *Config) {
			c.Sites[0].Inject.Include = []string{"/ok/**", "relative", "/a/**/b", "/[x"}
		}, "sites[0].inject.include[1]: \"relative\" must be a URL path pattern starting with /, e.g. /checkout/** or /*.html\n" +
			"sites[0].inject.include[2]: \"/a/**/b\" may use ** only as the last segment, as in /account/**\n" +
			`sites[0].inject.include[3]: "/[x" is not a valid pattern (see Go's path.Match: *, ?, [a-z], \ escapes)`},
		{"piiMask in settings", func(c *Config) { c.Sites[0].Settings.Extra = map[string]any{"piiMask": map[string]any{}} },
			`sites[0].settings.piiMask: masking is configured under masking: (central) and sites[i].masking; it cannot be set in settings`},
		{"non-string key in settings", func(c *Config) {
			c.Sites[0].Settings.Extra = map[string]any{"annotation": map[any]any{1: true}}
		}, `sites[0].settings.annotation: has a non-string key; init settings are JSON, whose object keys are strings (quote the key)`},
		{"cookie key", func(c *Config) {
			c.Sites[0].Settings.MultiTabSessionPersistence = &MultiTab{StateCookieKey: "a b"}
		}, `sites[0].settings.multiTabSessionPersistence.stateCookieKey: "a b" must be a valid cookie name (no spaces, quotes, commas, semicolons or = )`},
		{"widget", func(c *Config) {
			c.Sites[0].Widget.Position = "middle"
			c.Sites[0].Widget.Label = strings.Repeat("x", 41)
		}, "sites[0].widget.position: \"middle\" must be bottom-right, bottom-left, top-right or top-left\n" +
			`sites[0].widget.label: "` + strings.Repeat("x", 41) + `" is 41 characters; at most 40 are allowed`},
		{"site masking", func(c *Config) { c.Sites[0].Masking.Selectors = []string{""} },
			`sites[0].masking.selectors[0]: is not a valid CSS selector: expected selector, found EOF instead`},
		{"csp mode", func(c *Config) { c.Sites[0].CSP.Mode = "replace" },
			`sites[0].csp.mode: "replace" must be merge or off`},
		{"csp extra sources ok", func(c *Config) {
			c.Sites[0].CSP.ExtraSources = map[string][]string{
				"connect-src": {"https://*.zoomgov.com", "wss://*.zoomgov.com:443", "'self'"},
				"img-src":     {"data:", "blob:", "https://cdn.example.com/img/"},
				"style-src":   {"'unsafe-inline'"},
			}
		}, ``},
		{"csp extra directives", func(c *Config) {
			c.Sites[0].CSP.ExtraSources = map[string][]string{"default-src": {"https://a.example"}, "Script-Src": {"https://a.example"}, "sandbox": nil}
		}, "sites[0].csp.extraSources.Script-Src: is not a directive extra sources can be added to; use one of " +
			"script-src, script-src-elem, style-src, style-src-elem, connect-src, img-src, font-src, frame-src, worker-src, media-src, child-src (lower case)\n" +
			"sites[0].csp.extraSources.default-src: cannot be widened: every directive without a list of its own falls back to it; " +
			"add the sources to the directive that needs them, e.g. script-src or connect-src\n" +
			"sites[0].csp.extraSources.sandbox: is not a directive extra sources can be added to; use one of " +
			"script-src, script-src-elem, style-src, style-src-elem, connect-src, img-src, font-src, frame-src, worker-src, media-src, child-src (lower case)"},
		{"csp extra sources refused", func(c *Config) {
			c.Sites[0].CSP.ExtraSources = map[string][]string{
				"script-src":  {"*", "'unsafe-inline'", "'unsafe-eval'", "https:", "unsafe-eval", ""},
				"style-src":   {"'unsafe-eval'", "https://x.example/a b"},
				"connect-src": {"'nonce-abc'"},
			}
		}, "sites[0].csp.extraSources.connect-src[0]: \"'nonce-abc'\" nonces and hashes cannot be configured (the proxy handles nonces per response)\n" +
			"sites[0].csp.extraSources.script-src[0]: \"*\" `*` allows any host; list the Zoom hosts instead\n" +
			"sites[0].csp.extraSources.script-src[1]: \"'unsafe-inline'\" 'unsafe-inline' is allowed only for style directives\n" +
			"sites[0].csp.extraSources.script-src[2]: \"'unsafe-eval'\" this keyword is never added by the proxy\n" +
			"sites[0].csp.extraSources.script-src[3]: \"https:\" a bare network scheme allows any host; list the Zoom hosts instead\n" +
			"sites[0].csp.extraSources.script-src[4]: \"unsafe-eval\" keywords are quoted: write 'unsafe-eval'\n" +
			"sites[0].csp.extraSources.script-src[5]: must not be empty\n" +
			"sites[0].csp.extraSources.style-src[0]: \"'unsafe-eval'\" this keyword is never added by the proxy\n" +
			"sites[0].csp.extraSources.style-src[1]: \"https://x.example/a b\" not a scheme (\"data:\") or host (\"https://*.example.com:443/path/\")"},
		{"csp always report without report uri", func(c *Config) {
			c.Sites[0].CSP.ReportURI = ptr(false)
			c.Sites[0].CSP.AlwaysReport = true
		}, `sites[0].csp.alwaysReport: needs reportUri: true; alwaysReport adds the proxy's report-uri even to policies that report elsewhere`},
		{"csp baseline ok", func(c *Config) { c.Sites[0].CSP.Baseline = "default-src 'self'; img-src 'self' data:" }, ``},
		{"csp baseline newline", func(c *Config) { c.Sites[0].CSP.Baseline = "default-src 'self'\r\nX-Evil: 1" },
			`sites[0].csp.baseline: "default-src 'self'\r\nX-Evil: 1" must be printable ASCII on one line (it is sent as a header)`},
		{"csp baseline empty policy", func(c *Config) { c.Sites[0].CSP.Baseline = " ; , " },
			`sites[0].csp.baseline: " ; , " has no directives; write a policy such as "default-src 'self'", or leave it empty for none`},
		{"csp baseline with mode off", func(c *Config) {
			c.Sites[0].CSP.Mode = CSPModeOff
			c.Sites[0].CSP.Baseline = "default-src 'self'"
		}, `sites[0].csp.baseline: is set but csp.mode is off, which adds no policy; use mode merge or remove the baseline`},
		{"cross-origin assets", func(c *Config) { c.Sites[0].CrossOriginAssets = "all" },
			`sites[0].crossOriginAssets: "all" must be zoom, any or off`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(c)
			err := c.Validate()
			got := ""
			if err != nil {
				var es Errors
				if !errors.As(err, &es) {
					t.Fatalf("Validate() error is %T, want Errors", err)
				}
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestValidateAllAtOnce checks that five mistakes give five lines, in
// document order, rather than stopping at the first.
func TestValidateAllAtOnce(t *testing.T) {
	const yml = `
listen:
  http: "8080"
log:
  level: loud
zoom:
  sdkKey: KEY
token:
  ttl: 1m
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: ftp://x
    widget:
      position: middle
`
	_, err := Parse([]byte(yml), "", nil)
	want := []string{
		`listen.http: "8080" must be host:port, e.g. ":8080" or "127.0.0.1:8080"`,
		`log.level: "loud" must be debug, info, warn or error`,
		`token.ttl: "1m0s" must be between 30m and 48h (Zoom's limits); default 2h`,
		`sites[0].upstream: "ftp://x" must be an http or https URL`,
		`sites[0].widget.position: "middle" must be bottom-right, bottom-left, top-right or top-left`,
	}
	if err == nil {
		t.Fatal("Parse() succeeded, want 5 errors")
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d lines:\n%s\nwant %d:\n%s", len(got), err, len(want), strings.Join(want, "\n"))
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{"sites[0].upstream", "ftp://x", "must be an http or https URL"}, `sites[0].upstream: "ftp://x" must be an http or https URL`},
		{FieldError{"zoom.sdkKey", "", "is required"}, `zoom.sdkKey: is required`},
		{FieldError{"", "", "something"}, `something`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if got := (Errors{tests[0].e, tests[1].e}).Error(); got != tests[0].want+"\n"+tests[1].want {
		t.Errorf("Errors.Error() = %q", got)
	}
}

// A sidecar's one site may serve every Host: its upstream is the app on
// loopback, so no Host can make the proxy reach anything else.
func TestCatchAllForSidecar(t *testing.T) {
	for _, up := range []string{"http://127.0.0.1:8080", "http://[::1]:3000", "http://localhost:8080"} {
		c := validConfig()
		c.Sites[0].Hosts, c.Sites[0].Upstream = []string{"*"}, up
		if err := c.Validate(); err != nil {
			t.Errorf("catch-all before %s: %v", up, err)
		}
	}
}
