package encoding

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// levelCases are the levels worth considering for on-the-fly compression;
// BenchmarkReencode measures each of them.
var levelCases = []struct {
	coding string
	levels []int
	opts   func(level int) Options
}{
	{"gzip", []int{1, 2, 3, 4, 5, 6}, func(l int) Options { return Options{GzipLevel: l} }},
	{"br", []int{1, 2, 3, 4, 5}, func(l int) Options { return Options{BrotliQuality: l} }},
	{"zstd", []int{1, 3}, func(l int) Options { return Options{ZstdLevel: l} }},
}

// benchPages are the pages BenchmarkReencode runs on: the synthetic shop
// page the other tests use and, when the Go tree ships it, the first
// 100 KB of the Go specification, a real hand-written HTML document.
func benchPages(b *testing.B) []struct {
	name string
	data []byte
} {
	pages := []struct {
		name string
		data []byte
	}{{"shop", htmlPage(benchPageSize)}}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Logf("go env GOROOT: %v: measuring the synthetic page only", err)
		return pages
	}
	if spec, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "doc", "go_spec.html")); err == nil && len(spec) >= benchPageSize {
		pages = append(pages, struct {
			name string
			data []byte
		}{"gospec", spec[:benchPageSize]})
	} else {
		b.Logf("no go_spec.html in GOROOT (%v): measuring the synthetic page only", err)
	}
	return pages
}

// BenchmarkReencode measures what the proxy adds to a compressed upstream
// page: decode it (the upstream compressed it at the same level) and encode
// it again, 4 KiB at a time with one Flush after the head, at each level
// in levelCases. MB/s is of the uncompressed page; %size is the client's
// compressed size relative to the page. Compare with BenchmarkDecode for
// the decode share.
//
//	go test -run '^$' -bench Reencode -benchtime 2s ./internal/encoding
func BenchmarkReencode(b *testing.B) {
	for _, page := range benchPages(b) {
		for _, lc := range levelCases {
			for _, level := range lc.levels {
				b.Run(fmt.Sprintf("%s/%s-%d", page.name, lc.coding, level), func(b *testing.B) {
					c := New(lc.opts(level))
					upstream := encode(b, c, lc.coding, page.data, 0, false)
					var out bytes.Buffer
					out.Grow(len(page.data))
					src := bytes.NewReader(nil)
					buf := make([]byte, 4<<10)
					b.SetBytes(int64(len(page.data)))
					b.ReportAllocs()
					for b.Loop() {
						src.Reset(upstream)
						out.Reset()
						r, err := c.NewReader(lc.coding, src)
						if err != nil {
							b.Fatal(err)
						}
						enc, err := c.NewWriter(lc.coding, &out)
						if err != nil {
							b.Fatal(err)
						}
						for first := true; ; first = false {
							n, err := io.ReadFull(r, buf)
							if n > 0 {
								if _, werr := enc.Write(buf[:n]); werr != nil {
									b.Fatal(werr)
								}
								if first {
									if ferr := enc.Flush(); ferr != nil {
										b.Fatal(ferr)
									}
								}
							}
							if err == io.EOF || err == io.ErrUnexpectedEOF {
								break
							}
							if err != nil {
								b.Fatal(err)
							}
						}
						r.Close()
						if err := enc.Close(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(out.Len())/float64(len(page.data))*100, "%size")
				})
			}
		}
	}
}
