package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateTLS(t *testing.T) {
	dir := t.TempDir()
	roots := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(roots, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	acme := func(f func(a *TLSACME)) func(c *Config) {
		return func(c *Config) { c.TLS.Mode = TLSModeACME; f(&c.TLS.ACME) }
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"acme full ok", acme(func(a *TLSACME) {
			a.Email = "ops@example.com"
			a.CA = "https://acme-staging-v02.api.letsencrypt.org/directory"
			a.CARoots = roots
			a.Challenges = []string{ChallengeTLSALPN01}
			a.Storage = dir
			a.Domains = []string{"extra.example.com"}
			a.OnDemand = TLSOnDemand{Enabled: true, Allow: []string{"*.customers.example.com"}, Ask: "http://127.0.0.1:5555/check", RatePerMinute: 5}
		}), ``},
		{"acme loopback http ca ok", acme(func(a *TLSACME) { a.CA = "http://127.0.0.1:14000/dir" }), ``},
		{"acme email", acme(func(a *TLSACME) { a.Email = "ops at example" }),
			`tls.acme.email: "ops at example" must be an e-mail address such as ops@example.com (or empty)`},
		{"acme ca http", acme(func(a *TLSACME) { a.CA = "http://ca.example.com/directory" }),
			`tls.acme.ca: "http://ca.example.com/directory" must use https; http is allowed only for loopback hosts (localhost, 127.0.0.1, ::1)`},
		{"acme ca not url", acme(func(a *TLSACME) { a.CA = "letsencrypt" }),
			`tls.acme.ca: "letsencrypt" must be an ACME directory URL such as https://acme-v02.api.letsencrypt.org/directory`},
		{"acme ca roots missing", acme(func(a *TLSACME) { a.CARoots = filepath.Join(dir, "nope.pem") }),
			`tls.acme.caRoots: "` + filepath.Join(dir, "nope.pem") + `" cannot be read: no such file or directory`},
		{"acme challenges", acme(func(a *TLSACME) { a.Challenges = []string{"dns-01", ChallengeHTTP01, ChallengeHTTP01} }),
			"tls.acme.challenges[0]: \"dns-01\" must be http-01 or tls-alpn-01 (DNS-01 is not supported)\n" +
				`tls.acme.challenges[2]: "http-01" is listed twice`},
		{"acme no challenges", acme(func(a *TLSACME) { a.Challenges = []string{} }),
			`tls.acme.challenges: must enable at least one of http-01 and tls-alpn-01`},
		{"acme storage empty", acme(func(a *TLSACME) { a.Storage = "" }),
			`tls.acme.storage: is required: a directory for the ACME account and certificates, default /var/lib/cobrowse-proxy/acme`},
		{"acme storage file", acme(func(a *TLSACME) { a.Storage = roots }),
			`tls.acme.storage: "` + roots + `" is not a directory`},
		{"acme domains", acme(func(a *TLSACME) { a.Domains = []string{"*.example.com", "a b"} }),
			"tls.acme.domains[0]: \"*.example.com\" wildcard certificates need the DNS-01 challenge, which is not supported; list the names, or use onDemand.allow\n" +
				`tls.acme.domains[1]: "a b" is not a valid host name: labels are 1..63 letters, digits, - or _, not starting or ending with -`},
		{"on demand unguarded", acme(func(a *TLSACME) { a.OnDemand.Enabled = true }),
			`tls.acme.onDemand: enabled needs allow or ask: without them anyone could make the proxy request certificates for any name pointed at it`},
		{"on demand bad", acme(func(a *TLSACME) {
			a.OnDemand = TLSOnDemand{Enabled: true, Allow: []string{"*"}, Ask: "ftp://x/y", RatePerMinute: -1}
		}),
			"tls.acme.onDemand.allow[0]: \"*\" a catch-all host is not allowed (the proxy must not be open); list the host names\n" +
				"tls.acme.onDemand.ask: \"ftp://x/y\" must be an http or https URL without user or fragment, e.g. http://127.0.0.1:5555/check\n" +
				`tls.acme.onDemand.ratePerMinute: "-1" must be at least 1 (default 10)`},
		{"on demand off ignores its keys", acme(func(a *TLSACME) { a.OnDemand.Ask = "ftp://x" }), ``},
		{"files reload interval", func(c *Config) {
			c.TLS.Mode = TLSModeFiles
			c.TLS.Files = TLSFiles{CertFile: roots, KeyFile: roots, ReloadInterval: time.Millisecond}
		}, `tls.files.reloadInterval: "1ms" must be at least 1s (default 30s)`},
		{"hsts ok", func(c *Config) {
			c.TLS.Mode = TLSModeACME
			c.Sites[0].HSTS = HSTS{MaxAge: 8760 * time.Hour, IncludeSubDomains: true}
		}, ``},
		{"hsts with tls off", func(c *Config) { c.Sites[0].HSTS.MaxAge = time.Hour },
			`sites[0].hsts.maxAge: "1h0m0s" has no effect with tls.mode off (HSTS is sent only over the proxy's own HTTPS); set it at the ingress that ends TLS, or set 0s`},
		{"hsts negative", func(c *Config) { c.Sites[0].HSTS.MaxAge = -time.Hour },
			`sites[0].hsts.maxAge: "-1h0m0s" must not be negative; 0s sends no header`},
		{"hsts subdomains without max age", func(c *Config) { c.Sites[0].HSTS.IncludeSubDomains = true },
			`sites[0].hsts.includeSubDomains: needs maxAge > 0, e.g. maxAge: 8760h`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(c)
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestTLSDefaults(t *testing.T) {
	c := &Config{TLS: TLS{ACME: TLSACME{Domains: []string{"Extra.Example.COM."}, OnDemand: TLSOnDemand{Allow: []string{"*.Example.com"}}}}}
	c.ApplyDefaults()
	a := c.TLS.ACME
	if a.CA != DefaultACMECA || a.Storage != DefaultACMEStorage || a.OnDemand.RatePerMinute != DefaultOnDemandRatePerMinute ||
		!slices.Equal(a.Challenges, []string{ChallengeHTTP01, ChallengeTLSALPN01}) || c.TLS.Files.ReloadInterval != DefaultTLSReloadInterval {
		t.Errorf("defaults not applied: %+v files %+v", a, c.TLS.Files)
	}
	if a.Domains[0] != "extra.example.com" || a.OnDemand.Allow[0] != "*.example.com" {
		t.Errorf("names not normalised: %v %v", a.Domains, a.OnDemand.Allow)
	}
}

func TestParseACMEPathsRelative(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "roots.pem"), []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `
tls:
  mode: acme
  acme: {caRoots: roots.pem, storage: state/acme, challenges: [tls-alpn-01], onDemand: {enabled: true, ask: "http://127.0.0.1:1/ask"}}
zoom: {sdkKey: K}
sites: [{name: shop, hosts: [shop.example.com], upstream: "http://127.0.0.1:3000", hsts: {maxAge: 24h}}]
`
	c, err := Parse([]byte(yml), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.ACME.CARoots != filepath.Join(dir, "roots.pem") || c.TLS.ACME.Storage != filepath.Join(dir, "state/acme") {
		t.Errorf("paths not resolved against the config directory: %q %q", c.TLS.ACME.CARoots, c.TLS.ACME.Storage)
	}
	if c.Sites[0].HSTS.MaxAge != 24*time.Hour {
		t.Errorf("hsts = %+v", c.Sites[0].HSTS)
	}
	_, err = Parse([]byte(strings.Replace(yml, "challenges: [tls-alpn-01]", "challenges: tls-alpn-01", 1)), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "tls.acme.challenges: must be a list") {
		t.Errorf("scalar challenges: %v", err)
	}
}

func TestRedirectPort(t *testing.T) {
	for _, c := range []struct {
		port int
		bad  bool
	}{{0, false}, {443, false}, {65535, false}, {-1, true}, {70000, true}} {
		cfg := validConfig()
		cfg.TLS.RedirectPort = c.port
		err := cfg.Validate()
		if got := err != nil && strings.Contains(err.Error(), "tls.redirectPort"); got != c.bad {
			t.Errorf("redirectPort %d: error %v", c.port, err)
		}
	}
}

func TestDrainDelay(t *testing.T) {
	for _, c := range []struct {
		d   time.Duration
		bad bool
	}{{0, false}, {5 * time.Second, false}, {-time.Second, true}, {10 * time.Minute, true}} {
		cfg := validConfig()
		cfg.Server.DrainDelay = c.d
		err := cfg.Validate()
		if got := err != nil && strings.Contains(err.Error(), "server.drainDelay"); got != c.bad {
			t.Errorf("drainDelay %v: error %v", c.d, err)
		}
	}
}
