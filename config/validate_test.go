package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{"tls acme", func(c *Config) { c.TLS.Mode = "acme" },
			`tls.mode: "acme" is not available in this version yet; use off or files`},
		{"tls unknown mode", func(c *Config) { c.TLS.Mode = "on" },
			`tls.mode: "on" must be off or files`},
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
		{"host catch-all", func(c *Config) { c.Sites[0].Hosts = []string{"*"} },
			`sites[0].hosts[0]: "*" a catch-all host is not allowed (the proxy must not be open); list the host names`},
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
