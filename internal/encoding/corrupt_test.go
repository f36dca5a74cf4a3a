package encoding

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestCorruptInput: damage must surface as a Read error other than io.EOF,
// so the proxy aborts the response instead of serving a silently cut page.
//
// Not covered, because the formats cannot detect it: a flipped byte in raw
// deflate, and most flips inside brotli's compressed data. Neither has a
// checksum; for brotli about 15% of single-byte flips in this page decode
// to wrong bytes without error (every flip in the stream header and prefix
// codes is caught, hence flip-early). gzip, zlib and zstd (whose encoders,
// ours included, write a content checksum) catch every flip.
func TestCorruptInput(t *testing.T) {
	c := New(Options{})
	page := htmlPage(50 << 10)

	type damage struct {
		name      string
		mutate    func([]byte) []byte
		truncated bool // must be reported as io.ErrUnexpectedEOF
	}
	flip := func(pos func(n int) int) func([]byte) []byte {
		return func(b []byte) []byte {
			b = bytes.Clone(b)
			b[pos(len(b))] ^= 0xff
			return b
		}
	}
	cut := func(keep func(n int) int) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Clone(b[:keep(len(b))]) }
	}
	header := damage{"truncated-after-header", cut(func(int) int { return 12 }), true}
	middle := damage{"truncated-middle", cut(func(n int) int { return n / 2 }), true}
	lastByte := damage{"truncated-last-byte", cut(func(n int) int { return n - 1 }), true}
	flipMiddle := damage{"flip-middle", flip(func(n int) int { return n / 2 }), false}
	flipEarly := damage{"flip-early", flip(func(int) int { return 8 }), false}
	// The final bytes: gzip ISIZE, zlib Adler-32, zstd content checksum,
	// brotli's last meta-block header and zero padding.
	flipTrailer := damage{"flip-trailer", flip(func(n int) int { return n - 1 }), false}
	// gzip CRC-32 sits before ISIZE.
	flipCRC := damage{"flip-crc32", flip(func(n int) int { return n - 6 }), false}

	cases := []struct {
		variant, coding string
		damages         []damage
	}{
		{"gzip", "gzip", []damage{header, middle, lastByte, flipMiddle, flipTrailer, flipCRC}},
		{"deflate", "deflate", []damage{header, middle, lastByte, flipMiddle, flipTrailer}},
		{"br", "br", []damage{header, middle, lastByte, flipEarly, flipTrailer}},
		{"zstd", "zstd", []damage{header, middle, lastByte, flipMiddle, flipTrailer}},
		// Raw deflate: truncation is detectable (the final block is
		// missing); the last byte may hold only padding, so cut more.
		{"deflate-raw", "deflate", []damage{header, middle, {"truncated-end", cut(func(n int) int { return n - 4 }), true}}},
	}
	for _, tc := range cases {
		for _, ours := range []bool{true, false} {
			var valid []byte
			if ours {
				if tc.variant == "deflate-raw" {
					continue // we never produce raw deflate
				}
				valid = encode(t, c, tc.coding, page, 0, false)
			} else {
				valid = independentEncode(t, tc.variant, page)
			}
			if got, err := decode(c, tc.coding, valid, false); err != nil || !bytes.Equal(got, page) {
				t.Fatalf("%s: undamaged stream does not decode: %v", tc.variant, err)
			}
			for _, d := range tc.damages {
				name := tc.variant + "/" + d.name
				if ours {
					name += "/ours"
				}
				t.Run(name, func(t *testing.T) {
					r, err := c.NewReader(tc.coding, bytes.NewReader(d.mutate(valid)))
					if err != nil {
						t.Fatalf("NewReader: %v (errors belong to Read)", err)
					}
					defer r.Close()
					got, err := io.ReadAll(r)
					if err == nil {
						t.Fatalf("read %d bytes with no error", len(got))
					}
					if errors.Is(err, io.EOF) {
						t.Fatalf("got io.EOF-wrapped error %v", err)
					}
					if d.truncated && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
					}
					// The error is sticky.
					if _, err2 := r.Read(make([]byte, 10)); err2 == nil || err2 == io.EOF {
						t.Fatalf("second Read after %v returned %v", err, err2)
					}
				})
			}
			// Decoders that saw damage went back to the pool; the next
			// stream must not inherit their state.
			if got, err := decode(c, tc.coding, valid, false); err != nil || !bytes.Equal(got, page) {
				t.Fatalf("%s: pooled decoder broken after damaged input: %v", tc.variant, err)
			}
		}
	}
}

// TestDeflateSniff pins the zlib-or-raw decision.
func TestDeflateSniff(t *testing.T) {
	tests := []struct {
		cmf, flg byte
		want     bool
	}{
		{0x78, 0x9c, true},  // default compression
		{0x78, 0x01, true},  // fastest
		{0x78, 0xda, true},  // best
		{0x58, 0x85, true},  // 8 KiB window
		{0x78, 0x9d, false}, // checksum off by one
		{0x79, 0x9c, false}, // method 9
		{0x4b, 0xcc, false}, // raw deflate of "a..." (fixed Huffman block)
		{0xed, 0xbd, false}, // raw deflate, dynamic Huffman block
		{0x01, 0x05, false}, // raw deflate, final stored block
	}
	for _, tt := range tests {
		if got := isZlibHeader(tt.cmf, tt.flg); got != tt.want {
			t.Errorf("isZlibHeader(%#x, %#x) = %v, want %v", tt.cmf, tt.flg, got, tt.want)
		}
	}
}

// splitReader returns the first n bytes of data in one Read and the rest
// in Reads of step bytes.
type splitReader struct {
	data    []byte
	n, step int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	k := s.step
	if s.n > 0 {
		k, s.n = s.n, 0
	}
	k = copy(p, s.data[:min(k, len(s.data))])
	s.data = s.data[k:]
	return k, nil
}

// TestBrotliSplitEnd: a valid brotli stream decodes cleanly wherever the
// source splits its last bytes across Reads (the library bug brotliReader
// works around), and trailing garbage is still an error whether it arrives
// with the stream's last bytes or in a later Read.
func TestBrotliSplitEnd(t *testing.T) {
	c := New(Options{})
	for _, size := range []int{951, 1506, 3000, 20 << 10} {
		page := htmlPage(size)
		valid := independentEncode(t, "br", page)
		for split := max(1, len(valid)-24); split < len(valid); split++ {
			for _, step := range []int{1, 2, 3, 5, 8} {
				for _, garbage := range []struct {
					name  string
					extra []byte
				}{{"clean", nil}, {"garbage", []byte("junk")}} {
					for _, apart := range []bool{false, true} {
						if garbage.extra == nil && apart {
							continue
						}
						data := append(bytes.Clone(valid), garbage.extra...)
						var src io.Reader = &splitReader{data: data, n: split, step: step}
						if apart { // garbage in its own Read after the stream
							src = io.MultiReader(&splitReader{data: valid, n: split, step: step}, bytes.NewReader(garbage.extra))
						}
						r, _ := c.NewReader("br", src)
						got, err := io.ReadAll(r)
						r.Close()
						if garbage.extra == nil {
							if err != nil || !bytes.Equal(got, page) {
								t.Fatalf("size %d split %d/%d step %d: %d bytes, %v", size, split, len(valid), step, len(got), err)
							}
						} else if err == nil {
							t.Fatalf("size %d split %d/%d step %d apart=%v: trailing garbage not reported", size, split, len(valid), step, apart)
						}
					}
				}
			}
		}
	}
}
