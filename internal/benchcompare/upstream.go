package benchcompare

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
)

// Upstream serves the benchmark's pages from memory: HTML pages of a few
// sizes, each also gzip-compressed ahead of time (sent with
// Content-Encoding: gzip when the request accepts gzip, so the upstream
// costs no CPU for compression), and one binary body.
type Upstream struct {
	pages map[string]body
}

type body struct {
	contentType string
	identity    []byte
	gzip        []byte // nil: never compressed (the binary)
}

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
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(p); err != nil {
			return nil, fmt.Errorf("gzip %s: %w", path, err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip %s: %w", path, err)
		}
		u.pages[path] = body{contentType: "text/html; charset=utf-8", identity: p, gzip: gz.Bytes()}
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
	if b.gzip != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			data = b.gzip
		}
	}
	h.Set("Content-Length", fmt.Sprint(len(data)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(data)
}

// acceptsGzip is a deliberately simple reading of Accept-Encoding (gzip
// listed without q=0): the harness's clients send either nothing, "" or
// "gzip".
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
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
