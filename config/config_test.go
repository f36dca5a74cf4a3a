package config

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/", "/", true},
		{"/", "/a", false},
		{"/about", "/about", true},
		{"/about", "/about/", false},
		{"/blog/*", "/blog/a", true},
		{"/blog/*", "/blog/a/b", false},
		{"/blog/*", "/blog", false},
		{"/*.html", "/index.html", true},
		{"/*.html", "/a/index.html", false},
		{"/account/**", "/account", true},
		{"/account/**", "/account/", true},
		{"/account/**", "/account/orders/7", true},
		{"/account/**", "/accounts", false},
		{"/account/**", "/accounts/x", false},
		{"/account/**", "/", false},
		{"/shop/*/cart/**", "/shop/de/cart", true},
		{"/shop/*/cart/**", "/shop/de/cart/items/1", true},
		{"/shop/*/cart/**", "/shop/de/en/cart", false},
		{"/**", "/", true},
		{"/**", "/anything/at/all", true},
		{"/**", "", false},
		{"/p?ge", "/page", true},
		{"/[a-c]x", "/bx", true},
		{"/[a-c]x", "/dx", false},
		{"/[", "/[", false}, // malformed: matches nothing
	}
	for _, tt := range tests {
		if got := MatchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestInitSettings checks the object sent to ZoomCobrowseSDK.init: the
// shape of Cobrowse SDK 2.11.0 and later (customer annotation in the
// annotation object, no allowAgentAnnotation), whichever names the config
// used.
func TestInitSettings(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want string
	}{
		{"empty", Settings{}, `{}`},
		{"new names", Settings{Annotation: &Annotation{AllowCustomerAnnotation: ptr(true), EnableAnnotationFollowScroll: ptr(false)}},
			`{"annotation":{"allowCustomerAnnotation":true,"enableAnnotationFollowScroll":false}}`},
		{"old flat names move into annotation", Settings{AllowCustomerAnnotation: ptr(true), EnableAnnotationFollowScroll: ptr(true)},
			`{"annotation":{"allowCustomerAnnotation":true,"enableAnnotationFollowScroll":true}}`},
		{"new name wins over old", Settings{
			AllowCustomerAnnotation: ptr(true),
			Annotation:              &Annotation{AllowCustomerAnnotation: ptr(false)},
		}, `{"annotation":{"allowCustomerAnnotation":false}}`},
		{"old and new names combine", Settings{
			EnableAnnotationFollowScroll: ptr(true),
			Annotation:                   &Annotation{AllowCustomerAnnotation: ptr(false), Extra: map[string]any{"newTool": "pen"}},
		}, `{"annotation":{"allowCustomerAnnotation":false,"enableAnnotationFollowScroll":true,"newTool":"pen"}}`},
		{"allowAgentAnnotation is not sent", Settings{AllowAgentAnnotation: ptr(true)}, `{}`},
		{"empty annotation object is sent empty", Settings{Annotation: &Annotation{}}, `{"annotation":{}}`},
		{"nested and passthrough", Settings{
			AllowCustomerAnnotation: ptr(true),
			RemoteAssist: &RemoteAssist{
				Enable:            ptr(true),
				RemoteAssistTypes: []string{"scroll_page"},
				Extra:             map[string]any{"formEdit": true},
			},
			MultiTabSessionPersistence: &MultiTab{Enable: ptr(true), StateCookieKey: "$$ZCB_SESSION$$"},
			Extra:                      map[string]any{"x": 1},
		}, `{"annotation":{"allowCustomerAnnotation":true},` +
			`"multiTabSessionPersistence":{"enable":true,"stateCookieKey":"$$ZCB_SESSION$$"},` +
			`"remoteAssist":{"enable":true,"formEdit":true,"remoteAssistTypes":["scroll_page"]},"x":1}`},
		{"typed key wins over extra", Settings{
			Annotation: &Annotation{AllowCustomerAnnotation: ptr(true)},
			Extra:      map[string]any{"annotation": "no", "allowCustomerAnnotation": "no", "allowAgentAnnotation": "no"},
		}, `{"annotation":{"allowCustomerAnnotation":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.s.InitSettings())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("InitSettings() = %s\nwant %s", b, tt.want)
			}
		})
	}
}

// TestSettingsNamesFromYAML loads the old (before SDK 2.11.0) and the new
// names from YAML and checks the JSON sent to init and the deprecation
// notes, which never make Validate fail.
func TestSettingsNamesFromYAML(t *testing.T) {
	tests := []struct {
		name, settings, sdkVersion string
		want                       string   // JSON given to init
		notes                      []string // Deprecations()
	}{
		{"new names", `
      annotation: {allowCustomerAnnotation: true, enableAnnotationFollowScroll: true}
      remoteAssist: {enable: false, requireStopConfirmation: true}
      newFeature: {level: 2, modes: [a, b]}`, "",
			`{"annotation":{"allowCustomerAnnotation":true,"enableAnnotationFollowScroll":true},"newFeature":{"level":2,"modes":["a","b"]},"remoteAssist":{"enable":false,"requireStopConfirmation":true}}`,
			nil},
		{"old names", `
      allowAgentAnnotation: true
      allowCustomerAnnotation: false
      enableAnnotationFollowScroll: true`, "",
			`{"annotation":{"allowCustomerAnnotation":false,"enableAnnotationFollowScroll":true}}`,
			[]string{
				`sites[0].settings.allowAgentAnnotation: "true" is not a customer setting since Cobrowse SDK 2.11.0 and is no longer sent: agent annotation is an agent-side setting (enableAgentAnnotation in Zoom's agent SDK), which the Zoom-hosted agent desk does not take from this proxy; remove the key`,
				`sites[0].settings.allowCustomerAnnotation: "false" is the name used before Cobrowse SDK 2.11.0; it still works and is sent as annotation.allowCustomerAnnotation: write it as settings.annotation.allowCustomerAnnotation`,
				`sites[0].settings.enableAnnotationFollowScroll: "true" is the name used before Cobrowse SDK 2.11.0; it still works and is sent as annotation.enableAnnotationFollowScroll: write it as settings.annotation.enableAnnotationFollowScroll`,
			}},
		{"old and new name both set", `
      allowCustomerAnnotation: true
      annotation: {allowCustomerAnnotation: false}`, "",
			`{"annotation":{"allowCustomerAnnotation":false}}`,
			[]string{`sites[0].settings.allowCustomerAnnotation: "true" is the name used before Cobrowse SDK 2.11.0 and is ignored because settings.annotation.allowCustomerAnnotation is set; remove it`}},
		{"annotation with an SDK older than 2.11.0", `
      annotation: {allowCustomerAnnotation: true}`, "2.9.x",
			`{"annotation":{"allowCustomerAnnotation":true}}`,
			[]string{`zoom.sdkVersion: "2.9.x" is older than Cobrowse SDK 2.11.0, which the typed settings target: sites[0].settings.annotation is not read by it; load 2.11.0 or later (or leave sdkVersion empty for the latest)`}},
		{"annotation with 2.11.0", `
      annotation: {allowCustomerAnnotation: true}`, "2.11.0",
			`{"annotation":{"allowCustomerAnnotation":true}}`, nil},
		{"no annotation with an old SDK", `
      remoteAssist: {enable: true}`, "2.9.0",
			`{"remoteAssist":{"enable":true}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(`
zoom: {sdkKey: K, sdkVersion: "`+tt.sdkVersion+`"}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    settings:`+tt.settings+"\n"), "", nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			b, err := json.Marshal(c.Sites[0].Settings.InitSettings())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("InitSettings() = %s\nwant %s", b, tt.want)
			}
			var notes []string
			for _, d := range c.Deprecations() {
				notes = append(notes, d.Error())
			}
			if !reflect.DeepEqual(notes, tt.notes) {
				t.Errorf("Deprecations() =\n%s\nwant\n%s", strings.Join(notes, "\n"), strings.Join(tt.notes, "\n"))
			}
		})
	}
}

func TestSiteMask(t *testing.T) {
	c := &Config{
		Masking: Masking{Selectors: []string{".pii", "#ssn"}, Attributes: []string{"data-sensitive"}},
		Sites: []Site{
			{Masking: SiteMasking{Selectors: []string{".address", ".pii", ".address"}, Attributes: []string{"data-x=1"}}},
			{},
		},
	}
	sel, attr := c.SiteMask(0)
	if want := []string{".pii", "#ssn", ".address"}; !reflect.DeepEqual(sel, want) {
		t.Errorf("selectors = %q, want %q", sel, want)
	}
	if want := []string{"data-sensitive", "data-x=1"}; !reflect.DeepEqual(attr, want) {
		t.Errorf("attributes = %q, want %q", attr, want)
	}
	sel, attr = c.SiteMask(1)
	if !reflect.DeepEqual(sel, c.Masking.Selectors) || !reflect.DeepEqual(attr, c.Masking.Attributes) {
		t.Errorf("site without masking = %q %q, want the central policy", sel, attr)
	}
	sel[0] = "changed"
	if c.Masking.Selectors[0] != ".pii" {
		t.Error("SiteMask result aliases the central policy")
	}
}

func TestTrustedPrefixes(t *testing.T) {
	p := Proxy{TrustedProxies: []string{"10.1.2.3/8", "192.0.2.7", "2001:db8::/32", "::1", "::ffff:10.0.0.1", "bogus"}}
	var got []string
	for _, pf := range p.TrustedPrefixes() {
		got = append(got, pf.String())
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128", "10.0.0.1/32"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TrustedPrefixes() = %q, want %q", got, want)
	}
	if !p.TrustedPrefixes()[0].Contains(netip.MustParseAddr("10.200.0.1")) {
		t.Error("10.0.0.0/8 should contain 10.200.0.1")
	}
}

func TestSlogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo} {
		if got := (Log{Level: in}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSDKURL(t *testing.T) {
	tests := []struct {
		z    Zoom
		want string
	}{
		{Zoom{SDKKey: "abc", CDN: DefaultCDN}, "https://us01-zcb.zoom.us/static/resource/sdk/abc/js"},
		{Zoom{SDKKey: "abc", CDN: DefaultCDN, SDKVersion: "3.6.0"}, "https://us01-zcb.zoom.us/static/resource/sdk/abc/js/3.6.0"},
		{Zoom{SDKKey: "a/b c", CDN: "http://localhost:9000"}, "http://localhost:9000/a%2Fb%20c/js"},
	}
	for _, tt := range tests {
		if got := tt.z.SDKURL(); got != tt.want {
			t.Errorf("SDKURL() = %q, want %q", got, tt.want)
		}
	}
}

func TestTokenAndCSPDefaults(t *testing.T) {
	c := validConfig()
	tok := c.Token
	want := Token{
		Prefix:       DefaultTokenPrefix,
		TTL:          2 * time.Hour,
		MaxBodyBytes: 8192,
		Customer:     TokenCustomer{Rate: RateLimit{Every: 10 * time.Second, Burst: 5, MaxClients: 10000}},
		Agent: TokenAgent{
			SessionTTL:   8 * time.Hour,
			Rate:         RateLimit{Every: 6 * time.Second, Burst: 10, MaxClients: 10000},
			IdentityRate: RateLimit{Every: 2 * time.Second, Burst: 30, MaxClients: 10000},
		},
	}
	if !reflect.DeepEqual(tok, want) {
		t.Errorf("token defaults =\n%+v\nwant\n%+v", tok, want)
	}
	if tok.Agent.Configured() {
		t.Error("Configured() = true with no keys and no identity header")
	}
	s := c.Sites[0]
	if s.CSP.Mode != CSPModeMerge || s.CSP.ReportURI == nil || !*s.CSP.ReportURI || s.CSP.AlwaysReport ||
		s.CSP.Baseline != "" || s.CSP.ExtraSources != nil || s.CrossOriginAssets != CrossOriginZoom {
		t.Errorf("site csp defaults = %+v, crossOriginAssets %q", s.CSP, s.CrossOriginAssets)
	}

	// Set values are kept, and a hash in upper case is lower-cased.
	c = validConfig()
	c.Token.Agent.Keys = []AgentKey{{Name: "a", Hash: strings.ToUpper(hashA)}, {Name: "b", Hash: "not-a-hash"}}
	c.Token.Customer.Rate = RateLimit{Every: time.Minute}
	c.Sites[0].CSP = CSP{Mode: CSPModeOff, ReportURI: ptr(false)}
	c.Sites[0].CrossOriginAssets = CrossOriginOff
	c.ApplyDefaults()
	if got := c.Token.Agent.Keys; got[0].Hash != hashA || got[1].Hash != "not-a-hash" {
		t.Errorf("keys after defaults = %q", got)
	}
	if r := c.Token.Customer.Rate; r != (RateLimit{Every: time.Minute, Burst: 5, MaxClients: 10000}) {
		t.Errorf("customer rate = %+v", r)
	}
	if s := c.Sites[0]; s.CSP.Mode != CSPModeOff || *s.CSP.ReportURI || s.CrossOriginAssets != CrossOriginOff {
		t.Errorf("set csp values overwritten: %+v %q", s.CSP, s.CrossOriginAssets)
	}
}

func TestAgentConfigured(t *testing.T) {
	tests := []struct {
		name string
		a    TokenAgent
		want bool
	}{
		{"nothing", TokenAgent{}, false},
		{"session key only", TokenAgent{SessionKey: strings.Repeat("k", 32)}, false},
		{"keys", TokenAgent{Keys: []AgentKey{{Name: "a", Hash: hashA}}}, true},
		{"identity header", TokenAgent{Identity: AgentIdentity{Header: "X-Forwarded-Email", From: []string{"10.0.0.1"}}}, true},
	}
	for _, tt := range tests {
		if got := tt.a.Configured(); got != tt.want {
			t.Errorf("%s: Configured() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIdentityFromPrefixes(t *testing.T) {
	id := AgentIdentity{From: []string{"10.0.5.9/24", "192.0.2.7", "::1", "bogus"}}
	var got []string
	for _, p := range id.FromPrefixes() {
		got = append(got, p.String())
	}
	if want := []string{"10.0.5.0/24", "192.0.2.7/32", "::1/128"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FromPrefixes() = %q, want %q", got, want)
	}
}

// TestAnnotationPassThroughChecked: keys passed through inside
// settings.annotation are checked for a JSON form like every other
// pass-through value, so init never gets settings it cannot encode.
func TestAnnotationPassThroughChecked(t *testing.T) {
	_, err := Parse([]byte(`
zoom: {sdkKey: K}
sites:
  - name: shop
    hosts: [shop.example.com]
    upstream: http://127.0.0.1:3000
    settings:
      annotation: {tools: {1: pen}}
`), "", nil)
	want := "sites[0].settings.annotation.tools: has a non-string key; init settings are JSON, whose object keys are strings (quote the key)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v\nwant %s", err, want)
	}
}
