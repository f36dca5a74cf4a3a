package proxy

import (
	"testing"
	"time"
)

// TestCodingSeen: a compressed page is remembered for plainWindow, with its
// coding; notes less than a second apart are not stored; an unknown coding
// is not remembered.
func TestCodingSeen(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var c codingSeen
	if _, ok := c.recent(t0); ok {
		t.Fatal("recent before any note")
	}
	c.note("br", t0)
	for _, tc := range []struct {
		after time.Duration
		want  bool
	}{
		{0, true},
		{plainWindow - time.Nanosecond, true},
		{plainWindow, false},
		{plainWindow + time.Hour, false},
	} {
		got, ok := c.recent(t0.Add(tc.after))
		if ok != tc.want || ok && got != "br" {
			t.Errorf("recent(+%v) = %q, %v; want br, %v", tc.after, got, ok, tc.want)
		}
	}
	c.note("gzip", t0.Add(time.Second-time.Nanosecond))
	if got, _ := c.recent(t0.Add(time.Second)); got != "br" {
		t.Errorf("a note within a second replaced the first: %q", got)
	}
	c.note("gzip", t0.Add(time.Second))
	if got, ok := c.recent(t0.Add(plainWindow + time.Second/2)); !ok || got != "gzip" {
		t.Errorf("a note a second later: recent = %q, %v; want gzip, true", got, ok)
	}
	c.note("compress", t0.Add(time.Hour))
	if _, ok := c.recent(t0.Add(time.Hour)); ok {
		t.Error("an unknown coding was remembered")
	}
}

// TestCompressible: text that servers compress, not media or streams.
func TestCompressible(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8": true, "TEXT/CSS": true, "application/json": true,
		"application/ld+json": true, "application/atom+xml": true, "image/svg+xml": true,
		"application/javascript": true, "application/xml": true,
		"text/event-stream": false, "image/png": false, "application/pdf": false,
		"application/zip": false, "": false,
	} {
		if got := compressible(ct); got != want {
			t.Errorf("compressible(%q) = %v, want %v", ct, got, want)
		}
	}
}
