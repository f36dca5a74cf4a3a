package encoding

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestFlushIsDecodable checks what time to first byte through the proxy
// depends on: after Write and Flush, the bytes written so far decode to
// everything written, by a streaming decoder that cannot see more input
// (the pipe stays open, so a decoder waiting for more would hang).
func TestFlushIsDecodable(t *testing.T) {
	c := New(Options{})
	for _, coding := range allCodings {
		t.Run(coding, func(t *testing.T) {
			var out bytes.Buffer
			enc, err := c.NewWriter(coding, &out)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()

			pr, pw := io.Pipe()
			defer pw.Close()
			dec, err := c.NewReader(coding, pr)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()

			for _, msg := range []string{"hello", ", world", string(htmlPage(40 << 10))} {
				if _, err := enc.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				if err := enc.Flush(); err != nil {
					t.Fatal(err)
				}
				flushed := bytes.Clone(out.Bytes())
				out.Reset()
				if len(flushed) == 0 {
					t.Fatalf("Flush after %d bytes wrote nothing", len(msg))
				}
				go pw.Write(flushed) // blocks until the decoder has read it all

				got := make([]byte, len(msg))
				done := make(chan error, 1)
				go func() { _, err := io.ReadFull(dec, got); done <- err }()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("reading flushed %q...: %v", msg[:min(len(msg), 10)], err)
					}
				case <-time.After(5 * time.Second):
					pw.CloseWithError(io.ErrClosedPipe) // unblock the reader
					t.Fatalf("decoder needs more input than Flush wrote to produce %q...", msg[:min(len(msg), 10)])
				}
				if string(got) != msg {
					t.Fatalf("got %q, want %q", got[:min(len(got), 20)], msg[:min(len(msg), 20)])
				}
			}
		})
	}
}
