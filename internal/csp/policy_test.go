package csp

import (
	"slices"
	"testing"
)

// TestPolicySet: set rewrites only the directive it changes, and only as
// much as it must: appended sources go after the text as written (odd
// spacing and case kept), unchanged values leave the text alone, and a
// removed source re-joins the directive with single spaces.
func TestPolicySet(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		values []string
		want   string
	}{
		{"same values: text as written", "Script-Src  'self'\t", []string{"'self'"}, "Script-Src  'self'\t"},
		{"appended after the text as written", "Script-Src  'self'", []string{"'self'", "a", "b"}, "Script-Src  'self' a b"},
		{"'none' dropped: re-joined", "Script-Src  'none'", []string{"a"}, "Script-Src a"},
		{"shorter: re-joined", "img-src  a  b", []string{"a"}, "img-src a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ParsePolicy(tt.in)
			p.set(0, tt.values)
			if got := p.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if d, ok := p.Get(p.segs[0].name); !ok || !slices.Equal(d.Values, tt.values) {
				t.Errorf("values %v, want %v", d.Values, tt.values)
			}
		})
	}
}

// TestPolicyAdd: add appends the directive, filling the empty slot a
// trailing ";" left, and returns the index it is at.
func TestPolicyAdd(t *testing.T) {
	tests := []struct {
		in    string
		index int
		want  string
	}{
		{"img-src 'self'", 1, "img-src 'self'; x-src a"},
		{"img-src 'self'; ", 1, "img-src 'self'; x-src a "},
		{"a; b;;", 3, "a; b;; x-src a"},
		{"", 0, " x-src a"},
	}
	for _, tt := range tests {
		p := ParsePolicy(tt.in)
		if i := p.add("x-src", []string{"a"}); i != tt.index {
			t.Errorf("add to %q returned %d, want %d", tt.in, i, tt.index)
		}
		if got := p.String(); got != tt.want {
			t.Errorf("add to %q gave %q, want %q", tt.in, got, tt.want)
		}
		if d, ok := p.Get("x-src"); !ok || d.Text != "x-src a" {
			t.Errorf("add to %q: x-src is %+v", tt.in, d)
		}
	}
}

// TestParseIgnored: a directive with any byte from 0x80 up is ignored
// (CSP3 "parse a serialized CSP"), but Directives still names it; 0x7f is
// ASCII.
func TestParseIgnored(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		ignored bool
	}{
		{"IMG-SRC a\x80", "img-src", true},
		{"IMG-SRC é", "img-src", true},
		{"IMG-SRC a\x7f", "img-src", false},
		{"img-src 'self'", "img-src", false},
	}
	for _, tt := range tests {
		p := ParsePolicy(tt.in)
		if _, ok := p.Get("img-src"); ok == tt.ignored {
			t.Errorf("ParsePolicy(%q).Get(img-src) ok = %v, want %v", tt.in, ok, !tt.ignored)
		}
		ds := p.Directives()
		if len(ds) != 1 || ds[0].Name != tt.name || ds[0].Ignored != tt.ignored {
			t.Errorf("ParsePolicy(%q).Directives() = %+v, want one %q ignored=%v", tt.in, ds, tt.name, tt.ignored)
		}
	}
}
