package encoding

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"testing"
)

// FuzzDecode: whatever the bytes, the decoder ends in data or an error
// (never a panic, never io.EOF passed off as an error); and what it decodes
// is right by two independent checks: the standard library's gzip reader,
// where it also accepts the input, reads the same bytes; and the decoded
// bytes survive our encoder and an independent decoder unchanged.
func FuzzDecode(f *testing.F) {
	c := New(Options{})
	for i, coding := range allCodings {
		f.Add(uint8(i), encode(f, c, coding, []byte("<p>hello</p>"), 0, false))
	}
	f.Add(uint8(1), independentEncode(f, "deflate-raw", []byte("raw")))
	f.Add(uint8(0), independentEncode(f, "gzip", bytes.Repeat([]byte("<li>item</li>"), 100)))
	const limit = 4 << 20
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		coding := allCodings[int(which)%len(allCodings)]
		r, err := c.NewReader(coding, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(io.LimitReader(r, limit))
		if len(got) == limit {
			return // a small input may legitimately expand a lot
		}
		if errors.Is(err, io.EOF) {
			t.Fatalf("io.EOF surfaced as an error: %v", err)
		}
		if err != nil {
			return
		}
		if coding == "gzip" {
			if zr, zerr := stdgzip.NewReader(bytes.NewReader(data)); zerr == nil {
				zr.Multistream(false)
				if want, zerr := io.ReadAll(zr); zerr == nil && !bytes.HasPrefix(got, want) {
					t.Fatalf("gzip: decoded %d bytes that differ from the standard library's %d", len(got), len(want))
				}
			}
		}
		again := independentDecode(t, coding, encode(t, c, coding, got, 0, false))
		if !bytes.Equal(again, got) {
			t.Fatalf("%s: decoded bytes changed through encode and an independent decode", coding)
		}
	})
}
