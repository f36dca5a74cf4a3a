package encoding

import (
	"bytes"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"io"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

type payload struct {
	name string
	data []byte
}

func payloads() []payload {
	return []payload{
		{"empty", nil},
		{"one-byte", []byte("x")},
		{"small-html", htmlPage(3000)},
		{"1MiB-mixed", mixedPayload(1 << 20)},
	}
}

// writePatterns are the ways the rewriter feeds an encoder.
var writePatterns = []struct {
	name  string
	chunk int
	flush bool
}{
	{"one-write", 0, false},
	{"small-writes-flushed", 997, true},
	{"tiny-writes", 61, false},
}

// TestRoundTrip encodes with our Encoder and decodes with our reader.
func TestRoundTrip(t *testing.T) {
	c := New(Options{})
	for _, coding := range allCodings {
		for _, p := range payloads() {
			for _, wp := range writePatterns {
				if wp.chunk == 61 && len(p.data) > 100<<10 {
					continue // 17k writes add time, not coverage
				}
				t.Run(coding+"/"+p.name+"/"+wp.name, func(t *testing.T) {
					enc := encode(t, c, coding, p.data, wp.chunk, wp.flush)
					for _, slow := range []bool{false, true} {
						if slow && len(p.data) > 100<<10 {
							continue
						}
						got, err := decode(c, coding, enc, slow)
						if err != nil {
							t.Fatalf("decode (slow=%v): %v", slow, err)
						}
						if !bytes.Equal(got, p.data) {
							t.Fatalf("decode (slow=%v): got %d bytes, want %d (content differs)", slow, len(got), len(p.data))
						}
					}
				})
			}
		}
	}
}

// independentDecode decodes with an implementation that shares no pool or
// wrapper with ours: the standard library for gzip and zlib, the libraries'
// plain constructors for brotli and zstd.
func independentDecode(t testing.TB, coding string, data []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch coding {
	case "gzip":
		r, err = stdgzip.NewReader(bytes.NewReader(data))
	case "deflate":
		r, err = stdzlib.NewReader(bytes.NewReader(data))
	case "br":
		r = brotli.NewReader(bytes.NewReader(data))
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data))
		if err == nil {
			defer d.Close()
			r = d
		}
	}
	if err != nil {
		t.Fatalf("independent %s reader: %v", coding, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("independent %s decode: %v", coding, err)
	}
	return got
}

// TestEncodeCrossCheck decodes our output with independent decoders.
func TestEncodeCrossCheck(t *testing.T) {
	c := New(Options{})
	for _, coding := range allCodings {
		for _, p := range payloads() {
			for _, wp := range writePatterns[:2] {
				t.Run(coding+"/"+p.name+"/"+wp.name, func(t *testing.T) {
					enc := encode(t, c, coding, p.data, wp.chunk, wp.flush)
					if len(enc) == 0 {
						t.Fatal("empty input encoded to zero bytes; clients expect a complete stream")
					}
					if got := independentDecode(t, coding, enc); !bytes.Equal(got, p.data) {
						t.Fatalf("got %d bytes, want %d (content differs)", len(got), len(p.data))
					}
				})
			}
		}
	}
}

// independentEncode encodes with implementations that share nothing with
// our encoders. For "deflate" it produces zlib, and "deflate-raw" the raw
// format some servers send under the same name.
func independentEncode(t testing.TB, variant string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch variant {
	case "gzip":
		w = stdgzip.NewWriter(&buf)
	case "deflate":
		w = stdzlib.NewWriter(&buf)
	case "deflate-raw":
		w, err = stdflate.NewWriter(&buf, stdflate.DefaultCompression)
	case "br":
		w = brotli.NewWriterLevel(&buf, brotli.DefaultCompression)
	case "zstd":
		w, err = zstd.NewWriter(&buf)
	case "zstd-single-segment":
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return enc.EncodeAll(data, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeCrossCheck decodes independently produced streams with ours.
func TestDecodeCrossCheck(t *testing.T) {
	c := New(Options{})
	variants := []struct{ variant, coding string }{
		{"gzip", "gzip"},
		{"deflate", "deflate"},
		{"deflate-raw", "deflate"},
		{"br", "br"},
		{"zstd", "zstd"},
		{"zstd-single-segment", "zstd"},
	}
	for _, v := range variants {
		for _, p := range payloads() {
			t.Run(v.variant+"/"+p.name, func(t *testing.T) {
				enc := independentEncode(t, v.variant, p.data)
				for _, slow := range []bool{false, true} {
					if slow && len(p.data) > 100<<10 {
						continue
					}
					got, err := decode(c, v.coding, enc, slow)
					if err != nil {
						t.Fatalf("decode (slow=%v): %v", slow, err)
					}
					if !bytes.Equal(got, p.data) {
						t.Fatalf("decode (slow=%v): got %d bytes, want %d (content differs)", slow, len(got), len(p.data))
					}
				}
			})
		}
	}
}

// TestDecodeGzipMultiMember: RFC 1952 allows concatenated members, and
// some servers emit them when they flush by starting a new member.
func TestDecodeGzipMultiMember(t *testing.T) {
	c := New(Options{})
	a, b := []byte("first member\n"), []byte("second member\n")
	stream := append(independentEncode(t, "gzip", a), independentEncode(t, "gzip", b)...)
	got, err := decode(c, "gzip", stream, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(a) + string(b); string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestDecodeEmptyBody: an empty body with a Content-Encoding decodes to an
// empty body, not an error (see NewReader).
func TestDecodeEmptyBody(t *testing.T) {
	c := New(Options{})
	for _, coding := range allCodings {
		got, err := decode(c, coding, nil, false)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: got %q, %v; want empty, nil", coding, got, err)
		}
	}
}
