package inject

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const testTag = `<script src="/__cobrowse/bootstrap.js"></script>`

func rewrite(t testing.TB, in string, opts Options, readSize int) (string, Result) {
	t.Helper()
	if opts.Tag == nil {
		opts.Tag = []byte(testTag)
	}
	var src io.Reader = strings.NewReader(in)
	if readSize > 0 {
		src = &chunkReader{b: []byte(in), n: readSize}
	}
	rw := NewRewriter(src, opts)
	out, err := io.ReadAll(rw)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	return string(out), rw.Result()
}

// chunkReader returns at most n bytes per Read, like a slow network.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.n, len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// The placement table: "|" in want marks where the tag must go.
func TestRewriterPlacement(t *testing.T) {
	tests := []struct {
		name string
		want string
		res  Result
		// trickle is the placement when the page arrives a few bytes at a
		// time: the rewriter looks for a charset declaration only in bytes
		// that have already arrived, so it never waits on a slow upstream.
		trickle string
	}{
		{"simple", "<!doctype html><html><head>|<title>x</title></head><body>hi</body></html>", Injected, ""},
		{"uppercase", "<!DOCTYPE HTML><HTML><HEAD>|<TITLE>x</TITLE></HEAD><BODY></BODY></HTML>", Injected, ""},
		{"head attributes", `<!doctype html><html lang="en"><head data-x="a>b" class=c>|<title>x</title>`, Injected, ""},
		{"bom", "\xef\xbb\xbf<!doctype html><html><head>|<title>x</title>", Injected, ""},
		{"comments before html", "<!-- a --><!doctype html>\n<!-- b -->\n<html><head>|\n<title>x</title>", Injected, ""},
		{"no head, title first", "<!doctype html><html>|<title>x</title><p>hi", Injected, ""},
		{"no head, body", "<!doctype html><html>\n|<body><p>hi</p></body></html>", Injected, ""},
		{"no html no head", "<!doctype html>|<p>hello", Injected, ""},
		{"text after doctype", "<!doctype html>|\nhello world", Injected, ""},
		{"meta charset first", `<!doctype html><html><head><meta charset="utf-8">|<title>x</title>`, Injected,
			`<!doctype html><html><head>|<meta charset="utf-8"><title>x</title>`},
		{"meta charset after title", "<!doctype html><html><head>\n  <title>a  b</title>\n  <meta charset=utf-8>|\n<script src=a.js></script>", Injected,
			"<!doctype html><html><head>|\n  <title>a  b</title>\n  <meta charset=utf-8>\n<script src=a.js></script>"},
		{"meta http-equiv", `<!doctype html><head><meta name=viewport content="w"><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=utf-8">|<link rel=stylesheet href=a.css>`, Injected,
			`<!doctype html><head>|<meta name=viewport content="w"><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=utf-8"><link rel=stylesheet href=a.css>`},
		// Browsers honour a charset declaration only in the first 1024
		// bytes: one within them keeps ahead of the tag, one past them
		// does not (so the lookahead is 1024 bytes, not more).
		{"meta charset within 1024 bytes", "<!doctype html><html><head><title>" + strings.Repeat("x", 900) + "</title><meta charset=utf-8>|<body>", Injected,
			"<!doctype html><html><head>|<title>" + strings.Repeat("x", 900) + "</title><meta charset=utf-8><body>"},
		{"meta charset past 1024 bytes", "<!doctype html><html><head>|<title>" + strings.Repeat("x", 1100) + "</title><meta charset=utf-8><body>", Injected, ""},
		{"meta charset after script stays", "<!doctype html><head>|<script>var a=1</script><meta charset=utf-8>", Injected, ""},
		{"implied head at meta charset", "<!doctype html><meta charset=utf-8>|<title>t</title><p>x", Injected, ""},
		{"scripts in head", "<!doctype html><html><head>|<script src=/app.js></script><script>window.x=1</script></head>", Injected, ""},
		{"xhtml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head>|<meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\"/><title>x</title></head>", Injected, ""},
		{"xhtml self-closing meta charset", `<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>|<title>x</title>`, Injected,
			`<html xmlns="http://www.w3.org/1999/xhtml"><head>|<meta charset="utf-8"/><title>x</title>`},
		{"headless element", "<!doctype html><html>|<header></header>", Injected, ""},
		{"head end tag first", "<!doctype html><html>|</head><body>", Injected, ""},
		{"crlf and tabs", "<!doctype html>\r\n<html>\r\n\t<head>|\r\n\t<title>x</title>", Injected, ""},
		{"base stays after tag", "<!doctype html><head>|<base href=https://cdn.example/><meta charset=utf-8>", Injected, ""},
		{"empty body", "", Truncated, ""},
		{"only doctype", "<!doctype html>", Truncated, ""},
		{"utf-16 le bom", "\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00", Incompatible, ""},
		{"utf-16 be no bom", "\x00<\x00h\x00t\x00m\x00l\x00>", Incompatible, ""},
		{"already injected", `<!doctype html><html><head><script src="/__cobrowse/bootstrap.js?v=1"></script>`, AlreadyInjected, ""},
		{"site loads zoom itself", `<!doctype html><head><meta charset=utf-8><script src="https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0"></script>`, AlreadyInjected, ""},
	}
	opts := Options{Markers: [][]byte{[]byte("/__cobrowse/bootstrap.js"), []byte("zcb.zoom.us/static/resource/sdk/")}}
	for _, tc := range tests {
		for _, size := range []int{0, 1, 3, 7} {
			if tc.res == AlreadyInjected && size > 0 {
				// Markers are looked for only in bytes that have arrived
				// when the head opens; a trickling page is not covered.
				continue
			}
			in := strings.Replace(tc.want, "|", "", 1)
			want := in
			if tc.res == Injected {
				placed := tc.want
				if size > 0 && tc.trickle != "" {
					placed = tc.trickle
				}
				want = strings.Replace(placed, "|", testTag, 1)
			}
			got, res := rewrite(t, in, opts, size)
			if res != tc.res {
				t.Errorf("%s (reads of %d): result %v, want %v", tc.name, size, res, tc.res)
			}
			if got != want {
				t.Errorf("%s (reads of %d):\n got %q\nwant %q", tc.name, size, got, want)
			}
		}
	}
}

func TestRewriterRequireDocument(t *testing.T) {
	tests := []struct {
		in  string
		res Result
	}{
		{`<div class="reviews"><p>Great</p></div>`, NotDocument},
		{"  \n<li>item</li>", NotDocument},
		{"Just some text", NotDocument},
		{"<!-- partial --><tr><td>1</td></tr>", NotDocument},
		{"</div>", NotDocument},
		{"<!doctype html><title>x</title>", Injected},
		{"<html><body>x", Injected},
		{"<head><title>x", Injected},
		{"\xef\xbb\xbf\n<!DOCTYPE html>\n<html><title>x", Injected},
		{"<!doctype html>", Truncated},
	}
	for _, tc := range tests {
		got, res := rewrite(t, tc.in, Options{RequireDocument: true}, 0)
		if res != tc.res {
			t.Errorf("%q: result %v, want %v", tc.in, res, tc.res)
		}
		if res != Injected && got != tc.in {
			t.Errorf("%q: changed to %q though not injected", tc.in, got)
		}
	}
}

// A page whose head does not open within MaxScan passes through unchanged,
// and so does a single token larger than MaxScan.
func TestRewriterScanLimit(t *testing.T) {
	long := "<!doctype html>" + strings.Repeat("<!-- padding -->", 1000) + "<html><head><title>x</title>"
	got, res := rewrite(t, long, Options{MaxScan: 4096}, 0)
	if res != NoHead || got != long {
		t.Errorf("long preamble: result %v, unchanged=%v", res, got == long)
	}
	huge := "<!doctype html><!--" + strings.Repeat("x", 100000) + "--><head>"
	got, res = rewrite(t, huge, Options{MaxScan: 4096}, 0)
	if res != NoHead || got != huge {
		t.Errorf("huge comment: result %v, unchanged=%v", res, got == huge)
	}
	tag := `<html ` + strings.Repeat(`a="b" `, 20000) + `><head>`
	got, res = rewrite(t, tag, Options{MaxScan: 4096}, 0)
	if res != NoHead || got != tag {
		t.Errorf("huge tag: result %v, unchanged=%v", res, got == tag)
	}
}

// Bytes after the head are copied without being read by the tokenizer, even
// when they are megabytes.
func TestRewriterLargeBody(t *testing.T) {
	body := "<!doctype html><html><head><title>x</title></head><body>" + strings.Repeat("<p>lorem ipsum</p>\n", 500000) + "</body></html>"
	got, res := rewrite(t, body, Options{}, 0)
	if res != Injected {
		t.Fatalf("result %v", res)
	}
	if want := strings.Replace(body, "<head>", "<head>"+testTag, 1); got != want {
		t.Fatalf("large body differs (len %d vs %d)", len(got), len(want))
	}
}

// An upstream error after the head is passed to the reader (the proxy then
// aborts the response) rather than ending the body cleanly.
func TestRewriterPropagatesErrors(t *testing.T) {
	boom := errors.New("upstream reset")
	for _, prefix := range []string{"<!doctype html><html><head><title>x</title>", "<!doctype html><!-- long"} {
		src := io.MultiReader(strings.NewReader(prefix), iotest.ErrReader(boom))
		_, err := io.ReadAll(NewRewriter(src, Options{Tag: []byte(testTag)}))
		if !errors.Is(err, boom) {
			t.Errorf("%q then error: got %v, want %v", prefix, err, boom)
		}
	}
}

// pauseReader delivers its first part, then blocks until released.
type pauseReader struct {
	first   []byte
	release chan struct{}
	rest    io.Reader
}

func (p *pauseReader) Read(b []byte) (int, error) {
	if len(p.first) > 0 {
		n := copy(b, p.first)
		p.first = p.first[n:]
		return n, nil
	}
	<-p.release
	return p.rest.Read(b)
}

// When the upstream sends the head and pauses, the injected head is readable
// before the pause ends.
func TestRewriterDoesNotWaitForMore(t *testing.T) {
	for _, tc := range []struct {
		first string
		meta  bool // scan the head for meta CSP too
	}{
		{"<!doctype html><html><head>", false},
		{"<!doctype html><html><head><meta charset=utf-8>", false},
		{"<!doctype html><html><head><title>t</title>", false},
		{"<!doctype html>\n<html>", false},
		{"<!doctype html><html><head>", true},
		{"<!doctype html><html><head><title>t</title><link rel=\"sty", true},
		{"<!doctype html><html><head><meta charset=utf-8><script>var a = 1", true},
	} {
		first := tc.first
		src := &pauseReader{first: []byte(first), release: make(chan struct{}), rest: strings.NewReader("<body>x</body>")}
		opts := Options{Tag: []byte(testTag)}
		if tc.meta {
			opts.MetaCSP = func([]byte) []byte { return nil }
		}
		rw := NewRewriter(src, opts)
		// What must arrive before the pause ends: the tag, or (no head yet)
		// the bytes so far.
		until := func(acc []byte) bool { return bytes.Contains(acc, []byte(testTag)) }
		if !strings.Contains(first, "<head>") {
			until = func(acc []byte) bool { return bytes.Contains(acc, []byte(first)) }
		}
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 32<<10)
			var acc []byte
			for !until(acc) {
				n, err := rw.Read(buf)
				acc = append(acc, buf[:n]...)
				if err != nil {
					break
				}
			}
			got <- string(acc)
		}()
		var out string
		select {
		case out = <-got:
		case <-time.After(10 * time.Second):
			close(src.release) // let the reader finish, then fail
			t.Fatalf("%q: the rewriter waited for bytes the upstream has not sent", first)
		}
		close(src.release)
		if !strings.Contains(first, "<head>") { // no head yet: nothing to inject
			if out != first {
				t.Errorf("%q: got %q before the pause", first, out)
			}
			continue
		}
		if !strings.Contains(out, testTag) {
			t.Errorf("%q: tag not delivered before the pause: %q", first, out)
		}
	}
}

func TestResultString(t *testing.T) {
	seen := map[string]bool{}
	for r := Pending; r <= Truncated; r++ {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Errorf("Result(%d).String() = %q", r, s)
		}
		seen[s] = true
	}
}

// With MetaCSP, every meta CSP tag in the head gets the merged policy and
// nothing else changes; tags after the head are not touched.
func TestRewriterMetaCSP(t *testing.T) {
	merge := func(p []byte) []byte {
		if bytes.Contains(p, []byte("zoom")) {
			return nil // already allows it: unchanged
		}
		return append(append([]byte(nil), p...), " https://*.zoom.us"...)
	}
	tests := []struct{ name, in, want string }{
		{"double quoted",
			`<!doctype html><head><meta http-equiv="Content-Security-Policy" content="script-src 'self'"><title>x</title></head><body>`,
			`<!doctype html><head>|<meta http-equiv="Content-Security-Policy" content="script-src 'self' https://*.zoom.us"><title>x</title></head><body>`},
		{"single quoted with entity, uppercase",
			`<HTML><HEAD><META HTTP-EQUIV='content-security-policy' CONTENT='img-src &apos;self&apos;'></HEAD>`,
			`<HTML><HEAD>|<META HTTP-EQUIV='content-security-policy' CONTENT='img-src &#39;self&#39; https://*.zoom.us'></HEAD>`},
		{"unquoted",
			`<head><meta content=img-src http-equiv=Content-Security-Policy>`,
			`<head>|<meta content="img-src https://*.zoom.us" http-equiv=Content-Security-Policy>`},
		{"two metas, one unchanged, scripts between",
			`<head><meta charset=utf-8><meta http-equiv=Content-Security-Policy content="a"><script>if (a<b) {}</script><meta http-equiv=Content-Security-Policy content="zoom"></head>`,
			`<head><meta charset=utf-8>|<meta http-equiv=Content-Security-Policy content="a https://*.zoom.us"><script>if (a<b) {}</script><meta http-equiv=Content-Security-Policy content="zoom"></head>`},
		{"policy before charset keeps the tag first",
			`<head><meta http-equiv=Content-Security-Policy content="a"><meta charset=utf-8></head>`,
			`<head>|<meta http-equiv=Content-Security-Policy content="a https://*.zoom.us"><meta charset=utf-8></head>`},
		{"meta in body untouched",
			`<head><title>x</title></head><body><meta http-equiv=Content-Security-Policy content="a">`,
			`<head>|<title>x</title></head><body><meta http-equiv=Content-Security-Policy content="a">`},
		{"body element ends the head",
			`<!doctype html><meta charset=utf-8><div><meta http-equiv=Content-Security-Policy content="a">`,
			`<!doctype html><meta charset=utf-8>|<div><meta http-equiv=Content-Security-Policy content="a">`},
		{"no head tag: the policy opens the head",
			`<html><meta http-equiv=Content-Security-Policy content="a"><title>x</title>`,
			`<html>|<meta http-equiv=Content-Security-Policy content="a https://*.zoom.us"><title>x</title>`},
		{"no head tag: title first",
			`<html><title>x</title><meta http-equiv=Content-Security-Policy content="a"><p>`,
			`<html>|<title>x</title><meta http-equiv=Content-Security-Policy content="a https://*.zoom.us"><p>`},
		{"no head tag: script first",
			`<html><script>if (a<b) {}</script><meta http-equiv=Content-Security-Policy content="a">`,
			`<html>|<script>if (a<b) {}</script><meta http-equiv=Content-Security-Policy content="a https://*.zoom.us">`},
		{"other http-equiv untouched",
			`<head><meta http-equiv=refresh content="5"></head>`,
			`<head>|<meta http-equiv=refresh content="5"></head>`},
	}
	for _, tc := range tests {
		for _, size := range []int{0, 1, 5} {
			want := strings.Replace(tc.want, "|", testTag, 1)
			if size > 0 && strings.Contains(tc.name, "two metas") {
				// Trickling: the charset is not seen in time; tag at head start.
				want = strings.Replace(strings.Replace(tc.want, "|", "", 1), "<head>", "<head>"+testTag, 1)
			}
			got, res := rewrite(t, tc.in, Options{MetaCSP: merge}, size)
			if res != Injected || got != want {
				t.Errorf("%s (reads of %d): result %v\n got %q\nwant %q", tc.name, size, res, got, want)
			}
		}
	}
}

func TestResultStringOutOfRange(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Truncated, "truncated"},
		{Result(7), "unknown"},
		{Result(100), "unknown"},
	}
	for _, tc := range tests {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Result(%d).String() = %q, want %q", int(tc.r), got, tc.want)
		}
	}
}

// Edge cases of the options: an empty marker matches nothing, a tag larger
// than the output buffer's initial room, and a head that opens exactly at
// MaxScan or whose meta CSP ends exactly at MaxScan past the head.
func TestRewriterOptionEdges(t *testing.T) {
	merge := func(p []byte) []byte { return append(append([]byte(nil), p...), " z"...) }
	bigTag := "<script>/*" + strings.Repeat("x", 5000) + "*/</script>"
	tests := []struct {
		name string
		in   string
		opts Options
		want string
		res  Result
	}{
		{"empty marker is ignored", "<html><head><title>x</title>",
			Options{Markers: [][]byte{{}}},
			"<html><head>" + testTag + "<title>x</title>", Injected},
		{"tag larger than 4 KiB", "<html><head><title>x</title>",
			Options{Tag: []byte(bigTag)},
			"<html><head>" + bigTag + "<title>x</title>", Injected},
		// "<!--x-->" is 8 bytes and "<p>" 3: the head opens at byte 11.
		{"head opens at exactly MaxScan", "<!--x--><p>hi",
			Options{MaxScan: 11},
			"<!--x-->" + testTag + "<p>hi", Injected},
		{"head opens one byte past MaxScan", "<!--x--><p>hi",
			Options{MaxScan: 10},
			"<!--x--><p>hi", NoHead},
		// After "<html><head>" (12 bytes), "<link>" is 6 bytes and the meta
		// tag 51: it ends 57 bytes past the head's opening.
		{"meta CSP ends at exactly MaxScan past the head", "<html><head><link><meta http-equiv=Content-Security-Policy content=a>",
			Options{MaxScan: 57, MetaCSP: merge},
			"<html><head>" + testTag + `<link><meta http-equiv=Content-Security-Policy content="a z">`, Injected},
		{"meta CSP ends one byte past MaxScan", "<html><head><link><meta http-equiv=Content-Security-Policy content=a>",
			Options{MaxScan: 56, MetaCSP: merge},
			"<html><head>" + testTag + "<link><meta http-equiv=Content-Security-Policy content=a>", Injected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, res := rewrite(t, tc.in, tc.opts, 0)
			if res != tc.res || got != tc.want {
				t.Errorf("result %v, want %v\n got %q\nwant %q", res, tc.res, got, tc.want)
			}
		})
	}
}

// A page that has fully arrived leaves in one Read, not one token at a time,
// also when the next token starts with '>'.
func TestRewriterOneWrite(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<!doctype html><!--c--><html><head><title>t</title></head>",
			"<!doctype html><!--c--><html><head>" + testTag + "<title>t</title></head>"},
		{"<!doctype html>><p>", "<!doctype html>" + testTag + "><p>"},
	}
	for _, tc := range tests {
		rw := NewRewriter(strings.NewReader(tc.in), Options{Tag: []byte(testTag)})
		buf := make([]byte, 4096)
		n, err := rw.Read(buf)
		if got := string(buf[:n]); got != tc.want || err != nil {
			t.Errorf("%q: first Read = %q, %v; want %q, nil", tc.in, got, err, tc.want)
		}
	}
}

// zeroReader never makes progress: every Read returns 0, nil.
type zeroReader struct{ first []byte }

func (z *zeroReader) Read(p []byte) (int, error) {
	n := copy(p, z.first)
	z.first = z.first[n:]
	return n, nil
}

// A source that returns no bytes and no error is reported as
// io.ErrNoProgress, before the head and while scanning it, rather than
// making the caller spin on 0, nil forever.
func TestRewriterNoProgress(t *testing.T) {
	tests := []struct {
		name  string
		first string
		opts  Options
		want  string
	}{
		{"before the head", "<!doctype html>", Options{}, "<!doctype html>"},
		{"in the head", "<html><head><title>x</title>", Options{MetaCSP: func([]byte) []byte { return nil }},
			"<html><head>" + testTag + "<title>x</title>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Tag = []byte(testTag)
			rw := NewRewriter(&zeroReader{first: []byte(tc.first)}, tc.opts)
			var got []byte
			buf := make([]byte, 4096)
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				var n int
				n, err = rw.Read(buf)
				got = append(got, buf[:n]...)
			}
			if !errors.Is(err, io.ErrNoProgress) {
				t.Errorf("error %v, want io.ErrNoProgress", err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRewriterGrowth: Growth is unknown while the head may still change and
// then says by how much the output outgrows the input, before the rest of
// the page is read.
func TestRewriterGrowth(t *testing.T) {
	csp := `<meta http-equiv="Content-Security-Policy" content="script-src 'self'">`
	merged := func([]byte) []byte { return []byte("script-src 'self' https://zoom.us") }
	for _, tc := range []struct {
		name      string
		head      string // arrives first
		rest      string // after a pause
		meta      func([]byte) []byte
		markers   [][]byte
		wantKnown bool // before the rest is read
		want      int64
	}{
		{"injected", "<!doctype html><html><head>", "<title>t</title><body>x", nil, nil, true, int64(len(testTag))},
		{"already injected", "<!doctype html><html><head>" + testTag, "<body>x", nil, [][]byte{[]byte("bootstrap.js")}, true, 0},
		{"no head yet", "<!doctype html><html", "><head><body>x", nil, nil, false, int64(len(testTag))},
		{"meta CSP may follow", "<!doctype html><html><head><title>t</title>", csp + "</head><body>x", merged, nil, false,
			int64(len(testTag) + len(" https://zoom.us"))},
		{"head ended", "<!doctype html><html><head><title>t</title></head><body>", "x" + csp, merged, nil, true, int64(len(testTag))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &pauseReader{first: []byte(tc.head), release: make(chan struct{}), rest: strings.NewReader(tc.rest)}
			rw := NewRewriter(src, Options{Tag: []byte(testTag), MetaCSP: tc.meta, Markers: tc.markers})
			buf := make([]byte, 32<<10)
			n, err := rw.Read(buf)
			if err != nil {
				t.Fatalf("first Read: %v", err)
			}
			out := append([]byte(nil), buf[:n]...)
			g, ok := rw.Growth()
			if ok != tc.wantKnown || ok && g != tc.want {
				t.Errorf("after the first bytes: Growth %d, %v; want %d, %v", g, ok, tc.want, tc.wantKnown)
			}
			close(src.release)
			rest, err := io.ReadAll(rw)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rest...)
			in := len(tc.head) + len(tc.rest)
			if g, ok := rw.Growth(); !ok || g != tc.want || g != int64(len(out)-in) {
				t.Errorf("at the end: Growth %d, %v; want %d (output %d bytes, input %d)", g, ok, tc.want, len(out), in)
			}
		})
	}
}
