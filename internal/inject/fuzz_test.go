package inject

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
)

// tokenBoundaries returns the offsets in b at which x/net/html's tokenizer
// starts a token (including 0 and the end of the last token), up to limit.
func tokenBoundaries(b []byte, limit int) map[int]bool {
	z := html.NewTokenizer(bytes.NewReader(b))
	at := map[int]bool{0: true}
	end := 0
	for end <= limit {
		tt := z.Next()
		end += len(z.Raw())
		at[end] = true
		if tt == html.ErrorToken {
			break
		}
	}
	return at
}

// FuzzRewriterLossless: whatever the body and however it arrives, the
// rewriter's output is the body itself, or the body with exactly one copy of
// the tag inserted at a token boundary.
func FuzzRewriterLossless(f *testing.F) {
	seeds := []string{
		"<!doctype html><html><head><title>x</title></head><body>hi</body></html>",
		"\xef\xbb\xbf<!DOCTYPE html>\r\n<HTML LANG=en><HEAD><META CHARSET=UTF-8><TITLE>x</TITLE></HEAD>",
		"<!-- a --><!doctype html>\n<!-- b -->\n<html><head>\n<title>x</title>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"x.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta charset=\"utf-8\"/><title>x</title></head>",
		"<!doctype html><p>no head at all",
		"<!doctype html><html><head>\n  <title>a  b</title>\n  <link rel=stylesheet href=a.css>\n  <meta charset=utf-8>\n<script src=a.js></script>",
		"<!doctype html><head><script>var s='<head>'</script><meta charset=utf-8>",
		`<div class="reviews"><p>Great</p></div>`,
		"<tr><td>1</td></tr>",
		"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00<\x00h\x00e\x00a\x00d\x00>\x00",
		"\x00<\x00h\x00t\x00m\x00l\x00>",
		"<!doctype html><!--" + strings.Repeat("x", 5000) + "--><html><head><title>x</title>",
		`<!doctype html><html><head><script src="/__cobrowse/bootstrap.js"></script>`,
		`<!doctype html><html a="b>c" <head x='<head>'><title>x`,
		"<!doctype html><html><title>x</title><meta http-equiv=Content-Type content=\"text/html; charset=utf-8\">",
		"<!doctype html><html><head",
		"<!doctype html><textarea><head></textarea>",
		`<!doctype html><head><meta charset=utf-8><meta http-equiv="Content-Security-Policy" content="script-src 'self'"><script>x</script><style>p{}</style></head><body>`,
		"",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i*37), i%3 == 0, uint16(i*211))
	}
	// A policy that arrives after the first reads of the head: a pre-scan
	// that skipped the head on the bytes arrived so far would miss it.
	late := `<!doctype html><head><title>t</title><link rel=stylesheet href=/a.css><link rel=icon href=/i.png>` +
		`<meta http-equiv="Content-Security-Policy" content="script-src 'self'"></head><body>`
	f.Add([]byte(late), uint8(15), false, uint16(1001))
	for i, head := range []string{
		"<script>if (a</b) {}</script><script><!--</script>--></script>",
		"<script/>x</script>", "<title>a</head>b</title>", "<template>x</template>",
		`<link href="a>b"></script x="</head>">`, "<!-- </head> -->", "<style>p{}</style/>",
		"<noscript><p></noscript>", "<TITLE>x</TiTlE >", "<meta charset=x><textarea>",
	} {
		page := "<!doctype html><html><head>" + head + `<meta http-equiv="Content-Security-Policy" content="a"></head><body>x`
		f.Add([]byte(page), uint8(255), i%2 == 0, uint16(4001))
		f.Add([]byte(page), uint8(40+i), i%2 == 1, uint16(3001))
	}
	f.Add([]byte(late), uint8(63), true, uint16(4001))

	tag := []byte(testTag)
	f.Fuzz(func(t *testing.T, in []byte, k uint8, requireDoc bool, scan uint16) {
		maxScan := 64 + int(scan)%(4096-64+1)
		opts := Options{
			Tag:             tag,
			Markers:         [][]byte{[]byte("/__cobrowse/bootstrap.js")},
			RequireDocument: requireDoc,
			MaxScan:         maxScan,
		}
		if scan&1 == 1 {
			// Scan the whole head for meta CSP tags, changing none: the
			// output must still be the input plus the tag.
			opts.MetaCSP = func([]byte) []byte { return nil }
		}
		rw := NewRewriter(&chunkReader{b: in, n: int(k) + 1}, opts)
		out, err := readGrowth(t, rw, 1+int(scan)%700, len(in))
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		res := rw.Result()
		if opts.MetaCSP != nil {
			samePrescanned(t, in, int(k)+1, opts)
		}
		sameLexed(t, in, int(k)+1, 1+int(scan)%700, opts)
		if res == Pending {
			t.Fatalf("result still pending at EOF")
		}
		if res != Injected {
			if te := rw.TagEnd(); te != -1 {
				t.Fatalf("result %v but TagEnd %d", res, te)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("result %v but output differs:\n in %q\nout %q", res, in, out)
			}
			return
		}
		if te := rw.TagEnd(); te < int64(len(tag)) || te > int64(len(out)) || !bytes.Equal(out[te-int64(len(tag)):te], tag) {
			t.Fatalf("injected, but TagEnd %d is not just past the tag:\n in %q\nout %q", te, in, out)
		}
		if len(out) != len(in)+len(tag) {
			t.Fatalf("injected: len(out)=%d, want %d+%d\n in %q\nout %q", len(out), len(in), len(tag), in, out)
		}
		// Candidate offsets i: out[:i] == in[:i] and out[i+len(tag):] == in[i:].
		prefix := 0
		for prefix < len(in) && out[prefix] == in[prefix] {
			prefix++
		}
		suffix := 0
		for suffix < len(in) && out[len(out)-1-suffix] == in[len(in)-1-suffix] {
			suffix++
		}
		var cands []int
		for i := len(in) - suffix; i <= prefix; i++ {
			if i >= 0 && bytes.Equal(out[i:i+len(tag)], tag) {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			t.Fatalf("injected, but output is not input plus one tag:\n in %q\nout %q", in, out)
		}
		bound := tokenBoundaries(in, cands[len(cands)-1])
		for _, i := range cands {
			if bound[i] {
				return
			}
		}
		t.Fatalf("tag inserted at %v, not at a token boundary:\n in %q\nout %q", cands, in, out)
	})
}

// stickyOnceReader returns its data together with err in one Read, then
// (0, io.EOF), like net/http's body after an early EOF: the error is
// reported once only.
type stickyOnceReader struct {
	data []byte
	err  error
	done bool
}

func (r *stickyOnceReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	return copy(p, r.data), r.err
}

// An io.Reader may return data and an error from the same Read, and need not
// repeat the error. The tokenizer keeps such an error (its readErr) until its
// buffer runs dry; if the head opens first, the rewriter drops the tokenizer
// and reads src again, and the upstream error is lost: the proxy would end a
// truncated page cleanly instead of aborting it.
func TestRewriterKeepsErrorReturnedWithData(t *testing.T) {
	boom := io.ErrUnexpectedEOF
	for _, page := range []string{
		"<!doctype html><html><head><title>x</title>", // head opens: Injected
		"<div>fragment</div><p>more",                  // NotDocument
	} {
		src := &stickyOnceReader{data: []byte(page), err: boom}
		rw := NewRewriter(src, Options{Tag: []byte(testTag), RequireDocument: true})
		_, err := io.ReadAll(rw)
		if !errors.Is(err, boom) {
			t.Errorf("%q returned with %v: Read ended with %v (result %v), want %v", page, boom, err, rw.Result(), boom)
		}
	}
}

// samePrescanned checks that the pre-scan of the head changes nothing: with
// a MetaCSP that changes every policy, the rewriter that skips tokenizing
// the rest of a head without http-equiv gives the output of the one that
// tokenizes it all.
func samePrescanned(t *testing.T, in []byte, chunk int, opts Options) {
	t.Helper()
	opts.MetaCSP = func(p []byte) []byte { return append(append([]byte(nil), p...), " z"...) }
	// The end of the source is seen with the last bytes, or only after
	// them (then headEnd decides).
	sources := []func() io.Reader{
		func() io.Reader { return &eofReader{b: in, max: chunk} },
		func() io.Reader { return &chunkReader{b: in, n: chunk} },
		func() io.Reader { return bytes.NewReader(in) },
	}
	for _, src := range sources {
		var outs [2][]byte
		var res [2]Result
		for i, noPrescan := range []bool{false, true} {
			rw := NewRewriter(src(), opts)
			rw.noPrescan = noPrescan
			out, err := io.ReadAll(rw)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			outs[i], res[i] = out, rw.Result()
		}
		if !bytes.Equal(outs[0], outs[1]) || res[0] != res[1] {
			t.Fatalf("pre-scan changed the result:\n in %q\nwith    %v %q\nwithout %v %q", in, res[0], outs[0], res[1], outs[1])
		}
	}
}

// readGrowth reads all of rw in reads of size bytes, checking Growth after
// each: once known it never changes, and at the end it is the output's
// length minus the input's.
func readGrowth(t *testing.T, rw *Rewriter, size, inLen int) ([]byte, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, size)
	known, first := false, int64(0)
	for {
		n, err := rw.Read(buf)
		out = append(out, buf[:n]...)
		if g, ok := rw.Growth(); ok {
			if known && g != first {
				t.Fatalf("Growth changed from %d to %d", first, g)
			}
			known, first = true, g
		} else if known {
			t.Fatalf("Growth known (%d), then unknown", first)
		}
		if err == io.EOF {
			if g, ok := rw.Growth(); !ok || g != int64(len(out)-inLen) {
				t.Fatalf("at the end Growth = %d, %v; the output is %d bytes, the input %d", g, ok, len(out), inLen)
			}
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// recordReader records the length of every Read asked of it, and answers
// with empty reads every third call when stall is set (an upstream whose
// bytes have not arrived).
type recordReader struct {
	r     io.Reader
	asked []int
	stall bool
}

func (r *recordReader) Read(p []byte) (int, error) {
	r.asked = append(r.asked, len(p))
	if r.stall && len(r.asked)%3 == 0 {
		return 0, nil
	}
	return r.r.Read(p)
}

// sameLexed checks that the lexer changes nothing: the rewriter that
// starts with it and the one that starts with the tokenizer ask the
// source for the same lengths, return the same reads (read bytes at a
// time) with the same errors, the same result, TagEnd and Growth.
func sameLexed(t *testing.T, in []byte, chunk, read int, opts Options) {
	t.Helper()
	sources := []func() io.Reader{
		func() io.Reader { return &eofReader{b: in, max: chunk} },
		func() io.Reader { return &chunkReader{b: in, n: chunk} },
		func() io.Reader { return &stickyOnceReader{data: in, err: io.ErrUnexpectedEOF} },
		// 100 empty reads: the first read fails with io.ErrNoProgress.
		func() io.Reader { return &slowStartReader{r: &chunkReader{b: in, n: chunk}, empty: 100} },
	}
	type run struct {
		asked, reads  []int
		out           []byte
		errs          []error
		res           Result
		tagEnd, grown int64
	}
	type variant struct {
		opts  Options
		stall bool
	}
	pooled := opts
	pooled.Buffers = &syncPool{Pool: sync.Pool{New: func() any { b := make([]byte, 3*lexSize); return &b }}}
	variants := []variant{{opts, false}, {opts, true}, {pooled, false}}
	if opts.MetaCSP != nil {
		merged := opts
		merged.MetaCSP = func(p []byte) []byte { return append(append([]byte(nil), p...), " z"...) }
		variants = append(variants, variant{merged, false})
	}
	for si, src := range sources {
		for _, v := range variants {
			opts, stall := v.opts, v.stall
			var runs [2]run
			for i, noLex := range []bool{false, true} {
				rec := &recordReader{r: src(), stall: stall}
				rw := NewRewriter(rec, opts)
				rw.noLex = noLex
				r := &runs[i]
				buf := make([]byte, read)
				for range 10000 {
					n, err := rw.Read(buf)
					r.out = append(r.out, buf[:n]...)
					r.reads = append(r.reads, n)
					r.errs = append(r.errs, err)
					if err != nil {
						break
					}
				}
				r.asked, r.res, r.tagEnd = rec.asked, rw.Result(), rw.TagEnd()
				r.grown, _ = rw.Growth()
			}
			a, b := runs[0], runs[1]
			if !bytes.Equal(a.out, b.out) || a.res != b.res || a.tagEnd != b.tagEnd || a.grown != b.grown ||
				fmt.Sprint(a.asked) != fmt.Sprint(b.asked) || fmt.Sprint(a.reads) != fmt.Sprint(b.reads) || fmt.Sprint(a.errs) != fmt.Sprint(b.errs) {
				t.Fatalf("source %d (stall %v): the lexer changed the run:\n in %q\nlexed     %v %d %d asked %v reads %v %v\n%q\ntokenized %v %d %d asked %v reads %v %v\n%q",
					si, stall, in, a.res, a.tagEnd, a.grown, a.asked, a.reads, a.errs, a.out, b.res, b.tagEnd, b.grown, b.asked, b.reads, b.errs, b.out)
			}
		}
	}
}

// slowStartReader returns 0, nil to its first empty Reads, then reads r.
type slowStartReader struct {
	r     io.Reader
	empty int
}

func (s *slowStartReader) Read(p []byte) (int, error) {
	if s.empty > 0 {
		s.empty--
		return 0, nil
	}
	return s.r.Read(p)
}
