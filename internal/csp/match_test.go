package csp

import "testing"

// TestSchemeMatches: CSP3 "scheme-part match", with the upgrades from
// http to https and from ws to wss (and ws: also matching http(s), as the
// spec's table has it), and nothing else.
func TestSchemeMatches(t *testing.T) {
	tests := []struct {
		expr, url string
		want      bool
	}{
		{"https", "https", true},
		{"http", "https", true},
		{"http", "wss", false},
		{"https", "http", false},
		{"ws", "ws", true},
		{"ws", "wss", true},
		{"ws", "http", true},
		{"ws", "https", true},
		{"ws", "ftp", false},
		{"wss", "https", true},
		{"wss", "http", false},
		{"wss", "ws", false},
		{"data", "blob", false},
	}
	for _, tt := range tests {
		if got := schemeMatches(tt.expr, tt.url); got != tt.want {
			t.Errorf("schemeMatches(%q, %q) = %v, want %v", tt.expr, tt.url, got, tt.want)
		}
	}
}
