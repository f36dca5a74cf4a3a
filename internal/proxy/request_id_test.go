package proxy

import (
	"strings"
	"testing"
)

// TestValidRequestID: an incoming request id is 1 to 128 characters of
// [A-Za-z0-9._:-]; anything else is replaced, since the id goes into logs,
// headers and the error page.
func TestValidRequestID(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"", false},
		{"a", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"azAZ09._:-", true},
		{"a", true}, {"z", true}, {"A", true}, {"Z", true}, {"0", true}, {"9", true},
		{".", true}, {"_", true}, {":", true}, {"-", true},
		// The neighbours of each range and of each allowed sign.
		{"`", false}, {"{", false}, {"@", false}, {"[", false}, {"/", false}, {";", false},
		{",", false}, {"^", false}, {"9;", false}, {"ok id", false}, {"ok\nid", false},
		{"id<script>", false}, {"ü", false}, {"ok\x00", false}, {"\x7f", false},
	} {
		if got := validRequestID(tt.id); got != tt.want {
			t.Errorf("validRequestID(%q) = %v; want %v", tt.id, got, tt.want)
		}
	}
}

// TestContentTypeFilters: looksHTML and isEventStream read the media type
// case-insensitively, including when it is exactly the type and nothing
// more.
func TestContentTypeFilters(t *testing.T) {
	for _, tt := range []struct {
		ct          string
		html, event bool
	}{
		{"text/html", true, false},
		{"TEXT/HTML; charset=utf-8", true, false},
		{"application/xhtml+xml", true, false},
		{"Application/XHTML+XML;charset=utf-8", true, false},
		{"application/xhtml", false, false},
		{"text/htm", false, false},
		{"text/event-stream", false, true},
		{"Text/Event-Stream; charset=utf-8", false, true},
		{"text/event-strea", false, false},
		{"", false, false},
		{"text/plain", false, false},
	} {
		if got := looksHTML(tt.ct); got != tt.html {
			t.Errorf("looksHTML(%q) = %v; want %v", tt.ct, got, tt.html)
		}
		if got := isEventStream(tt.ct); got != tt.event {
			t.Errorf("isEventStream(%q) = %v; want %v", tt.ct, got, tt.event)
		}
	}
}
