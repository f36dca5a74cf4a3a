package token

import (
	"net/http"
	"testing"
)

// TestSameOrigin: literal cases for the CSRF check, including what
// "Origin: null" means with and without Sec-Fetch-Site.
func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		name, scheme, host, site, origin string
		want                             bool
	}{
		{"same origin, both headers", "https", "shop.example", "same-origin", "https://shop.example", true},
		{"default port on Host", "https", "shop.example:443", "same-origin", "https://shop.example", true},
		{"Origin only (plain HTTP browser)", "http", "shop.example", "", "http://shop.example", true},
		{"Sec-Fetch-Site only", "https", "shop.example", "same-origin", "", true},
		// A same-origin page under Referrer-Policy: no-referrer.
		{"null with same-origin fetch metadata", "https", "shop.example", "same-origin", "null", true},
		// Sandboxed iframes, data: documents, cross-origin redirects.
		{"null, cross-site", "https", "shop.example", "cross-site", "null", false},
		{"null, same-site", "https", "shop.example", "same-site", "null", false},
		{"null, no fetch metadata", "http", "shop.example", "", "null", false},
		{"null, Sec-Fetch-Site none", "https", "shop.example", "none", "null", false},
		{"neither header", "https", "shop.example", "", "", false},
		{"foreign origin", "https", "shop.example", "same-origin", "https://evil.example", false},
		{"scheme differs", "https", "shop.example", "", "http://shop.example", false},
		{"same-site subdomain", "https", "shop.example", "same-site", "https://a.shop.example", false},
		{"origin with path", "https", "shop.example", "", "https://shop.example/x", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			r.Host = tt.host
			if tt.site != "" {
				r.Header.Set("Sec-Fetch-Site", tt.site)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := SameOrigin(r, tt.scheme); got != tt.want {
				t.Errorf("SameOrigin(site %q, origin %q) = %v, want %v", tt.site, tt.origin, got, tt.want)
			}
		})
	}
}
