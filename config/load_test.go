package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// envMap returns a lookupEnv backed by m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

const minimalSite = `
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
`

func TestLoadGoodGolden(t *testing.T) {
	c, err := Load("testdata/good.yaml", envMap(map[string]string{"ZOOM_SDK_KEY": "ab/KEY?1"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// The golden file is the effective config: defaults filled, hosts
	// normalised, the secret redacted by Zoom.MarshalYAML.
	got, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/good.golden.yaml"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("effective config differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	if want := "https://us01-zcb.zoom.us/static/resource/sdk/ab%2FKEY%3F1/js/3.6.x"; c.Zoom.SDKURL() != want {
		t.Errorf("SDKURL() = %q, want %q", c.Zoom.SDKURL(), want)
	}
	if c.Zoom.SDKSecret != "file-secret-value" {
		t.Errorf("secret from file not read (or not trimmed)")
	}
}

func TestParseOffIsString(t *testing.T) {
	for _, yml := range []string{"tls: {mode: off}\n", "tls:\n  mode: off\n", "tls: {mode: 'off'}\n", ""} {
		c, err := Parse([]byte(yml+"zoom: {sdkKey: K}\n"+minimalSite), "", nil)
		if err != nil {
			t.Fatalf("%q: %v", yml, err)
		}
		if c.TLS.Mode != "off" {
			t.Errorf("%q: tls.mode = %q, want \"off\"", yml, c.TLS.Mode)
		}
	}
}

func TestParseEnv(t *testing.T) {
	env := envMap(map[string]string{
		"KEY":    "k1",
		"HOST":   "Shop.Example.COM.",
		"EMPTY":  "",
		"GRACE":  "45s",
		"BYTES":  "8192",
		"ANNOT":  "false",
		"CUSTOM": "true",
	})
	tests := []struct {
		name  string
		yml   string
		check func(c *Config) string
		want  string // error text, "" for success
	}{
		{"plain and default", `
zoom: {sdkKey: "${KEY}", sdkVersion: "${VER:-3.6.x}"}
sites:
  - name: shop
    hosts: ["${HOST}"]
    upstream: http://${UP:-127.0.0.1:3000}/app
`, func(c *Config) string {
			return fmt.Sprint(c.Zoom.SDKKey, c.Zoom.SDKVersion, c.Sites[0].Hosts, c.Sites[0].Upstream)
		}, ""},
		{"empty uses default", `
zoom: {sdkKey: "${EMPTY:-fallback}"}` + minimalSite, func(c *Config) string { return c.Zoom.SDKKey }, ""},
		{"dollar escape", `
zoom: {sdkKey: K}
masking: {attributes: ["data-a=$${KEY}$$-$x"]}` + minimalSite, func(c *Config) string { return c.Masking.Attributes[0] }, ""},
		{"the SDK's cookie key needs no escaping", `
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    settings: {multiTabSessionPersistence: {enable: true, stateCookieKey: "$$ZCB_SESSION$$"}}
`, func(c *Config) string { return c.Sites[0].Settings.MultiTabSessionPersistence.StateCookieKey }, ""},
		{"typed values from env", `
zoom: {sdkKey: K}
server:
  shutdownGrace: ${GRACE}
  maxHeaderBytes: ${BYTES}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    settings:
      allowAgentAnnotation: ${ANNOT}
      custom: ${CUSTOM}
      n: ${BYTES}
      s: "${BYTES}"
`, func(c *Config) string {
			x := c.Sites[0].Settings.Extra
			return fmt.Sprintf("%v %v %v %T %T %T", c.Server.ShutdownGrace, c.Server.MaxHeaderBytes, *c.Sites[0].Settings.AllowAgentAnnotation, x["custom"], x["n"], x["s"])
		}, ""},
		{"keys are not expanded", `
zoom: {sdkKey: K}
${KEY}: 1` + minimalSite, nil, `${KEY}: unknown key at line 3; valid keys here: listen, tls, server, proxy, log, zoom, token, masking, reload, storage, sites`},
		{"missing variable", `
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: ${UPSTREAM_URL}
`, nil, `sites[0].upstream: environment variable UPSTREAM_URL is not set; export it or write ${UPSTREAM_URL:-default}`},
		{"missing variables reported together", `
zoom: {sdkKey: "${ZOOM_SDK_KEY}"}
sites:
  - name: ${A}-${B}
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
`, nil, "zoom.sdkKey: environment variable ZOOM_SDK_KEY is not set; export it or write ${ZOOM_SDK_KEY:-default}\n" +
			"sites[0].name: environment variable A is not set; export it or write ${A:-default}\n" +
			"sites[0].name: environment variable B is not set; export it or write ${B:-default}"},
		{"bad reference", `
zoom: {sdkKey: "${KEY-x}", sdkSecret: "abc${def"}` + minimalSite, nil,
			"zoom.sdkKey: has an invalid ${...} reference: write ${NAME} or ${NAME:-default}, where NAME is letters, digits and _ (and $${ for a literal ${)\n" +
				"zoom.sdkSecret: has an unterminated ${; write $${ for a literal ${"},
	}
	wantValues := map[string]string{
		"plain and default":                      "k13.6.x[shop.example.com]http://127.0.0.1:3000/app",
		"empty uses default":                     "fallback",
		"dollar escape":                          "data-a=${KEY}$$-$x",
		"the SDK's cookie key needs no escaping": "$$ZCB_SESSION$$",
		"typed values from env":                  "45s 8192 false bool int string",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yml), "", env)
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Fatalf("Parse() error =\n%v\nwant\n%s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tt.check(c); got != wantValues[tt.name] {
				t.Errorf("got %q, want %q", got, wantValues[tt.name])
			}
		})
	}
}

func TestParseFileKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/key", "file-key\n")
	write("secrets/secret", "TOP-SECRET-VALUE \r\n")
	write("secrets/empty", "\n")
	write("secrets/short", "12345\n")
	write("secrets/big", strings.Repeat("x", maxSecretFileBytes+1))

	t.Run("relative paths resolve against the config dir", func(t *testing.T) {
		write("config.yaml", "zoom: {sdkKeyFile: secrets/key, sdkSecretFile: secrets/secret}\n"+minimalSite)
		c, err := Load(filepath.Join(dir, "config.yaml"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Zoom.SDKKey != "file-key" || c.Zoom.SDKSecret != "TOP-SECRET-VALUE" {
			t.Errorf("key %q / secret read wrongly (trailing space not trimmed?)", c.Zoom.SDKKey)
		}
		if want := filepath.Join(dir, "secrets/key"); c.Zoom.SDKKeyFile != want {
			t.Errorf("SDKKeyFile = %q, want %q", c.Zoom.SDKKeyFile, want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate after Load = %v, want nil", err)
		}
	})

	tests := []struct {
		name, zoom, want string
	}{
		{"both set", `{sdkKey: K, sdkKeyFile: secrets/key}`,
			`zoom.sdkKeyFile: set only one of zoom.sdkKey and zoom.sdkKeyFile`},
		{"secret both set", `{sdkKey: K, sdkSecret: TOP-SECRET-VALUE, sdkSecretFile: secrets/secret}`,
			`zoom.sdkSecretFile: set only one of zoom.sdkSecret and zoom.sdkSecretFile`},
		{"missing file", `{sdkKeyFile: secrets/nope}`,
			`zoom.sdkKeyFile: "DIR/secrets/nope" cannot be read: no such file or directory`},
		{"empty file", `{sdkKeyFile: secrets/empty}`,
			`zoom.sdkKeyFile: "DIR/secrets/empty" is empty`},
		{"directory", `{sdkKey: K, sdkSecretFile: secrets}`,
			`zoom.sdkSecretFile: "DIR/secrets" is not a regular file`},
		{"short secret file", `{sdkKey: K, sdkSecretFile: secrets/short}`,
			`zoom.sdkSecretFile: "DIR/secrets/short" holds a 5-byte secret; an SDK secret has at least 16 (Zoom's are 32 characters): copy the whole SDK secret from the Zoom app's credentials`},
		{"too big", `{sdkKey: K, sdkSecretFile: secrets/big}`,
			`zoom.sdkSecretFile: "DIR/secrets/big" is larger than 65536 bytes; it should hold just the key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("zoom: "+tt.zoom+"\n"+minimalSite), dir, nil)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("Parse() error =\n%v\nwant\n%s", err, want)
			}
		})
	}
}

func TestParseStructureErrors(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"unknown key with line", `
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstrem: http://127.0.0.1:3000
`, "sites[0].upstrem: unknown key at line 6; valid keys here: name, hosts, upstream, preserveHost, inject, settings, widget, masking, csp, crossOriginAssets, hsts\n" +
			"sites[0].upstream: is required: the URL of the site behind the proxy, e.g. http://127.0.0.1:3000"},
		{"unknown keys inside typed settings pass through", `
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    settings: {remoteAssist: {newMode: 1}, annotation: {enableAnnotationFollowScroll: true}}
`, ""},
		{"wrong types", `
zoom: {sdkKey: K}
server: {idleTimeout: 5, maxHeaderBytes: lots}
masking: {autoMaskSensitiveInputs: maybe, selectors: .a}
sites:
  - name: [shop]
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    widget: big
`, "server.idleTimeout: \"5\" must be a duration with a unit, such as 30s, 5m or 2h (0s for none) (line 3)\n" +
			"server.maxHeaderBytes: \"lots\" must be a whole number (line 3)\n" +
			"masking.autoMaskSensitiveInputs: \"maybe\" must be true or false (line 4)\n" +
			"masking.selectors: must be a list (line 4), not a single value; write [a, b] or one \"- item\" per line\n" +
			"sites[0].name: must be a string (line 6), not a list\n" +
			"sites[0].widget: must be a mapping of keys (line 9), not a single value"},
		{"duplicate key", `
zoom: {sdkKey: K}
log:
  level: info
  level: debug
` + minimalSite, `log.level: is set twice (lines 4 and 5); keep one`},
		{"empty file", ``, "zoom.sdkKey: is required: set zoom.sdkKey, e.g. sdkKey: ${ZOOM_SDK_KEY}, or zoom.sdkKeyFile\n" +
			"sites: no sites configured; add at least one site with name, hosts and upstream"},
		{"only comments", "# nothing here\n# yet\n", "zoom.sdkKey: is required: set zoom.sdkKey, e.g. sdkKey: ${ZOOM_SDK_KEY}, or zoom.sdkKeyFile\n" +
			"sites: no sites configured; add at least one site with name, hosts and upstream"},
		{"syntax error names the line", "zoom: {sdkKey: K}\nlog:\n  level: info: debug\n", `yaml: line 3: mapping values are not allowed in this context`},
		{"two documents", "zoom: {sdkKey: K}\n---\nsites: []\n", `line 2: a second YAML document (---) starts here; the config must be one document`},
		{"top level list", "- a\n- b\n", `line 1: the top level must be a mapping of keys such as zoom and sites`},
		{"anchors and merge keys", `
zoom: {sdkKey: K}
sites:
  - &base
    name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
  - <<: *base
    name: blog
    hosts: [blog.example.com]
`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yml), "", nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Parse() error =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadWrapsPath(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "testdata/does-not-exist.yaml") {
		t.Errorf("Load() error = %v, want it to name the file", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("zoom: {sdkKey: K}\nsites: []\n"), 0o600)
	_, err = Load(p, nil)
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Path != "sites" {
		t.Errorf("Load() error = %#v, want Errors for sites", err)
	}
}

// TestSecretNeverShown puts a secret where it can go wrong and checks that
// no error message, String, %#v, slog or JSON output contains it.
func TestSecretNeverShown(t *testing.T) {
	const secret = "TOP-SECRET-VALUE"
	env := envMap(map[string]string{"ZOOM_SDK_SECRET": secret + "\x01"})
	yml := `
zoom: {sdkKey: "K", sdkSecret: "${ZOOM_SDK_SECRET}", cdn: "ftp://x"}
sites: []
`
	_, err := Parse([]byte(yml), "", env)
	if err == nil {
		t.Fatal("Parse() succeeded, want errors")
	}
	if !strings.Contains(err.Error(), "zoom.sdkSecret: must not contain control characters") {
		t.Errorf("missing secret error in:\n%v", err)
	}

	c := validConfig()
	c.Zoom.SDKSecret = secret
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Zoom.SDKSecretFile = "s.txt" // both set: an error about the secret
	verr := c.Validate()
	if verr == nil {
		t.Fatal("want both-set error")
	}
	var logBuf strings.Builder
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "zoom", c.Zoom)
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("cfg", "config", c)
	js, _ := json.Marshal(c)
	outputs := map[string]string{
		"error":      err.Error(),
		"validate":   verr.Error(),
		"String":     c.Zoom.String(),
		"%v config":  fmt.Sprintf("%v", c),
		"%+v config": fmt.Sprintf("%+v", *c),
		"%#v zoom":   fmt.Sprintf("%#v", c.Zoom),
		"slog":       logBuf.String(),
		"json":       string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s output contains the secret: %s", name, out)
		}
	}
	if !strings.Contains(c.Zoom.String(), redacted) {
		t.Errorf("String() = %s, want the secret shown as %s", c.Zoom.String(), redacted)
	}
}

func TestDefaultsIdempotent(t *testing.T) {
	c := validConfig()
	c.Sites[0].Hosts = []string{"Shop.Example.COM..", "*.Example.org"}
	c.Zoom.CDN = "https://cdn.example.com/sdk//"
	c.ApplyDefaults()
	once := fmt.Sprintf("%+v", *c)
	c.ApplyDefaults()
	if twice := fmt.Sprintf("%+v", *c); once != twice {
		t.Errorf("ApplyDefaults is not idempotent:\n%s\n%s", once, twice)
	}
	if got := c.Sites[0].Hosts; got[0] != "shop.example.com" || got[1] != "*.example.org" {
		t.Errorf("hosts = %q", got)
	}
	if c.Zoom.CDN != "https://cdn.example.com/sdk" {
		t.Errorf("cdn = %q", c.Zoom.CDN)
	}
	if c.Server.ReadHeaderTimeout != 10*time.Second || *c.Sites[0].PreserveHost != true || c.Sites[0].Widget.Label != "Get help" {
		t.Errorf("defaults not applied: %+v", c.Server)
	}
}

func TestParseSessionKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const key = "SESSION-KEY-0123456789-0123456789-0123456789"
	write("session", key+"\n")
	write("short", "SHORT-SESSION-KEY\n")
	write("empty", "\n")

	c, err := Parse([]byte("zoom: {sdkKey: K}\ntoken: {agent: {sessionKeyFile: session}}\n"+minimalSite), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token.Agent.SessionKey != key {
		t.Error("session key not read from the file (or not trimmed)")
	}
	if want := filepath.Join(dir, "session"); c.Token.Agent.SessionKeyFile != want {
		t.Errorf("SessionKeyFile = %q, want %q", c.Token.Agent.SessionKeyFile, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Parse = %v, want nil", err)
	}

	tests := []struct {
		name, agent, want string
	}{
		{"both set", `{sessionKey: "` + key + `", sessionKeyFile: session}`,
			`token.agent.sessionKeyFile: set only one of token.agent.sessionKey and token.agent.sessionKeyFile`},
		{"too short from file", `{sessionKeyFile: short}`,
			`token.agent.sessionKeyFile: "DIR/short" must be at least 32 bytes; generate one with: openssl rand -base64 48`},
		{"too short inline", `{sessionKey: SHORT-SESSION-KEY}`,
			`token.agent.sessionKey: must be at least 32 bytes; generate one with: openssl rand -base64 48`},
		{"missing file", `{sessionKeyFile: nope}`,
			`token.agent.sessionKeyFile: "DIR/nope" cannot be read: no such file or directory`},
		{"empty file", `{sessionKeyFile: empty}`,
			`token.agent.sessionKeyFile: "DIR/empty" is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("zoom: {sdkKey: K}\ntoken: {agent: "+tt.agent+"}\n"+minimalSite), dir, nil)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("Parse() error =\n%v\nwant\n%s", err, want)
			}
			if err != nil && strings.Contains(err.Error(), "SHORT-SESSION-KEY") {
				t.Errorf("error shows the session key: %v", err)
			}
		})
	}
}

func TestParseTokenAndCSP(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"full", `
zoom: {sdkKey: K}
token:
  maxBodyBytes: 4096
  byop: true
  customer: {rate: {every: 1s, burst: 2, maxClients: 3}}
  agent:
    keys: [{name: alice, hash: ` + hashA + `}]
    identity: {header: X-Forwarded-Email, nameHeader: X-Forwarded-User, from: [10.0.0.0/8]}
    sessionTTL: 1h
    insecureCookie: true
    rate: {every: 2s, burst: 4, maxClients: 5}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    csp:
      mode: "off"
      extraSources: {img-src: [data:], connect-src: ["wss://*.zoomgov.com"]}
      reportUri: false
    crossOriginAssets: off
`, ""},
		{"wrong types", `
zoom: {sdkKey: K}
token:
  byop: yes please
  customer: {rate: {every: 10, burst: many}}
  agent:
    keys: {name: alice}
    identity: {from: 10.0.0.0/8}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    csp:
      extraSources: {img-src: "data:", font-src: [[a]], connect-src: [https://x.example]}
`, "token.byop: \"yes please\" must be true or false (line 4)\n" +
			"token.customer.rate.every: \"10\" must be a duration with a unit, such as 30s, 5m or 2h (0s for none) (line 5)\n" +
			"token.customer.rate.burst: \"many\" must be a whole number (line 5)\n" +
			"token.agent.keys: must be a list (line 7), not a mapping; write [a, b] or one \"- item\" per line\n" +
			"token.agent.identity.from: must be a list (line 8), not a single value; write [a, b] or one \"- item\" per line\n" +
			"sites[0].csp.extraSources.img-src: must be a list (line 14), not a single value; write [a, b] or one \"- item\" per line\n" +
			"sites[0].csp.extraSources.font-src[0]: must be a string (line 14), not a list"},
		{"extra sources not a mapping", `
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    csp: {extraSources: [script-src]}
`, "sites[0].csp.extraSources: must be a mapping of keys (line 7), not a list"},
		{"extra sources duplicate directive", `
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    csp:
      extraSources:
        img-src: [data:]
        img-src: [blob:]
`, "sites[0].csp.extraSources.img-src: is set twice (lines 9 and 10); keep one"},
		{"unknown key under agent", `
zoom: {sdkKey: K}
token: {agent: {key: abc}}
` + minimalSite, "token.agent.key: unknown key at line 3; valid keys here: keys, identity, sessionTTL, sessionKey, sessionKeyFile, insecureCookie, rate, identityRate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yml), "", nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Parse() error =\n%s\nwant\n%s", got, tt.want)
			}
			if tt.name != "full" {
				return
			}
			tok, s := c.Token, c.Sites[0]
			if tok.MaxBodyBytes != 4096 || !tok.BYOP || tok.Customer.Rate != (RateLimit{time.Second, 2, 3}) ||
				tok.Agent.Rate != (RateLimit{2 * time.Second, 4, 5}) || tok.Agent.SessionTTL != time.Hour || !tok.Agent.InsecureCookie ||
				!tok.Agent.Configured() || tok.Agent.Identity.NameHeader != "X-Forwarded-User" {
				t.Errorf("token = %+v", tok)
			}
			if s.CSP.Mode != CSPModeOff || *s.CSP.ReportURI || s.CrossOriginAssets != CrossOriginOff ||
				fmt.Sprint(s.CSP.ExtraSources) != "map[connect-src:[wss://*.zoomgov.com] img-src:[data:]]" {
				t.Errorf("site = %+v %q", s.CSP, s.CrossOriginAssets)
			}
		})
	}
}

// TestSessionKeyNeverShown is TestSecretNeverShown for the agent session key.
func TestSessionKeyNeverShown(t *testing.T) {
	const secret = "SESSION-KEY-SECRET-VALUE-0123456789"
	env := envMap(map[string]string{"SESSION_KEY": secret + "\x01"})
	_, err := Parse([]byte("zoom: {sdkKey: K}\ntoken: {agent: {sessionKey: \"${SESSION_KEY}\"}}\n"+minimalSite), "", env)
	if err == nil || err.Error() != "token.agent.sessionKey: must not contain control characters (check for a stray newline)" {
		t.Errorf("Parse() error = %v", err)
	}

	c := validConfig()
	c.Token.Agent.SessionKey = secret
	c.Token.Agent.Keys = []AgentKey{{Name: "alice", Hash: hashA}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Token.Agent.SessionKeyFile = "k.txt" // both set: an error about the key
	verr := c.Validate()
	if verr == nil {
		t.Fatal("want both-set error")
	}
	short := validConfig()
	short.Token.Agent.SessionKey = secret[:20]
	serr := short.Validate()
	if serr == nil {
		t.Fatal("want too-short error")
	}
	var logBuf strings.Builder
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "agent", c.Token.Agent, "token", c.Token)
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("cfg", "config", c, "agent", c.Token.Agent)
	js, _ := json.Marshal(c)
	ym, _ := yaml.Marshal(c)
	outputs := map[string]string{
		"error":      err.Error(),
		"validate":   verr.Error(),
		"short":      serr.Error(),
		"String":     c.Token.Agent.String(),
		"%v config":  fmt.Sprintf("%v", c),
		"%+v config": fmt.Sprintf("%+v", *c),
		"%#v agent":  fmt.Sprintf("%#v", c.Token.Agent),
		"%+v token":  fmt.Sprintf("%+v", c.Token),
		"slog":       logBuf.String(),
		"json":       string(js),
		"yaml":       string(ym),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret[:20]) {
			t.Errorf("%s output contains the session key: %s", name, out)
		}
	}
	for _, name := range []string{"String", "json", "yaml", "%#v agent"} {
		if !strings.Contains(outputs[name], redacted) {
			t.Errorf("%s output does not show the key as %s: %s", name, redacted, outputs[name])
		}
	}
	if !strings.Contains(outputs["String"], hashA) || !strings.Contains(outputs["json"], "alice") {
		t.Errorf("redaction dropped the other fields: %s", outputs["String"])
	}
	if c.Token.Agent.SessionKey != secret {
		t.Error("redacting changed the Config")
	}
}
