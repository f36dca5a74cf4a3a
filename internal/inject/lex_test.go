package inject

import (
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
)

// lexToken reads the tokens it knows as the tokenizer does, and declines
// (n 0) everything else, and what it cannot see the end of.
func TestLexToken(t *testing.T) {
	tests := []struct {
		b    string
		tt   html.TokenType
		n    int
		name string
	}{
		{"<!doctype html><html>", html.DoctypeToken, 15, "doctype"},
		{"<!DOCTYPE html>", html.DoctypeToken, 15, "doctype, upper case"},
		{"<!DocType>", html.DoctypeToken, 10, "doctype, no name"},
		{"<!doctype>", html.DoctypeToken, 10, "doctype of exactly nine bytes and '>'"},
		{"<!doctype", 0, 0, "doctype cut off"},
		{"<!doctyp", 0, 0, "doctype cut off in its keyword"},
		{"<!doctype html", 0, 0, "doctype without its '>'"},
		{"<!doctypo html>", 0, 0, "not a doctype: a bogus comment"},
		{"<!-- c -->", 0, 0, "comment"},
		{"<?xml?>", 0, 0, "processing instruction"},
		{"\n<html>", html.TextToken, 1, "white space before a tag"},
		{" \t\r\f\n</x>", html.TextToken, 5, "white space before an end tag"},
		{"  <!doctype html>", html.TextToken, 2, "white space before a declaration"},
		{"  <?x", html.TextToken, 2, "white space before a processing instruction"},
		{"  <", 0, 0, "white space, then '<' alone"},
		{"  < x", 0, 0, "white space, then '<' that starts no tag"},
		{"  <1", 0, 0, "white space, then '<' and a digit"},
		{"  x<a>", 0, 0, "text that is not white space"},
		{"   ", 0, 0, "white space to the end"},
		{"", 0, 0, "nothing"},
		{"<", 0, 0, "'<' alone"},
		{"x", 0, 0, "text"},
		{"xhtml>", 0, 0, "text that looks like a tag after its first byte"},
		{"<html lang=en>\n", html.StartTagToken, 14, "html"},
		{"<HEAD>", html.StartTagToken, 6, "head, upper case"},
		{"<head profile='a>b'>", html.StartTagToken, 20, "a quoted '>'"},
		{`<meta charset="utf-8">`, html.StartTagToken, 22, "meta"},
		{`<link rel=stylesheet href="/a.css?x=1&y=2">`, html.StartTagToken, 43, "link with a reference"},
		{"</head>", html.EndTagToken, 7, "end tag"},
		{"</HTML >", html.EndTagToken, 8, "end tag with a space"},
		{"<html/>", 0, 0, "self-closing"},
		{"<meta a=/>", 0, 0, "perhaps self-closing"},
		{`<meta content="a&amp;b">`, 0, 0, "meta with a reference"},
		{"<meta a=\x00>", 0, 0, "meta with a NUL"},
		{"<meta a=\r>", 0, 0, "meta with a carriage return"},
		{"<title>", 0, 0, "raw text follows"},
		{"<script>", 0, 0, "script"},
		{"<body>", 0, 0, "another element"},
		{"<htmlx>", 0, 0, "a longer name"},
		{"<html", 0, 0, "tag cut off"},
		{"<head a='>", 0, 0, "quote not closed"},
	}
	for _, tc := range tests {
		b := []byte(tc.b)
		tt, n := lexToken(b[:len(b):len(b)]) // no room past the end to read by mistake
		if tt != tc.tt || n != tc.n {
			t.Errorf("%s: lexToken(%q) = %v, %d; want %v, %d", tc.name, tc.b, tt, n, tc.tt, tc.n)
		}
	}
}

// The rewriter that starts with the lexer does what the one that starts
// with the tokenizer does, also where it hands over and at the edges of
// MaxScan (the tokenizer's limit counts the two bytes it reads past text).
func TestLexerSameAsTokenizer(t *testing.T) {
	pages := []string{
		"<!doctype html>\n<html lang=en>\n<head>\n<meta charset=\"utf-8\">\n<title>Bench</title>\n<link rel=stylesheet href=\"/s/0.css\"></head><body>x",
		"<!doctype html><html><head><meta charset=utf-8><meta http-equiv=Content-Security-Policy content=a><link href=a></head><body>",
		"<!doctype html><html><head><link href=a><meta http-equiv=Content-Security-Policy content=a></head>",
		"<!doctype html><!-- c --><html><head><title>x</title>",
		"<!doctype html><html><body>x",
		"<!doctype html><html><head><script src=/__cobrowse/bootstrap.js></script>",
		"<!doctype html><html><head><meta charset=utf-8><script>x</script><meta http-equiv=Content-Security-Policy content=a>",
		strings.Repeat(" ", 60) + "<html><head>",
		strings.Repeat(" ", 61) + "<html><head>",
		strings.Repeat(" ", 62) + "<html><head>",
		"<html>" + strings.Repeat(" ", 55) + "<head>",
		"<html>" + strings.Repeat(" ", 56) + "<head>",
		"<!doctype html " + strings.Repeat("x", 44) + "><head>",
		"<!doctype html " + strings.Repeat("x", 45) + "><head>",
		"<!doctype html " + strings.Repeat("x", 5000) + "><head>",
		"<html>" + strings.Repeat("\n", 5000) + "<head>",
		"\xef\xbb\xbf<!doctype html><head>",
		"<html><head><meta content='a&amp;b' http-equiv=content-security-policy>",
	}
	keep := func([]byte) []byte { return nil }
	for _, page := range pages {
		for _, maxScan := range []int{0, 64, 65, 66} {
			for _, chunk := range []int{7, 64, 4096} {
				for _, meta := range []func([]byte) []byte{nil, keep} {
					opts := Options{Tag: []byte(testTag), Markers: [][]byte{[]byte("/__cobrowse/bootstrap.js")}, MaxScan: maxScan, MetaCSP: meta}
					sameLexed(t, []byte(page), chunk, 1+chunk%50, opts)
					opts.RequireDocument = true
					sameLexed(t, []byte(page), chunk, 4096, opts)
				}
			}
		}
	}
}

// The lexer spares the tokenizer and its allocations when the buffer has
// room for its read (2*lexSize), with or without a pool.
func TestRewriterLexerAllocs(t *testing.T) {
	page := []byte("<!doctype html>\n<html lang=en>\n<head>\n<meta charset=\"utf-8\">\n<title>x</title></head><body>x</body></html>\n")
	pool := func(size int) BufferPool {
		return &syncPool{Pool: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
	}
	allocs := func(buffers BufferPool, noLex bool) float64 {
		return testing.AllocsPerRun(20, func() {
			rw := NewRewriter(&chunkReader{b: page, n: len(page)}, Options{Tag: []byte(testTag), Buffers: buffers})
			rw.noLex = noLex
			buf := make([]byte, 32<<10)
			for {
				if _, err := rw.Read(buf); err != nil {
					break
				}
			}
		})
	}
	for _, tc := range []struct {
		name    string
		buffers BufferPool
		lexed   bool
	}{
		{"no pool", nil, true},
		{"pooled, room for the lexer", pool(2 * lexSize), true},
		{"pooled, no room for the lexer", pool(2*lexSize - 1), false},
		{"pooled, small", pool(16), false},
	} {
		with, without := allocs(tc.buffers, false), allocs(tc.buffers, true)
		if lexed := with < without; lexed != tc.lexed {
			t.Errorf("%s: %v allocations, %v without the lexer; want it to spare them: %v", tc.name, with, without, tc.lexed)
		}
	}
}
