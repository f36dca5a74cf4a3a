package encoding

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"", "", true},
		{"identity", "", true},
		{"IDENTITY", "", true},
		{"gzip", "gzip", true},
		{"GZip", "gzip", true},
		{"x-gzip", "gzip", true},
		{"X-GZIP", "gzip", true},
		{" gzip\t", "gzip", true},
		{"deflate", "deflate", true},
		{"br", "br", true},
		{"BR", "br", true},
		{"zstd", "zstd", true},
		{"gzip,", "gzip", true},
		{", br", "br", true},
		{"identity, gzip", "gzip", true},
		{" , ", "", true},
		{"gzip, br", "", false},
		{"gzip,gzip", "", false},
		{"deflate, gzip", "", false},
		{"compress", "", false},
		{"x-compress", "", false},
		{"gzip;q=1", "", false},
		{"gz", "", false},
		{"gzip br", "", false},
		{"brotli", "", false},
		{"*", "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts    Options
		wantErr []string // substrings, one per bad field
	}{
		{Options{}, nil},
		{Options{GzipLevel: 9, BrotliQuality: 11, ZstdLevel: 22}, nil},
		{Options{GzipLevel: 1, BrotliQuality: 1, ZstdLevel: 1}, nil},
		{Options{GzipLevel: 10}, []string{"gzipLevel: 10"}},
		{Options{GzipLevel: -1, BrotliQuality: 12, ZstdLevel: -5}, []string{"gzipLevel: -1", "brotliQuality: 12", "zstdLevel: -5"}},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if (err != nil) != (tt.wantErr != nil) {
			t.Errorf("%+v: Validate() = %v, want errors %q", tt.opts, err, tt.wantErr)
			continue
		}
		for _, want := range tt.wantErr {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%+v: Validate() = %q, missing %q", tt.opts, err, want)
			}
		}
	}
}

func TestNewPanicsOnInvalidOptions(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New did not panic")
		}
	}()
	New(Options{BrotliQuality: 99})
}

// TestLevels: every valid level builds a working encoder, and levels are
// actually applied (a higher level gives smaller output on HTML).
func TestLevels(t *testing.T) {
	page := htmlPage(64 << 10)
	size := func(o Options, coding string) int {
		enc := encode(t, New(o), coding, page, 0, false)
		if got := independentDecode(t, coding, enc); !bytes.Equal(got, page) {
			t.Fatalf("%s %+v: round trip differs", coding, o)
		}
		return len(enc)
	}
	for _, tt := range []struct {
		coding    string
		low, high Options
	}{
		{"gzip", Options{GzipLevel: 1}, Options{GzipLevel: 9}},
		{"deflate", Options{GzipLevel: 1}, Options{GzipLevel: 9}},
		{"br", Options{BrotliQuality: 1}, Options{BrotliQuality: 11}},
		{"zstd", Options{ZstdLevel: 1}, Options{ZstdLevel: 19}},
	} {
		if lo, hi := size(tt.low, tt.coding), size(tt.high, tt.coding); hi >= lo {
			t.Errorf("%s: high level gave %d bytes, low level %d", tt.coding, hi, lo)
		}
	}
}

// TestStatic: Static encodes at its fixed high levels whatever the
// on-the-fly levels are, smaller than the fastest level, and is its own
// Static.
func TestStatic(t *testing.T) {
	page := htmlPage(64 << 10)
	fast := New(Options{GzipLevel: 1, BrotliQuality: 1, ZstdLevel: 1})
	static := fast.Static()
	if static == fast || static.Static() != static {
		t.Fatalf("Static() = %p of %p, its Static() = %p", static, fast, static.Static())
	}
	best := New(Options{GzipLevel: 9, BrotliQuality: 9, ZstdLevel: 19})
	for _, coding := range allCodings {
		got := encode(t, static, coding, page, 0, false)
		if want := encode(t, best, coding, page, 0, false); !bytes.Equal(got, want) {
			t.Errorf("%s: Static() gave %d bytes, gzip 9, brotli 9, zstd 19 %d", coding, len(got), len(want))
		}
		if f := encode(t, fast, coding, page, 0, false); len(got) >= len(f) {
			t.Errorf("%s: Static() gave %d bytes, the fastest level %d", coding, len(got), len(f))
		}
		if dec, err := decode(static, coding, got, false); err != nil || !bytes.Equal(dec, page) {
			t.Errorf("%s: Static() round trip: %v", coding, err)
		}
	}
}

func TestUnsupportedCoding(t *testing.T) {
	c := New(Options{})
	for _, coding := range []string{"compress", "x-gzip", "GZIP", "identity", "gzip, br"} {
		if _, err := c.NewReader(coding, strings.NewReader("")); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewReader(%q) error = %v, want ErrUnsupported", coding, err)
		}
		if _, err := c.NewWriter(coding, io.Discard); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewWriter(%q) error = %v, want ErrUnsupported", coding, err)
		}
	}
}

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestEncoderLifecycle: Close leaves the underlying writer open, a second
// Close is harmless, and use after Close fails rather than touching an
// encoder that is back in the pool.
func TestEncoderLifecycle(t *testing.T) {
	c := New(Options{})
	for _, coding := range append([]string{""}, allCodings...) {
		t.Run(fmt.Sprintf("%q", coding), func(t *testing.T) {
			var w closeRecorder
			enc, err := c.NewWriter(coding, &w)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := enc.Write([]byte("abc")); err != nil {
				t.Fatal(err)
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if w.closed {
				t.Error("Close closed the underlying writer")
			}
			n := w.Len()
			if err := enc.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := enc.Write([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close: %v, want ErrClosed", err)
			}
			if err := enc.Flush(); !errors.Is(err, ErrClosed) {
				t.Errorf("Flush after Close: %v, want ErrClosed", err)
			}
			if w.Len() != n {
				t.Errorf("use after Close wrote %d bytes", w.Len()-n)
			}
			got, err := decode(c, coding, w.Bytes(), false)
			if err != nil || string(got) != "abc" {
				t.Errorf("decode: %q, %v", got, err)
			}
		})
	}
}

func TestReaderLifecycle(t *testing.T) {
	c := New(Options{})
	for _, coding := range allCodings {
		t.Run(coding, func(t *testing.T) {
			data := encode(t, c, coding, []byte("abc"), 0, false)
			src := &closeRecorder{}
			src.Write(data)
			r, err := c.NewReader(coding, src)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(r); err != nil || string(got) != "abc" {
				t.Fatalf("ReadAll: %q, %v", got, err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if src.closed {
				t.Error("Close closed the source")
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
				t.Errorf("Read after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestIdentity: "" passes bytes through unchanged in both directions.
func TestIdentity(t *testing.T) {
	c := New(Options{})
	var buf bytes.Buffer
	enc, _ := c.NewWriter("", &buf)
	enc.Write([]byte("<p>plain</p>"))
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "<p>plain</p>" {
		t.Fatalf("identity writer wrote %q", buf.String())
	}
	r, _ := c.NewReader("", strings.NewReader("<p>plain</p>"))
	if got, _ := io.ReadAll(r); string(got) != "<p>plain</p>" {
		t.Fatalf("identity reader read %q", got)
	}
}

// TestConcurrentPoolReuse hammers the pools from many goroutines, each
// checking its own round trip, so that shared state between encoders taken
// from the same pool shows up as corrupt output or a race report.
func TestConcurrentPoolReuse(t *testing.T) {
	c := New(Options{})
	base := htmlPage(20 << 10)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 12 {
				coding := allCodings[(g+i)%len(allCodings)]
				data := append(fmt.Appendf(nil, "goroutine %d iteration %d\n", g, i), base[:(g*997+i*131)%len(base)]...)
				var buf bytes.Buffer
				enc, err := c.NewWriter(coding, &buf)
				if err != nil {
					errs <- err
					return
				}
				half := len(data) / 2
				enc.Write(data[:half])
				enc.Flush()
				enc.Write(data[half:])
				if err := enc.Close(); err != nil {
					errs <- err
					return
				}
				got, err := decode(c, coding, buf.Bytes(), false)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", coding, err)
					return
				}
				if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: goroutine %d iteration %d: round trip differs", coding, g, i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client went away") }

// TestEncoderReuseAfterError: an encoder whose writer failed goes back to
// the pool, and the next response that gets it must not inherit the error
// or the half-written stream.
func TestEncoderReuseAfterError(t *testing.T) {
	c := New(Options{})
	page := htmlPage(200 << 10)
	for _, coding := range allCodings {
		enc, err := c.NewWriter(coding, failingWriter{})
		if err != nil {
			t.Fatal(err)
		}
		_, werr := enc.Write(page)
		ferr := enc.Flush()
		cerr := enc.Close()
		if werr == nil && ferr == nil && cerr == nil {
			t.Errorf("%s: a failing writer produced no error", coding)
		}
		for _, e := range []error{werr, ferr, cerr} {
			if e != nil && !strings.Contains(e.Error(), "client went away") && !strings.Contains(e.Error(), coding) {
				t.Errorf("%s: error %q names neither the cause nor the coding", coding, e)
			}
		}
		enc2 := encode(t, c, coding, page[:1000], 0, false)
		if got, err := decode(c, coding, enc2, false); err != nil || !bytes.Equal(got, page[:1000]) {
			t.Errorf("%s: encoder reused after an error: %v", coding, err)
		}
	}
}
