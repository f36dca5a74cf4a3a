package inject

import (
	"bytes"
	"strings"
	"testing"
)

func TestContainsMarker(t *testing.T) {
	const m = "/__cobrowse/bootstrap.js" // the anchor is its first '_'
	tests := []struct {
		name, b, m string
	}{
		{"absent", `<link href="/s/0.css"><script src="/s/0.js"></script>`, m},
		{"whole of b", m, m},
		{"at the start", m + `"></script>`, m},
		{"at the end", `<script src="` + m, m},
		{"cut off at the end", `<script src="` + m[:len(m)-1], m},
		{"b shorter than the anchor", "/", m},
		{"b shorter than the marker", m[:10], m},
		{"empty b", "", m},
		{"tail without its head, then the marker", "x__cobrowse/bootstrap.js " + m, m},
		{"tail without its head only", "x__cobrowse/bootstrap.js", m},
		{"tail cut off", "/__cobrowse/bootstrap.j", m},
		{"overlapping candidates", "/___cobrowse/bootstrap.js/__cobrowse/bootstrap.js", m},
		{"one byte", "abc_", "_"},
		{"one byte absent", "abc", "_"},
		{"two bytes", "a_b", "_b"},
		{"two bytes, anchor first", "ab_", "a_"},
		{"anchor at the end of b", "xx/_", "/_"},
		{"periodic", "aaaaab", "aab"},
		{"cdn marker", `<script src="https://us01-zcb.zoom.us/static/resource/sdk/abc/js">`, "us01-zcb.zoom.us/static/resource/sdk/"},
		{"cdn marker, other host", `<script src="https://us02-zcb.zoom.us/static/resource/sdk/abc/js">`, "us01-zcb.zoom.us/static/resource/sdk/"},
	}
	for _, tt := range tests {
		want := strings.Contains(tt.b, tt.m)
		if got := containsMarker([]byte(tt.b), []byte(tt.m)); got != want {
			t.Errorf("%s: containsMarker(%q, %q) = %v, want %v", tt.name, tt.b, tt.m, got, want)
		}
	}
}

// containsMarker agrees with bytes.Contains on every b of up to 7 bytes
// over a small alphabet, for markers of one to four bytes of it (the
// anchor, and what precedes and follows it, in every arrangement).
func TestContainsMarkerExhaustive(t *testing.T) {
	const alphabet = "a_/"
	var all func(n int, prefix []byte, f func([]byte))
	all = func(n int, prefix []byte, f func([]byte)) {
		f(prefix)
		if n == 0 {
			return
		}
		for i := range len(alphabet) {
			all(n-1, append(prefix, alphabet[i]), f)
		}
	}
	var markers [][]byte
	all(4, nil, func(m []byte) {
		if len(m) > 0 {
			markers = append(markers, bytes.Clone(m))
		}
	})
	all(7, nil, func(b []byte) {
		for _, m := range markers {
			if got, want := containsMarker(b, m), bytes.Contains(b, m); got != want {
				t.Fatalf("containsMarker(%q, %q) = %v, want %v", b, m, got, want)
			}
		}
	})
}

func FuzzContainsMarker(f *testing.F) {
	f.Add([]byte("x__cobrowse/bootstrap.js /__cobrowse/bootstrap.js"), []byte("/__cobrowse/bootstrap.js"))
	f.Add([]byte("aaaaab"), []byte("aab"))
	f.Fuzz(func(t *testing.T, b, m []byte) {
		if len(m) == 0 {
			return
		}
		if got, want := containsMarker(b, m), bytes.Contains(b, m); got != want {
			t.Fatalf("containsMarker(%q, %q) = %v, want %v", b, m, got, want)
		}
	})
}

func TestRarestByte(t *testing.T) {
	tests := []struct {
		m    string
		want int
	}{
		{"/__cobrowse/bootstrap.js", 1},              // the first of two '_'
		{"us01-zcb.zoom.us/static/resource/sdk/", 5}, // 'z'
		{"a", 0},
		{"ab", 1},           // 'b' (1) in the first half (index 1 of 2)
		{"abz", 1},          // 'z' is past the first half
		{"abcz", 1},         // half is 2: 'b' at 1; 'c' at 2 is as common as 'a'
		{"acdz_", 0},        // all in the first half as common as the first
		{"aa_aaaaa", 2},     // before len/2
		{"aaaa_aaa", 4},     // at len/2
		{"aaaaa_aa", 0},     // past len/2
		{"a\x80a", 1},       // non-ASCII is rarest
		{"\x80\xff\x01", 0}, // a tie: the first
	}
	for _, tt := range tests {
		if got := rarestByte([]byte(tt.m)); got != tt.want {
			t.Errorf("rarestByte(%q) = %d, want %d", tt.m, got, tt.want)
		}
	}
}

// The table of rarities, spelt out by rank.
func TestRarity(t *testing.T) {
	ranks := []string{
		0: "\t\n\f\r \"-./:<=>acdehilmnoprstu",
		1: "',0123456789;bfgvwy",
		2: "#%&()+?ABCDEFGHIJKLMNOPQRSTUVWXYZ_jkqxz{}",
	}
	for c := range 256 {
		want := byte(3)
		for r, s := range ranks {
			if strings.IndexByte(s, byte(c)) >= 0 {
				want = byte(r)
			}
		}
		if got := rarity(byte(c)); got != want {
			t.Errorf("rarity(%q) = %d, want %d", byte(c), got, want)
		}
	}
}
