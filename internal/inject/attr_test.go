package inject

import "testing"

// attrValue against hand-counted offsets, including tags cut off at every
// point of the attribute grammar (a meta tag is read from r.out, which may
// hold a tag the tokenizer reported without its closing '>').
func TestAttrValue(t *testing.T) {
	tests := []struct {
		name       string
		tag, attr  string
		start, end int
		quote      byte
		ok         bool
	}{
		{"double quoted", `<meta content="a b">`, "content", 15, 18, '"', true},
		{"single quoted", `<meta content='a'>`, "content", 15, 16, '\'', true},
		{"unquoted", `<meta content=abc>`, "content", 14, 17, 0, true},
		{"name is matched without case", `<META CONTENT=x>`, "content", 14, 15, 0, true},
		{"second attribute", `<meta http-equiv=x content="y">`, "content", 28, 29, '"', true},
		{"absent", `<meta charset=utf-8>`, "content", 0, 0, 0, false},
		{"empty quoted value", `<meta content="">`, "content", 15, 15, '"', true},
		{"unterminated quote", `<meta content="abc>`, "content", 0, 0, 0, false},
		{"spaces around =", `<meta content = x>`, "content", 16, 17, 0, true},
		{"slash separates attributes", `<meta/content=x>`, "content", 14, 15, 0, true},
		{"no space after a quoted value", `<meta a=""content=1>`, "content", 18, 19, 0, true},
		{"tag name is not an attribute", `<content=1 content=2>`, "content", 19, 20, 0, true},
		{"name starting with = belongs to it", `<meta =1>`, "a", 0, 0, 0, false},
		{"ends after the tag name", `<meta`, "content", 0, 0, 0, false},
		{"ends after a space", `<meta `, "content", 0, 0, 0, false},
		{"ends in a name", `<meta content`, "content", 0, 0, 0, false},
		{"ends after a name and space", `<meta content `, "content", 0, 0, 0, false},
		{"ends after =", `<meta content=`, "content", 14, 14, 0, true},
		{"ends after = and space", `<meta content= `, "content", 15, 15, 0, true},
		{"ends in an unquoted value", `<meta content=x`, "content", 14, 15, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end, quote, ok := attrValue([]byte(tc.tag), tc.attr)
			if start != tc.start || end != tc.end || quote != tc.quote || ok != tc.ok {
				t.Errorf("attrValue(%q, %q) = %d, %d, %q, %v; want %d, %d, %q, %v",
					tc.tag, tc.attr, start, end, quote, ok, tc.start, tc.end, tc.quote, tc.ok)
			}
		})
	}
}

func TestUnescapeAttr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"&amp;x", "&x"},
		{"a&lt;b", "a<b"},
		{"&#39;self&#39;", "'self'"},
	}
	for _, tc := range tests {
		if got := string(unescapeAttr([]byte(tc.in))); got != tc.want {
			t.Errorf("unescapeAttr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIncompatibleStart(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"a", false},
		{"<html>", false},
		{"\xef\xbb\xbf<html>", false},
		{"\xfe\xff\x00<", true},
		{"\xff\xfe<\x00", true},
		{"\x00", true},
		{"\x00<", true},
		{"<\x00h\x00", true},
	}
	for _, tc := range tests {
		if got := incompatibleStart([]byte(tc.in)); got != tc.want {
			t.Errorf("incompatibleStart(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The byte-class masks hold exactly the bytes the tokenizer's scanners
// stop at, for every byte value.
func TestByteSets(t *testing.T) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }
	sets := []struct {
		name string
		set  uint64
		want func(c byte) bool
	}{
		{"space", space, isSpace},
		{"spaceOrSlash", spaceOrSlash, func(c byte) bool { return isSpace(c) || c == '/' }},
		{"nameEnd", nameEnd, func(c byte) bool { return isSpace(c) || c == '/' || c == '>' }},
		{"attrNameEnd", attrNameEnd, func(c byte) bool { return isSpace(c) || c == '/' || c == '>' || c == '=' }},
		{"valueEnd", valueEnd, func(c byte) bool { return isSpace(c) || c == '>' }},
	}
	for _, s := range sets {
		for c := range 256 {
			if got, want := inSet(byte(c), s.set), s.want(byte(c)); got != want {
				t.Errorf("inSet(%q, %s) = %v, want %v", byte(c), s.name, got, want)
			}
		}
	}
	for c := range 256 {
		if got, want := isTagSpace(byte(c)), isSpace(byte(c)); got != want {
			t.Errorf("isTagSpace(%q) = %v, want %v", byte(c), got, want)
		}
	}
}
