package encoding

import (
	"bytes"
	"io"
	"testing"
)

// benchPageSize is a typical server-rendered page.
const benchPageSize = 100 << 10

// BenchmarkEncode measures a whole response through a pooled encoder,
// written in 4 KiB chunks as the rewriter emits them, with one Flush after
// the head as the proxy does for time to first byte.
func BenchmarkEncode(b *testing.B) {
	page := htmlPage(benchPageSize)
	c := New(Options{})
	for _, coding := range allCodings {
		b.Run(coding, func(b *testing.B) {
			var out bytes.Buffer
			out.Grow(benchPageSize)
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				enc, err := c.NewWriter(coding, &out)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < len(page); i += 4 << 10 {
					enc.Write(page[i:min(i+4<<10, len(page))])
					if i == 0 {
						enc.Flush()
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.Len())/float64(len(page))*100, "%size")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	page := htmlPage(benchPageSize)
	c := New(Options{})
	for _, coding := range allCodings {
		b.Run(coding, func(b *testing.B) {
			enc := encode(b, c, coding, page, 0, false)
			buf := make([]byte, 32<<10)
			src := bytes.NewReader(nil)
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(enc)
				r, err := c.NewReader(coding, src)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					m, err := r.Read(buf)
					n += m
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				r.Close()
				if n != len(page) {
					b.Fatalf("decoded %d bytes, want %d", n, len(page))
				}
			}
		})
	}
}

func BenchmarkNegotiate(b *testing.B) {
	for _, bc := range []struct {
		name   string
		header []string
	}{
		{"chrome", []string{"gzip, deflate, br, zstd"}},
		{"weighted", []string{"gzip;q=0.8, deflate;q=0.5, br;q=0.9, zstd;q=0.7, *;q=0.1", "identity;q=0"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Negotiate(bc.header, "gzip")
			}
		})
	}
}
