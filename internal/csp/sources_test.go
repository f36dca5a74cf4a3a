package csp

import (
	"slices"
	"testing"
)

func TestValidateSource(t *testing.T) {
	good := []string{
		"'self'", "'SELF'", "'none'", "'unsafe-inline'", "'strict-dynamic'", "'report-sample'", "'wasm-unsafe-eval'",
		"'nonce-abc+/=='", "'nonce-a_b-c'", "'sha256-AbC='", "'SHA384-x'", "'sha512-x=='",
		"data:", "blob:", "https:", "web+app:",
		"*", "example.com", "*.example.com", "https://*.zoom.us", "wss://*.zoom.us:443", "https://x.com:*",
		"https://x.com/path/", "x.com/a%20b/", "http://*", "example.com.",
		"web-app:", "a.b:", "a+b-c.d:", "x.com/%af/", "x.com/%AF%fA/", "x.com/%09/",
	}
	for _, s := range good {
		if err := ValidateSource(s); err != nil {
			t.Errorf("ValidateSource(%q) = %v", s, err)
		}
	}
	bad := []string{
		"", "'selfish'", "self", "'nonce-'", "'nonce-a b'", "'nonce-a==='", "'sha1-abc'", "'sha256-'",
		"1https:", "https://", "https://*.", "https://a..b", "a.*.b", "**.a", "https://x.com:", "https://x.com:8a",
		"x.com/a;b", "x.com/a,b", "x.com/a b", "x.com//a", "x.com/%zz", "x.com/%ag", "x.com/%g0", "https://user@x.com", "[::1]", "'unsafe-inline",
		"a_b:", "a_b://x.com", "ht tp:", "://x.com", "x.com:/a", "''",
	}
	for _, s := range bad {
		if err := ValidateSource(s); err == nil {
			t.Errorf("ValidateSource(%q) = nil, want an error", s)
		}
	}
}

// TestValidateSourceMessage: the error says which grammar the expression
// missed, a quoted one or a scheme/host one.
func TestValidateSourceMessage(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"'selfish'", `source "'selfish'": not a known quoted keyword, 'nonce-BASE64' or 'sha256-BASE64'`},
		{"'nonce-a b'", `source "'nonce-a b'": not a known quoted keyword, 'nonce-BASE64' or 'sha256-BASE64'`},
		{"https://", `source "https://": not a scheme ("data:") or host ("https://*.example.com:443/path/")`},
		{"self", `source "self": keywords are quoted: write 'self'`},
		{"", "empty source expression"},
	}
	for _, tt := range tests {
		err := ValidateSource(tt.expr)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ValidateSource(%q) = %v, want %s", tt.expr, err, tt.want)
		}
	}
}

func TestValidateExtra(t *testing.T) {
	tests := []struct {
		dir, src string
		ok       bool
	}{
		{"script-src", "https://*.zoomgov.com", true},
		{"connect-src", "wss://*.zoomgov.com", true},
		{"img-src", "data:", true},
		{"style-src", "'unsafe-inline'", true},
		{"style-src-attr", "'unsafe-inline'", true},
		{"img-src", "'self'", true},
		{"script-src", "*", false},
		{"img-src", "*", false},
		{"img-src", "https://*", false},
		{"connect-src", "wss:", false},
		{"script-src", "https:", false},
		{"script-src", "'unsafe-inline'", false},
		{"script-src-elem", "'unsafe-inline'", false},
		{"script-src", "'unsafe-eval'", false},
		{"style-src", "'unsafe-eval'", false},
		{"script-src", "'strict-dynamic'", false},
		{"script-src", "'nonce-abc'", false},
		{"script-src", "'sha256-abc'", false},
		{"img-src", "'none'", false},
		{"default-src", "https://*.zoom.us", false},
		{"script-src-attr", "https://*.zoom.us", false},
		{"frame-ancestors", "https://*.zoom.us", false},
		{"script-src", "https://a..b", false},
	}
	for _, tt := range tests {
		if err := ValidateExtra(tt.dir, tt.src); (err == nil) != tt.ok {
			t.Errorf("ValidateExtra(%q, %q) = %v, want ok=%v", tt.dir, tt.src, err, tt.ok)
		}
	}
	for dir, srcs := range DefaultSources() {
		for _, src := range srcs {
			if err := ValidateExtra(dir, src); err != nil {
				t.Errorf("default %s %s refused: %v", dir, src, err)
			}
		}
	}
}

func TestSourcesWith(t *testing.T) {
	base := DefaultSources()
	got := base.With(map[string][]string{"Connect-Src": {"wss://*.zoom.us", "https://*.zoomgov.com"}, "media-src": {"https://*.zoom.us"}})
	if want := []string{"https://*.zoom.us", "wss://*.zoom.us", "https://*.zoomgov.com"}; !slices.Equal(got["connect-src"], want) {
		t.Errorf("connect-src %v, want %v", got["connect-src"], want)
	}
	if len(got["media-src"]) != 1 || len(got) != len(base)+1 {
		t.Errorf("with = %v", got)
	}
	if len(base["connect-src"]) != 2 {
		t.Errorf("With changed its receiver: %v", base["connect-src"])
	}
	for dir, srcs := range base {
		for _, s := range srcs {
			if !slices.Contains(got[dir], s) {
				t.Errorf("With dropped %s %s", dir, s)
			}
		}
	}
}

func TestCovered(t *testing.T) {
	const origin = "https://shop.example.com"
	tests := []struct {
		list []string
		need string
		want bool
	}{
		{[]string{"*"}, "https://*.zoom.us", true},
		{[]string{"*"}, "wss://*.zoom.us", false},
		{[]string{"*"}, "data:", false},
		{[]string{"https:"}, "https://*.zoom.us", true},
		{[]string{"http:"}, "https://*.zoom.us", true},
		{[]string{"https:"}, "wss://*.zoom.us", false},
		{[]string{"wss:"}, "wss://*.zoom.us", true},
		{[]string{"ws://*.zoom.us"}, "wss://*.zoom.us", true},
		{[]string{"https://*.zoom.us"}, "https://*.zoom.us", true},
		{[]string{"HTTPS://*.ZOOM.US"}, "https://*.zoom.us", true},
		{[]string{"https://*.us"}, "https://*.zoom.us", true},
		{[]string{"https://us01-zcb.zoom.us"}, "https://*.zoom.us", false},
		{[]string{"https://*.zoom.us"}, "https://zoom.us", false},
		{[]string{"*.zoom.us"}, "https://*.zoom.us", true},
		{[]string{"https://*.zoom.us:443"}, "https://*.zoom.us", true},
		{[]string{"https://*.zoom.us:8443"}, "https://*.zoom.us", false},
		{[]string{"https://*.zoom.us:*"}, "https://*.zoom.us", true},
		{[]string{"https://*.zoom.us/sdk/"}, "https://*.zoom.us", false},
		{[]string{"https://*.zoom.us/"}, "https://*.zoom.us", true},
		{[]string{"'self'"}, "https://shop.example.com/__cobrowse/", true},
		{[]string{"'self'"}, "https://*.zoom.us", false},
		{[]string{"https://shop.example.com/__cobrowse/"}, "https://shop.example.com/__cobrowse/", true},
		{[]string{"https://shop.example.com/static/"}, "https://shop.example.com/__cobrowse/", false},
		{[]string{"'UNSAFE-INLINE'"}, "'unsafe-inline'", true},
		{[]string{"'none'"}, "data:", false},
		{[]string{"junk;"}, "data:", false},
	}
	for _, tt := range tests {
		if got := covered(tt.list, tt.need, "https", origin); got != tt.want {
			t.Errorf("covered(%q, %q) = %v, want %v", tt.list, tt.need, got, tt.want)
		}
	}
	// On an http page a scheme-less source covers http and https.
	if !covered([]string{"*.zoom.us"}, "https://*.zoom.us", "http", "http://shop.localhost:8080") {
		t.Errorf("scheme-less on http page")
	}
	if covered([]string{"shop.localhost"}, "http://shop.localhost:8080/__cobrowse/", "http", "http://shop.localhost:8080") {
		t.Errorf("port ignored")
	}
}
