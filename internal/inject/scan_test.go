package inject

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// The pre-scan decision: an attribute name in any ASCII case, anywhere in
// the bytes (also at their very start and end), and nothing else.
func TestMayDeclareMeta(t *testing.T) {
	tests := []struct {
		b, s string
		want bool
	}{
		{`<meta charset=utf-8>`, "charset", true},
		{`<META CHARSET="utf-8">`, "charset", true},
		{`<meta ChArSeT='utf-8'>`, "charset", true},
		{`charset`, "charset", true},
		{`<meta charset`, "charset", true},
		{`x charse`, "charset", false},
		{`<meta chaRSet>`, "charset", true},
		{`<meta char-set=utf-8>`, "charset", false},
		{`<meta charſet=utf-8>`, "charset", false}, // Unicode folding would match
		{`<meta http-equiv=content-type>`, "http-equiv", true},
		{`<META HTTP-EQUIV="Content-Security-Policy">`, "http-equiv", true},
		{`<meta http_equiv=x>`, "http-equiv", false},
		{`<meta http-equi`, "http-equiv", false},
		{``, "charset", false},
	}
	for _, tc := range tests {
		if got := mayDeclareMeta([]byte(tc.b), tc.s); got != tc.want {
			t.Errorf("mayDeclareMeta(%q, %q) = %v, want %v", tc.b, tc.s, got, tc.want)
		}
	}
}

// mayDeclareEquiv is mayDeclareMeta(b, "http-equiv"): for the name in
// every case pattern of a few, at every offset of bytes full of false
// starts ('-', 'h', "http"), cut at every length.
func TestMayDeclareEquiv(t *testing.T) {
	names := []string{"http-equiv", "HTTP-EQUIV", "Http-Equiv", "hTtP-eQuIv", "http_equiv", "http-equi", "ttp-equiv", "http--equiv"}
	fill := "h-http-x-h-"
	for _, name := range names {
		for at := range len(fill) + 1 {
			full := fill[:at] + name + fill[at:]
			for n := range len(full) + 1 {
				b := []byte(full[:n])
				if got, want := mayDeclareEquiv(b), mayDeclareMeta(b, "http-equiv"); got != want {
					t.Fatalf("mayDeclareEquiv(%q) = %v, mayDeclareMeta says %v", b, got, want)
				}
			}
		}
	}
	for _, b := range []string{"", "-", "http-equiv", "xhttp-equiv", "http-equivx", "--http-equiv", "a-b http-equiv", "<meta http-equi"} {
		if got, want := mayDeclareEquiv([]byte(b)), strings.Contains(strings.ToLower(b), "http-equiv"); got != want {
			t.Errorf("mayDeclareEquiv(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestLowerTagName(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"<meta charset=x>", "meta"},
		{"<META>", "meta"},
		{"<Title>", "title"},
		{"</HEAD>", "head"},
		{"</head >", "head"},
		{"<br/>", "br"},
		{"<link\thref=x>", "link"},
		{"<NOSCRIPT>", "noscript"}, // maxName bytes
		{"<noscripts>", ""},        // longer: none the rewriter looks for
		{"<templates x>", ""},      // longer
		{"<meta\x00>", "meta\x00"}, // TagName would give "meta\ufffd": no match either way
		{"<ABCDEFGHIJ>", ""},
		{"<AZaz@[>", "azaz@["},
		{"<meta", "meta"}, // cut off
		{"</title", "title"},
		{"<", ""},
	}
	for _, tc := range tests {
		var lb [maxName]byte
		if got := string(lowerTagName(lb[:0], []byte(tc.raw))); got != tc.want {
			t.Errorf("lowerTagName(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

// The raw reading of <meta> attributes against the tokenizer's.
func TestMetaKind(t *testing.T) {
	tests := []struct {
		tag  string
		want metaType
	}{
		{`<meta charset=utf-8>`, metaCharset},
		{`<meta charset>`, metaCharset},
		{`<META CharSet="utf-8"/>`, metaCharset},
		{`<meta name=viewport content="width=device-width">`, metaOther},
		{`<meta http-equiv="Content-Type" content="text/html; charset=utf-8">`, metaCharset},
		{`<meta http-equiv=' content-type '>`, metaCharset},
		{`<meta HTTP-EQUIV=Content-Security-Policy content=x>`, metaCSP},
		{`<meta content="a" http-equiv="content-security-policy">`, metaCSP},
		{`<meta http-equiv=refresh content=5>`, metaOther},
		{`<meta http-equiv>`, metaOther},
		// Only the first of two attributes of one name counts.
		{`<meta http-equiv=refresh http-equiv=content-security-policy>`, metaOther},
		{`<meta HTTP-EQUIV=refresh http-equiv=content-security-policy>`, metaOther},
		{`<meta http-equiv=content-security-policy http-equiv=refresh>`, metaCSP},
		{`<meta http-equiv=refresh charset=utf-8>`, metaCharset},
		{`<meta http-equiv=content-security-policy charset=utf-8>`, metaCSP},
		{`<meta data-charset=x>`, metaOther},
		{`<meta x="charset=utf-8">`, metaOther},
		{`<meta/charset=x>`, metaCharset},
		// Decoded values: read through the tokenizer.
		{`<meta http-equiv="Content&#45;Security-Policy" content=x>`, metaCSP},
		{`<meta http-equiv="content-type&#x20;">`, metaCharset},
		{"<meta http-equiv=\"content-type\r\n\">", metaCharset},
		{"<meta http-equiv=\"content\x00type\">", metaOther},
		{"<meta charset\x00=x>", metaOther},
	}
	for _, tc := range tests {
		z := html.NewTokenizer(strings.NewReader(tc.tag))
		if tt := z.Next(); tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			t.Fatalf("%q: token %v", tc.tag, tt)
		}
		if got := metaKind(z, z.Raw()); got != tc.want {
			t.Errorf("metaKind(%q) = %v, want %v", tc.tag, got, tc.want)
		}
		z = html.NewTokenizer(strings.NewReader(tc.tag))
		z.Next()
		if got := metaKindTokenizer(z); got != tc.want {
			t.Errorf("metaKindTokenizer(%q) = %v, want %v", tc.tag, got, tc.want)
		}
	}
}

// FuzzMetaKind: for every tag of any input, the raw name equals the
// tokenizer's TagName, and metaKind read from the raw bytes equals
// metaKind read through TagAttr.
func FuzzMetaKind(f *testing.F) {
	for _, s := range []string{
		`<meta charset=utf-8><META HTTP-EQUIV='Content-Type'>`,
		`<meta http-equiv = "content-security-policy" content='a'>`,
		`<meta =http-equiv=content-type><meta http-equiv=a http-equiv=content-type>`,
		`<meta/http-equiv/=/content-type><meta http-equiv=content-type/>`,
		`<meta a="b>" charset><meta http-equiv="content-type`,
		"<meta http-equiv=\"\fcontent-type\v\">",
		`</META x><Title>t</title><noscript>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		raw := html.NewTokenizer(bytes.NewReader(in))
		dec := html.NewTokenizer(bytes.NewReader(in))
		for {
			tt := raw.Next()
			dec.Next()
			if tt == html.ErrorToken {
				return
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken && tt != html.EndTagToken {
				continue
			}
			tok := append([]byte(nil), raw.Raw()...)
			var lb [maxName]byte
			got := string(lowerTagName(lb[:0], tok))
			name, _ := dec.TagName()
			// A NUL, which TagName replaces, makes a name none the
			// rewriter looks for either way.
			if want := string(name); bytes.IndexByte(tok, 0) < 0 && (len(want) <= maxName && got != want || len(want) > maxName && got != "") {
				t.Fatalf("%q: lowerTagName %q, TagName %q", tok, got, want)
			}
			if tt != html.EndTagToken {
				if k, want := metaKindRaw(tok), metaKindTokenizer(dec); !bytes.ContainsAny(tok, "&\x00\r") && k != want {
					t.Fatalf("%q: metaKindRaw %v, TagAttr %v", tok, k, want)
				}
			}
		}
	})
}

// FuzzCharsetEnd: the pre-scan changes nothing: charsetEnd, which skips
// the tokenizer when neither attribute name is in the bytes, places the tag
// where tokenizing them would.
func FuzzCharsetEnd(f *testing.F) {
	for _, s := range []string{
		`<meta charset=utf-8>`, `<title>x</title><META CHARSET=x>`,
		`<meta http-equiv=content-type content="text/html">`,
		`<link href=charset.css><meta name=x>`, `<script>charset</script>`,
		"<!-- http-equiv --><meta charset=x>",
		"\n <meta name=viewport content=x><link rel=icon><TITLE>a</b></Title ><meta charset=x>",
		"<title/><meta charset=utf-8>", "<title>x<meta charset=utf-8>", "</title><meta charset=x>",
		"<meta http-equiv='content&#45;type'>", `<meta a="b>" charset=x>`, "<meta\x00 charset=x>",
		"<meta http-equiv=content-security-policy><meta charset=x>", "x<meta charset=x>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		want := charsetScan(head[:min(len(head), headLookahead)], new(bytes.Reader))
		if got := charsetEnd(head, new(bytes.Reader)); got != want {
			t.Fatalf("%q: charsetEnd %d, tokenizing %d", head, got, want)
		}
	})
}

// charsetEnd: a declaration in any case, quoted or not, is found within
// the first 1024 bytes; the tokenizer (and so any allocation) is needed
// only where a pre-scan cannot decide: a head with neither attribute name
// is settled by mayDeclareMeta, the common heads by charsetLex.
func TestCharsetEndPreScan(t *testing.T) {
	pad := strings.Repeat("<link rel=stylesheet href=a.css>", 30) // 960 bytes
	tests := []struct {
		head  string
		want  int
		alloc bool // the tokenizer runs
	}{
		{"<title>x</title><link href=a.css>", 0, false},
		{"<!-- c --><title>x</title>", 0, false}, // mayDeclareMeta decides
		{"<script src=a.js></script><meta name=viewport content=x>", 0, false},
		{"<meta charset=utf-8><title>", 20, false},
		{"<META CHARSET='utf-8'>", 22, false},
		{`<meta ChArSeT="utf-8">`, 22, false},
		{`<meta Http-Equiv="Content-Type" content="text/html">`, 52, false},
		{`<meta HTTP-EQUIV=content-type>`, 30, false},
		{"\n <meta name=viewport content=x><link rel=icon><TITLE>a</b></Title ><meta charset=x>", 84, false},
		{"<meta http-equiv=content-security-policy content=a><meta charset=x>", 0, false},
		{"<script>x</script><meta charset=utf-8>", 0, false}, // found, but not in place
		{"</p><meta charset=utf-8>", 0, false},
		{"text<meta charset=utf-8>", 0, false},
		{"<meta name=charset><link>", 0, false},        // read to the end
		{"<title></title><meta charset=x>", 31, false}, // an empty title
		{pad + "<meta charset=x>", 976, false},
		{pad + strings.Repeat(" ", 60) + "<meta charset=x>", 0, false}, // "charset" past 1024 bytes
		// The tokenizer decides:
		{pad + strings.Repeat(" ", 50) + "<meta charset=x>", 0, true}, // "charset" in, the tag cut off
		{"<!-- c --><meta charset=utf-8>", 30, true},
		{"<meta http-equiv='content&#45;type'>", 36, true},
		{"<title/><meta charset=utf-8>", 0, true},
		{"<title>x<meta charset=utf-8>", 0, true},
	}
	for _, tc := range tests {
		head, rd := []byte(tc.head), new(bytes.Reader)
		if got := charsetEnd(head, rd); got != tc.want {
			t.Errorf("charsetEnd(%.40q...) = %d, want %d", tc.head, got, tc.want)
		}
		allocs := testing.AllocsPerRun(10, func() { charsetEnd(head, rd) })
		if (allocs > 0) != tc.alloc {
			t.Errorf("charsetEnd(%.40q...): %v allocations, tokenizer expected to run: %v", tc.head, allocs, tc.alloc)
		}
	}
}

// eofReader returns its last data with io.EOF, so the rewriter knows the
// whole page has arrived; max (when not 0) bounds a Read, like a slow
// network.
type eofReader struct {
	b   []byte
	max int
}

func (e *eofReader) Read(p []byte) (int, error) {
	if e.max > 0 && len(p) > e.max {
		p = p[:e.max]
	}
	n := copy(p, e.b)
	e.b = e.b[n:]
	if len(e.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// With MetaCSP, the rest of the head is not tokenized once every byte the
// head scan could read has arrived (the page has ended, or MaxScan past the
// head is buffered) without an http-equiv: fewer allocations, the same
// output as tokenizing it. Where a policy is in those bytes, or may still
// arrive, the head is tokenized and the policy merged.
func TestRewriterHeadPreScan(t *testing.T) {
	links := strings.Repeat(`<link rel="stylesheet" href="/a.css" crossorigin="anonymous">`, 20)
	plain := "<html><head>" + links + "</head><body>x</body></html>"
	csp := "<html><head>" + links + `<META HTTP-EQUIV='content-security-policy' content="a"></head><body>x`
	cspLow := strings.Replace(csp, "HTTP-EQUIV", "http-equiv", 1)
	charsetComment := "<html><head><meta charset=utf-8>" + links + "<!-- c --></head><body>x</body></html>"
	const head = len("<html><head>")
	merge := func(p []byte) []byte { return append(append([]byte(nil), p...), " z"...) }
	tests := []struct {
		name    string
		in      string
		src     func(string) io.Reader
		maxScan int
		skip    bool // the pre-scan spares the tokenizer
	}{
		{"page ended, no policy", plain, func(s string) io.Reader { return &eofReader{b: []byte(s)} }, 0, true},
		{"page ended, a policy", csp, func(s string) io.Reader { return &eofReader{b: []byte(s)} }, 0, false},
		{"page ended, a policy in lower case", cspLow, func(s string) io.Reader { return &eofReader{b: []byte(s)} }, 0, false},
		{"window exactly buffered, no policy", plain, func(s string) io.Reader { return strings.NewReader(s) }, len(plain) - head, true},
		{"window buffered, no policy", plain, func(s string) io.Reader { return strings.NewReader(s) }, 400, true},
		// After a charset the check comes one token into the head; the
		// comment leaves headEnd undecided, so only the window decides.
		{"window exactly buffered after a charset, a comment", charsetComment, func(s string) io.Reader { return strings.NewReader(s) }, len(charsetComment) - head, true},
		{"window not all buffered after a charset, a comment", charsetComment, func(s string) io.Reader { return strings.NewReader(s) }, len(charsetComment) - head + 1, false},
		{"window buffered, a policy", csp, func(s string) io.Reader { return strings.NewReader(s) }, len(csp) - head, false},
		{"more may come, the head ends in what has arrived", plain, func(s string) io.Reader { return strings.NewReader(s) }, 0, true},
		{"more may come, a policy before the head ends", csp, func(s string) io.Reader { return strings.NewReader(s) }, 0, false},
		{"more may come, the head does not end in what has arrived", plain, func(s string) io.Reader { return &chunkReader{b: []byte(s), n: 100} }, 0, false},
		{"more may come, a policy later", csp, func(s string) io.Reader { return &chunkReader{b: []byte(s), n: 100} }, 0, false},
		{"more may come, the head ends at once", "<html><head><body class=x><p>x", func(s string) io.Reader { return strings.NewReader(s) }, 0, true},
		{"more may come, a comment in the head", strings.Replace(plain, "</head>", "<!-- c --></head>", 1), func(s string) io.Reader { return strings.NewReader(s) }, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(noPrescan, noLex bool) (string, Result) {
				rw := NewRewriter(tc.src(tc.in), Options{Tag: []byte(testTag), MetaCSP: merge, MaxScan: tc.maxScan})
				rw.noPrescan, rw.noLex = noPrescan, noLex
				out, err := io.ReadAll(rw)
				if err != nil {
					t.Fatal(err)
				}
				return string(out), rw.Result()
			}
			got, res := run(false, false)
			want, wantRes := run(true, false)
			if got != want || res != wantRes {
				t.Fatalf("with the pre-scan: %v %q\nwithout: %v %q", res, got, wantRes, want)
			}
			if strings.Contains(tc.in, "content=\"a\"") && tc.maxScan == 0 && !strings.Contains(got, `content="a z"`) {
				t.Errorf("policy not merged: %q", got)
			}
			// The tokenizer allocates for the tokens it reads, the lexer
			// (which reads links too) does not: count without it.
			allocs := func(noPrescan bool) float64 {
				return testing.AllocsPerRun(5, func() { run(noPrescan, true) })
			}
			with, without := allocs(false), allocs(true)
			if skipped := with < without; skipped != tc.skip {
				t.Errorf("allocations with the pre-scan %v, without %v; want the head skipped: %v", with, without, tc.skip)
			}
		})
	}
}

// headEnd: where the head scan would stop in bytes that have arrived, or
// -1 where the tokenizer has to go on. Each -1 below would be a wrong skip
// if it claimed an end: the policy after it would be missed.
func TestHeadEnd(t *testing.T) {
	const csp = `<meta http-equiv=Content-Security-Policy content=a>`
	tests := []struct {
		b    string
		want int // -1, or the offset of "|" in b
	}{
		{"|<body>", 0},
		{"\n\t |<BODY class=x>", 4},
		{"<meta charset=utf-8><link rel=icon href=/i.png><base href=/>|</head><body>", 0},
		{"<title>a </head> b</title>|<div>", 0},
		{"<TITLE>a</TiTlE >|x", 0},
		{"<style>p{}</style/>|</head>", 0},
		{"<noscript><p></noscript>|<p>", 0},
		{"<script>if (a</b) {}</script>|</head>", 0},
		{"<script src=a.js></script><script>var s='</scrip'</script>|<body>", 0},
		{`<link href="a>b" rel='c>d'>|<p>`, 0},
		{`<meta content=a/>|</head>`, 0},
		{`</script x="</head>">|</head>`, 0},
		{"<meta>|hello", 0},
		{"|</x>", 0},
		{"|<textarea></head></textarea>", 0},
		{"<verylongname>", -2}, // any unknown element: |
		{"|<a href=x>", 0},
		{"|<Z>", 0},
		{"<script></script>|<body>", 0},
		{"<style><!--</style>|<body>", 0}, // only scripts have "<!--" rules
		// The tokenizer goes on:
		{"", -1},
		{"  ", -1},
		{"<meta charset=utf-8>", -1},
		{"<!-- </head> -->" + csp, -1},
		{"<!doctype html>" + csp, -1},
		{"<?x?>" + csp, -1},
		{"< p>" + csp, -1},
		{"</ p>" + csp, -1},
		{"<link href='a" + csp, -1},
		{"<link href=a", -1},
		{"<script><!--</script>--></script>" + csp + "<body>", -1},
		{"<script/>x</script>" + csp + "<body>", -1},
		{"<title>x</title" + csp, -1},
		{"<title>x</titl", -1},
		{"<title>x</titlex>" + csp, -1},
		{"<style>x", -1},
		{"<template>x</template>" + csp, -1},
		{"<script></script", -1},
		{"<", -1},
		{"</", -1},
		{"<@>" + csp, -1},
		{"<[>" + csp, -1},
		{"<`>" + csp, -1},
		{"<{>" + csp, -1},
	}
	for _, tc := range tests {
		want := tc.want
		b := tc.b
		if want == -2 {
			want, b = 0, tc.b
		} else if want >= 0 {
			want = strings.Index(tc.b, "|")
			b = strings.Replace(tc.b, "|", "", 1)
		}
		if got := headEnd([]byte(b)); got != want {
			t.Errorf("headEnd(%q) = %d, want %d", b, got, want)
		}
	}
}

// poisonPool lends buffers of size bytes, counts, and overwrites what it is
// given back, so that a buffer still in use after Put shows in the output.
type poisonPool struct {
	size       int
	gets, puts int
	bad        bool // a slice came back other than as lent
}

func (p *poisonPool) Get() []byte { p.gets++; return make([]byte, p.size) }

func (p *poisonPool) Put(b []byte) {
	p.puts++
	p.bad = p.bad || len(b) != p.size || cap(b) != p.size
	for i := range b {
		b[i] = 'X'
	}
}

// With Options.Buffers, the rewriter borrows one buffer, gives it back
// once, as it got it, and only when nothing it holds is left to read:
// whatever the outcome, the output is the same as without a pool.
func TestRewriterBuffers(t *testing.T) {
	merge := func(p []byte) []byte { return append(append([]byte(nil), p...), " z"...) }
	pages := []struct {
		in   string
		opts Options
	}{
		{"<!doctype html><html><head><title>x</title></head><body>hi", Options{}},
		{"<!doctype html><html><head><meta charset=utf-8><meta http-equiv=Content-Security-Policy content=a><title>x</title></head><body>hi", Options{MetaCSP: merge}},
		{"<div>fragment</div>", Options{RequireDocument: true}},
		{"<!doctype html>" + strings.Repeat("<!-- pad -->", 100) + "<head>", Options{MaxScan: 256}},
		{`<!doctype html><head><script src="/__cobrowse/bootstrap.js"></script>`, Options{Markers: [][]byte{[]byte("/__cobrowse/")}}},
		{"<!doctype html>", Options{}},
		{"\xff\xfe<\x00", Options{}},
	}
	for _, pg := range pages {
		for _, size := range []int{0, 16, 32 << 10} {
			for _, chunk := range []int{0, 7} {
				pg.opts.Tag = []byte(testTag)
				want, wantRes := rewrite(t, pg.in, pg.opts, chunk)
				pool := &poisonPool{size: size}
				opts := pg.opts
				opts.Buffers = pool
				got, res := rewrite(t, pg.in, opts, chunk)
				if got != want || res != wantRes {
					t.Errorf("%.30q (buffer %d, reads of %d): with a pool %v %q\nwithout %v %q", pg.in, size, chunk, res, got, wantRes, want)
				}
				if pool.gets != 1 || pool.puts != 1 || pool.bad {
					t.Errorf("%.30q (buffer %d, reads of %d): %d gets, %d puts, returned changed: %v", pg.in, size, chunk, pool.gets, pool.puts, pool.bad)
				}
			}
		}
	}
}

// A Read whose buffer the held bytes fill exactly returns at once, even
// when the next token (a script whose end has not arrived, with a '>' in
// it) would wait on the upstream.
func TestRewriterFullBufferReturns(t *testing.T) {
	first := "<head><script>var a = b > c"
	src := &pauseReader{first: []byte(first), release: make(chan struct{}), rest: strings.NewReader("</script></head><body>")}
	defer close(src.release)
	rw := NewRewriter(src, Options{Tag: []byte(testTag), MetaCSP: func([]byte) []byte { return nil }})
	want := "<head>" + testTag + "<script>"
	got := make(chan string, 1)
	go func() {
		p := make([]byte, len(want))
		n, _ := rw.Read(p)
		got <- string(p[:n])
	}()
	select {
	case s := <-got:
		if s != want {
			t.Errorf("Read = %q, want %q", s, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a full buffer waited for the upstream")
	}
}

// tagEnd finds the end of a tag where walking its attributes with
// nextAttr does, for every tag "<a" followed by up to six bytes of the
// attribute grammar's delimiters.
func TestTagEndExhaustive(t *testing.T) {
	viaAttrs := func(s []byte) int {
		for i := 0; ; {
			_, next, ok := nextAttr(s, i)
			if !ok {
				if next < len(s) && s[next] == '>' {
					return next
				}
				return -1
			}
			i = next
		}
	}
	const alphabet = "a=\"'> /"
	var walk func(s []byte, n int)
	walk = func(s []byte, n int) {
		if got, want := tagEnd(s), viaAttrs(s); got != want {
			t.Fatalf("tagEnd(%q) = %d, nextAttr ends it at %d", s, got, want)
		}
		if n == 0 {
			return
		}
		for i := range len(alphabet) {
			walk(append(s, alphabet[i]), n-1)
		}
	}
	walk([]byte("<a"), 6)
}
