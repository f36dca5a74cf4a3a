package encoding

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		prefer string
		want   string
	}{
		{"absent", nil, "", ""},
		{"absent with prefer", nil, "gzip", ""},
		{"empty value", []string{""}, "gzip", ""},
		{"chrome", []string{"gzip, deflate, br, zstd"}, "", "zstd"},
		{"chrome prefer upstream br", []string{"gzip, deflate, br, zstd"}, "br", "br"},
		{"chrome prefer upstream gzip", []string{"gzip, deflate, br, zstd"}, "gzip", "gzip"},
		{"prefer not offered", []string{"gzip, deflate"}, "br", "gzip"},
		{"prefer identity ignored", []string{"gzip"}, "", "gzip"},
		{"prefer unknown ignored", []string{"gzip, br"}, "compress", "br"},
		{"server order br over gzip", []string{"gzip, br"}, "", "br"},
		{"only deflate", []string{"deflate"}, "", "deflate"},
		{"q picks gzip", []string{"br;q=0.5, gzip;q=0.8"}, "", "gzip"},
		{"q beats prefer", []string{"br;q=0.5, gzip;q=0.8"}, "br", "gzip"},
		{"prefer wins tie", []string{"br;q=0.8, gzip;q=0.8, zstd;q=0.8"}, "gzip", "gzip"},
		{"q=0 excludes", []string{"zstd;q=0, br"}, "zstd", "br"},
		{"all q=0", []string{"gzip;q=0, br;q=0"}, "", ""},
		{"three decimals", []string{"gzip;q=0.001, br;q=0.002"}, "", "br"},
		{"q=1.000", []string{"gzip;q=1.000, br;q=0.999"}, "", "gzip"},
		{"star", []string{"*"}, "", "zstd"},
		{"star prefer", []string{"*"}, "gzip", "gzip"},
		{"star excludes named q=0", []string{"*, zstd;q=0, br;q=0"}, "", "gzip"},
		{"star low, named high", []string{"*;q=0.1, deflate"}, "", "deflate"},
		{"star q=0 alone", []string{"*;q=0"}, "gzip", ""},
		{"star q=0 keeps named", []string{"*;q=0, gzip"}, "", "gzip"},
		{"identity q=0 nothing else", []string{"identity;q=0"}, "gzip", ""},
		{"identity q=0 with gzip", []string{"identity;q=0, gzip"}, "", "gzip"},
		{"identity preferred over coding", []string{"gzip;q=0.5, identity"}, "gzip", ""},
		{"identity tie goes to coding", []string{"gzip, identity"}, "", "gzip"},
		{"star covers identity", []string{"gzip;q=0.2, *;q=0"}, "", "gzip"},
		{"implicit identity loses", []string{"gzip;q=0.1"}, "", "gzip"},
		{"uppercase", []string{"GZIP, BR;Q=0.5"}, "", "gzip"},
		{"mixed case q", []string{"Zstd;Q=0.3, Br;q=0.4"}, "", "br"},
		{"x-gzip alias", []string{"x-gzip"}, "", "gzip"},
		{"x-gzip weight", []string{"x-gzip;q=0.9, br;q=0.5"}, "", "gzip"},
		{"whitespace", []string{"  gzip ;  q = 0.5 ,\tbr\t;\tq=0.7  "}, "", "br"},
		{"no spaces", []string{"gzip;q=0.5,br;q=0.7"}, "", "br"},
		{"empty members", []string{",, ,gzip,,"}, "", "gzip"},
		{"multiple lines", []string{"gzip;q=0.5", "br;q=0.9"}, "", "br"},
		{"multiple lines q=0 later", []string{"gzip", "br;q=0"}, "br", "gzip"},
		{"repeat takes max", []string{"gzip;q=0, gzip;q=0.5, br;q=0.4"}, "", "gzip"},
		{"malformed q is zero", []string{"zstd;q=high, gzip"}, "", "gzip"},
		{"q above 1 malformed", []string{"zstd;q=1.5, gzip;q=0.5"}, "", "gzip"},
		{"q too many digits", []string{"zstd;q=0.1234, gzip;q=0.1"}, "", "gzip"},
		{"q negative", []string{"zstd;q=-1, gzip;q=0.1"}, "", "gzip"},
		{"q empty", []string{"zstd;q=, gzip;q=0.1"}, "", "gzip"},
		{"q missing dot", []string{"zstd;q=05, gzip;q=0.1"}, "", "gzip"},
		{"q leading dot", []string{"zstd;q=.5, gzip;q=0.1"}, "", "gzip"},
		{"q trailing dot ok", []string{"zstd;q=1., gzip"}, "", "zstd"},
		{"other params ignored", []string{"gzip;level=9;q=0.2, br;foo;q=0.3"}, "", "br"},
		{"unknown codings", []string{"compress, sdch, lzma"}, "", ""},
		{"garbage", []string{";;;==,;q=1,\x00\xff"}, "", ""},
		{"garbage around valid", []string{"\"br\", gzip", "=;q"}, "", "gzip"},
		{"token with space inside", []string{"g zip, deflate"}, "", "deflate"},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.header, tt.prefer); got != tt.want {
			t.Errorf("%s: Negotiate(%q, %q) = %q, want %q", tt.name, tt.header, tt.prefer, got, tt.want)
		}
	}
}

func TestParseQ(t *testing.T) {
	tests := map[string]int{
		"0": 0, "1": 1000, "0.5": 500, "0.05": 50, "0.005": 5, "0.123": 123,
		"1.0": 1000, "1.00": 1000, "1.000": 1000, "0.": 0, "1.": 1000,
		"1.001": 0, "2": 0, "0.1234": 0, "": 0, "a": 0, "0.a": 0, "0,5": 0,
	}
	for in, want := range tests {
		if got := parseQ(in); got != want {
			t.Errorf("parseQ(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestNegotiateDoesNotAllocate(t *testing.T) {
	header := []string{"gzip;q=0.8, deflate;q=0.5, BR;q=0.9, zstd, *;q=0.1", "identity;q=0"}
	if n := testing.AllocsPerRun(100, func() { Negotiate(header, "br") }); n != 0 {
		t.Fatalf("Negotiate allocates %v times per call", n)
	}
}

func FuzzNegotiate(f *testing.F) {
	f.Add("gzip, deflate, br, zstd", "br")
	f.Add("*;q=0.5, identity;q=0, gzip;Q=1.0", "")
	f.Add(";;,=q=,", "zstd")
	f.Add("gzip;q=0, br;q=0, *", "gzip")
	f.Add("*;q=0, identity", "br")
	f.Fuzz(func(t *testing.T, header, prefer string) {
		got := Negotiate(strings.Split(header, "\n"), prefer)
		switch got {
		case "", "gzip", "deflate", "br", "zstd":
		default:
			t.Fatalf("Negotiate returned %q", got)
		}
		if got != "" && !strings.Contains(strings.ToLower(header), got) && !strings.Contains(header, "*") {
			t.Fatalf("Negotiate chose %q, which %q does not mention", got, header)
		}
		// On well-formed headers, a second, simple reading of RFC 9110
		// §12.5.3: the chosen coding is never one the client refused
		// (q=0, or not listed while "*;q=0" is).
		if got != "" && wellFormedAE.MatchString(header) {
			if q, ok := refWeight(header, got); !ok || q == 0 {
				t.Fatalf("Negotiate(%q) chose %q, which the header refuses (weight %v, listed %v)", header, got, q, ok)
			}
		}
	})
}

// wellFormedAE matches an Accept-Encoding value of tokens with optional
// q weights (0, 1, 0.x up to three decimals), comma-separated.
var wellFormedAE = regexp.MustCompile(`^ *(?:[A-Za-z0-9*-]+(?: *; *[qQ]=(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))? *)(?:, *[A-Za-z0-9*-]+(?: *; *[qQ]=(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))? *)*$`)

// refWeight is coding's weight in a well-formed header: its own entry (the
// last one), else "*"'s; ok is false when neither is listed.
func refWeight(header, coding string) (q float64, ok bool) {
	own, star := -1.0, -1.0
	for _, m := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(m, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		w := 1.0
		if _, v, found := strings.Cut(strings.ToLower(params), "q="); found {
			w, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
		switch name {
		case coding:
			own = w
		case "*":
			star = w
		}
	}
	switch {
	case own >= 0:
		return own, true
	case star >= 0:
		return star, true
	}
	return 0, false
}

func TestRefWeight(t *testing.T) {
	for _, tt := range []struct {
		header, coding string
		q              float64
		ok             bool
	}{
		{"gzip;q=0, *", "gzip", 0, true},
		{"*;q=0", "br", 0, true},
		{"br;q=0.5", "br", 0.5, true},
		{"gzip", "br", 0, false},
	} {
		if q, ok := refWeight(tt.header, tt.coding); q != tt.q || ok != tt.ok || !wellFormedAE.MatchString(tt.header) {
			t.Errorf("refWeight(%q, %q) = %v %v (well-formed %v)", tt.header, tt.coding, q, ok, wellFormedAE.MatchString(tt.header))
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("gzip")
	f.Add("x-gzip, identity")
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := Normalize(in)
		if !ok && got != "" {
			t.Fatalf("Normalize(%q) = %q, false", in, got)
		}
		if ok && got != "" && !strings.Contains(strings.ToLower(in), got) {
			t.Fatalf("Normalize(%q) = %q, not in input", in, got)
		}
	})
}

// TestReencoding: a brotli page goes out as zstd, else gzip, when the client
// accepts that as much as br; every other choice is Negotiate's, and
// KeepBrotli keeps br.
func TestReencoding(t *testing.T) {
	const chrome, safari = "gzip, deflate, br, zstd", "gzip, deflate, br"
	for _, tc := range []struct {
		accept, upstream string
		keep             bool
		want             string
	}{
		{chrome, "br", false, "zstd"},
		{safari, "br", false, "gzip"},
		{"br", "br", false, "br"},
		{"br, gzip;q=0.5, zstd;q=0.5", "br", false, "br"}, // the client's weights win
		{"br;q=0.5, gzip;q=0.5", "br", false, "gzip"},
		{"br, zstd;q=0.9, gzip", "br", false, "gzip"},
		{chrome, "br", true, "br"},
		{safari, "br", true, "br"},
		{chrome, "gzip", false, "gzip"},
		{chrome, "deflate", false, "deflate"},
		{chrome, "zstd", false, "zstd"},
		{"br", "gzip", false, "br"}, // br is all the client takes
		{"", "br", false, ""},
		{"identity", "br", false, ""},
	} {
		c := New(Options{KeepBrotli: tc.keep})
		if got := c.Reencoding([]string{tc.accept}, tc.upstream); got != tc.want {
			t.Errorf("Reencoding(%q, %q) keep=%v = %q, want %q", tc.accept, tc.upstream, tc.keep, got, tc.want)
		}
	}
}
