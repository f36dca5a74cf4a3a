package inject

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/benchcompare"
)

// pageHead is the start of a realistic page: doctype, a head with meta
// charset, a title and ten link/script tags.
var pageHead = func() string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>Acme Shop – Product 42</title>\n")
	for i := range 5 {
		fmt.Fprintf(&b, "<link rel=\"stylesheet\" href=\"/static/css/app.%d.7f3a9c.css\" integrity=\"sha384-abcdefabcdef%d\" crossorigin=\"anonymous\">\n", i, i)
		fmt.Fprintf(&b, "<script src=\"/static/js/chunk.%d.91bd02.js\" defer></script>\n", i)
	}
	b.WriteString("</head>\n<body class=\"product\">\n<main>\n")
	return b.String()
}()

const pageParagraph = "<p class=\"copy\">Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor <a href=\"/p/1\">incididunt</a> ut labore et dolore magna aliqua.</p>\n"

const pageTail = "</main>\n</body>\n</html>\n"

// pageReader generates a page of about size bytes without holding it.
type pageReader struct {
	size, done int
	part       string // what is left of the current part
	tail       bool
}

func newPageReader(size int) *pageReader { return &pageReader{size: size, part: pageHead} }

func (r *pageReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.part == "" {
			switch {
			case r.tail:
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			case r.done+len(pageParagraph)+len(pageTail) > r.size:
				r.part, r.tail = pageTail, true
			default:
				r.part = pageParagraph
			}
		}
		c := copy(p[n:], r.part)
		r.part = r.part[c:]
		r.done += c
		n += c
	}
	return n, nil
}

func buildPage(size int) []byte {
	b, err := io.ReadAll(newPageReader(size))
	if err != nil {
		panic(err)
	}
	return b
}

// copyLikeProxy copies src to io.Discard through a 32 KiB buffer, calling
// Read and Write as httputil.ReverseProxy does. io.CopyBuffer would bypass
// the buffer (io.Discard is an io.ReaderFrom, bytes.Reader an io.WriterTo),
// so both are hidden behind plain interfaces.
func copyLikeProxy(src io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{src}, buf)
}

var benchSizes = []struct {
	name string
	size int
}{{"10KB", 10 << 10}, {"100KB", 100 << 10}, {"10MB", 10 << 20}}

// BenchmarkRewriter streams pages through the rewriter, without and with
// MetaCSP (set whenever the site has a CSP section: the rewriter then
// tokenizes the whole head looking for <meta http-equiv> policies).
func BenchmarkRewriter(b *testing.B) {
	tag := []byte(testTag)
	markers := [][]byte{[]byte("/__cobrowse/bootstrap.js"), []byte("zcb.zoom.us/static/resource/sdk/")}
	keep := func([]byte) []byte { return nil }
	pool := &syncPool{}
	pool.New = func() any { b := make([]byte, 32<<10); return &b }
	for _, bs := range benchSizes {
		for _, v := range []struct {
			name string
			meta bool
			pool BufferPool
		}{{"", false, nil}, {"/metaCSP", true, nil}, {"/metaCSP/pooled", true, pool}} {
			b.Run(bs.name+v.name, func(b *testing.B) {
				benchRewriter(b, buildPage(bs.size), Options{Tag: tag, Markers: markers, Buffers: v.pool}, v.meta, keep)
			})
		}
	}
}

// BenchmarkRewriterProxy streams the pages of internal/benchcompare through
// the rewriter as the proxy configures it by default (internal/server's
// build.go): the loader tag with its version, the two markers (the loader's
// path and the SDK's CDN), MetaCSP (csp.mode merge is the default) and
// pooled buffers.
func BenchmarkRewriterProxy(b *testing.B) {
	opts := Options{
		Tag:     []byte(`<script src="/__cobrowse/bootstrap.js?v=3f9a1c2b7d4e"></script>`),
		Markers: [][]byte{[]byte("/__cobrowse/bootstrap.js"), []byte("us01-zcb.zoom.us/static/resource/sdk/")},
		Buffers: &syncPool{Pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}},
	}
	keep := func([]byte) []byte { return nil }
	for _, bs := range benchSizes[:2] {
		b.Run(bs.name, func(b *testing.B) {
			benchRewriter(b, benchcompare.Page(bs.size), opts, true, keep)
		})
	}
}

// syncPool is a BufferPool of 32 KiB buffers, as a proxy would pass (its
// ReverseProxy copy buffers).
type syncPool struct{ sync.Pool }

func (p *syncPool) Get() []byte  { return *(p.Pool.Get().(*[]byte)) }
func (p *syncPool) Put(b []byte) { p.Pool.Put(&b) }

func benchRewriter(b *testing.B, page []byte, opts Options, meta bool, keep func([]byte) []byte) {
	if meta {
		opts.MetaCSP = keep
	}
	tag := opts.Tag
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		rw := NewRewriter(bytes.NewReader(page), opts)
		n, err := copyLikeProxy(rw, buf)
		if err != nil || n != int64(len(page)+len(tag)) || rw.Result() != Injected {
			b.Fatalf("copied %d, %v, %v", n, err, rw.Result())
		}
	}
}

func BenchmarkCopyBaseline(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			page := buildPage(bs.size)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				n, err := copyLikeProxy(bytes.NewReader(page), buf)
				if err != nil || n != int64(len(page)) {
					b.Fatalf("copied %d, %v", n, err)
				}
			}
		})
	}
}

// The rewriter's memory does not grow with the page: streaming 10 MB
// allocates about as much as streaming the head alone.
func TestRewriterMemoryBounded(t *testing.T) {
	const size = 10 << 20
	const limit = 128 << 10 // measured: ~20 KB (27 objects) for 10 MB
	tag := []byte(testTag)
	buf := make([]byte, 32<<10)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	src := newPageReader(size)
	rw := NewRewriter(src, Options{Tag: tag})
	n, err := copyLikeProxy(rw, buf)
	runtime.ReadMemStats(&after)

	if err != nil || rw.Result() != Injected {
		t.Fatalf("copy: %v, result %v", err, rw.Result())
	}
	if int(n) < size-len(pageParagraph) || src.done+len(tag) != int(n) {
		t.Fatalf("copied %d bytes of a %d-byte page", n, src.done)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("streamed %d bytes; rewriter allocated %d bytes in %d objects", n, alloc, after.Mallocs-before.Mallocs)
	if alloc > limit {
		t.Errorf("allocated %d bytes for a %d-byte page, want < %d", alloc, n, limit)
	}
}
