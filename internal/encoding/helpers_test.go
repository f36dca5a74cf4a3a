package encoding

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

var allCodings = []string{"gzip", "deflate", "br", "zstd"}

// htmlPage returns about n bytes of HTML that compresses like a real page:
// repeated structure with varying text.
func htmlPage(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"cobrowse", "session", "agent", "customer", "checkout", "basket", "shipping", "total", "account", "help"}
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><meta charset=utf-8><title>Shop</title>" +
		"<link rel=stylesheet href=/static/app.css><script src=/static/app.js defer></script></head><body>\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `<div class="row item-%d" data-id="%d"><a href="/p/%d?ref=list">`, i%7, rng.IntN(1e6), rng.IntN(1e5))
		for j := 0; j < 3+rng.IntN(6); j++ {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString("</a><span class=price>")
		fmt.Fprintf(&b, "%d.%02d", rng.IntN(500), rng.IntN(100))
		b.WriteString("</span></div>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()[:n]
}

// mixedPayload is n bytes alternating incompressible random runs and HTML,
// so encoders exercise both stored/raw and compressed blocks.
func mixedPayload(n int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	page := htmlPage(64 << 10)
	out := make([]byte, 0, n)
	for len(out) < n {
		run := make([]byte, 1+rng.IntN(16<<10))
		for i := range run {
			run[i] = byte(rng.Uint32())
		}
		out = append(out, run...)
		off := rng.IntN(len(page) / 2)
		out = append(out, page[off:off+rng.IntN(len(page)/2)]...)
	}
	return out[:n]
}

// encode encodes data with our Encoder in writes of at most chunk bytes
// (all at once when chunk is 0), flushing after each write when flush is
// set.
func encode(t testing.TB, c *Codecs, coding string, data []byte, chunk int, flush bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := c.NewWriter(coding, &buf)
	if err != nil {
		t.Fatalf("NewWriter(%q): %v", coding, err)
	}
	if chunk == 0 {
		chunk = max(len(data), 1)
	}
	for p := data; len(p) > 0; {
		n := min(chunk, len(p))
		if _, err := enc.Write(p[:n]); err != nil {
			t.Fatalf("%s Write: %v", coding, err)
		}
		p = p[n:]
		if flush {
			if err := enc.Flush(); err != nil {
				t.Fatalf("%s Flush: %v", coding, err)
			}
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("%s Close: %v", coding, err)
	}
	return buf.Bytes()
}

// decode decodes data with our reader, reading through a one-byte-at-a-time
// source when slow is set to exercise partial reads.
func decode(c *Codecs, coding string, data []byte, slow bool) ([]byte, error) {
	var src io.Reader = bytes.NewReader(data)
	if slow {
		src = &oneByteReader{src}
	}
	r, err := c.NewReader(coding, src)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
