package benchcompare

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// Upstream serves the benchmark's pages from memory: HTML pages of a few
// sizes, each also compressed ahead of time with gzip, brotli and zstd
// (sent with that Content-Encoding when the request accepts it, so the
// upstream costs no CPU for compression), and one binary body.
type Upstream struct {
	pages map[string]body
}

type body struct {
	contentType string
	identity    []byte
	encoded     map[string][]byte // by coding; nil: never compressed (the binary)
}

// Codings are the content codings the upstream has every page in, in the
// order it prefers them when a request accepts several.
var Codings = []string{"gzip", "br", "zstd"}

// The paths the Upstream serves.
const (
	PathHTML10K  = "/page/10k.html"
	PathHTML100K = "/page/100k.html"
	PathHTML1M   = "/page/1m.html"
	PathBinary1M = "/bin/1m.bin"
)

// NewUpstream builds every page once.
func NewUpstream() (*Upstream, error) {
	u := &Upstream{pages: make(map[string]body)}
	for path, size := range map[string]int{PathHTML10K: 10 << 10, PathHTML100K: 100 << 10, PathHTML1M: 1 << 20} {
		p := Page(size)
		b := body{contentType: "text/html; charset=utf-8", identity: p, encoded: map[string][]byte{}}
		for _, coding := range Codings {
			enc, err := Compress(coding, p)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", coding, path, err)
			}
			b.encoded[coding] = enc
		}
		u.pages[path] = b
	}
	bin := make([]byte, 1<<20)
	// Not compressible and not HTML-looking: a simple LCG fills it
	// deterministically, without a package-level random source.
	x := uint32(2463534242)
	for i := range bin {
		x = x*1664525 + 1013904223
		bin[i] = byte(x >> 24)
	}
	u.pages[PathBinary1M] = body{contentType: "application/octet-stream", identity: bin}
	return u, nil
}

// Body returns the identity bytes served at path (nil if none): the
// harness compares what the targets send with it.
func (u *Upstream) Body(path string) []byte { return u.pages[path].identity }

func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := u.pages[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", b.contentType)
	data := b.identity
	if b.encoded != nil {
		h.Set("Vary", "Accept-Encoding")
		if coding := acceptedCoding(r.Header.Get("Accept-Encoding")); coding != "" {
			h.Set("Content-Encoding", coding)
			data = b.encoded[coding]
		}
	}
	h.Set("Content-Length", fmt.Sprint(len(data)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(data)
}

// acceptedCoding is a deliberately simple reading of Accept-Encoding: the
// first of br, zstd and gzip (the smallest first, as an origin with
// pre-compressed pages prefers) the header lists without q=0 ("" for
// none). The harness's clients send nothing, a single coding or a
// browser's list.
func acceptedCoding(ae string) string {
	for _, coding := range [...]string{"br", "zstd", "gzip"} {
		for _, part := range strings.Split(ae, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(name), coding) && strings.ReplaceAll(params, " ", "") != "q=0" {
				return coding
			}
		}
	}
	return ""
}

// Compress encodes p in coding ("gzip", "br" or "zstd") at each library's
// default level, as an origin's build step or on-the-fly compressor would.
// The libraries are used directly, not internal/encoding, so the harness
// does not check the proxy with the proxy's own code.
func Compress(coding string, p []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		w = zw
	default:
		return nil, fmt.Errorf("unknown coding %q", coding)
	}
	if _, err := w.Write(p); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decompress undoes Compress (and any other encoder's output in coding).
func Decompress(coding string, p []byte) ([]byte, error) {
	var r io.Reader
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, err
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(p))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(p), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unknown coding %q", coding)
	}
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// Page builds a realistic HTML page of exactly size bytes (for sizes of
// at least about 1 KB): a head with a charset, a title, stylesheets and
// scripts, and a body of paragraphs and links, padded to the size.
func Page(size int) []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html lang=en>\n<head>\n<meta charset=\"utf-8\">\n<title>Bench</title>\n")
	for i := range 10 {
		fmt.Fprintf(&b, "<link rel=stylesheet href=\"/s/%d.css\"><script src=\"/s/%d.js\" defer></script>\n", i, i)
	}
	b.WriteString("</head>\n<body>\n")
	const tail = "</body>\n</html>\n"
	for i := 0; b.Len() < size-len(tail)-200; i++ {
		fmt.Fprintf(&b, "<div class=\"item\"><h2>Item %d</h2><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit; <a href=\"/item/%d\">details</a> and more text to read.</p></div>\n", i, i)
	}
	if pad := size - len(tail) - b.Len(); pad > 9 {
		b.WriteString("<!--")
		b.WriteString(strings.Repeat("x", pad-8))
		b.WriteString("-->\n")
	}
	b.WriteString(tail)
	return b.Bytes()
}
