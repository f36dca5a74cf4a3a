package encoding

import (
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Encoder is a streaming encoder.
//
// Flush emits everything written so far as decodable output (a sync flush),
// so the client can start parsing the page before the upstream finishes; it
// costs a few bytes of ratio per call. Flush does not flush the underlying
// writer: the caller flushes its http.ResponseWriter after it.
//
// Close writes the trailer and returns the encoder to the pool. It does not
// close the underlying writer. A second Close returns nil; Write and Flush
// after Close return ErrClosed. An Encoder is not safe for concurrent use.
type Encoder interface {
	io.Writer
	Flush() error
	Close() error
}

// compressor is what the four libraries' writers have in common.
type compressor interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

// sink is the writer every pooled compressor writes to. It forwards to the
// caller's writer and is cleared on Close, so an idle encoder in the pool
// does not keep a finished response's writer (and its buffers) reachable.
type sink struct{ w io.Writer }

func (s *sink) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, ErrClosed
	}
	return s.w.Write(p)
}

// pooledWriter is the unit kept in an encoder pool.
type pooledWriter struct {
	sink sink
	comp compressor
}

func (c *Codecs) newWriter(k coding) *pooledWriter {
	pw := new(pooledWriter)
	var err error
	switch k {
	case codingGzip:
		pw.comp, err = gzip.NewWriterLevel(&pw.sink, c.opts.GzipLevel)
	case codingDeflate:
		// "deflate" in HTTP is the zlib format (RFC 9110 8.4.1.2).
		pw.comp, err = zlib.NewWriterLevel(&pw.sink, c.opts.GzipLevel)
	case codingBr:
		pw.comp = brotli.NewWriterOptions(&pw.sink, brotli.WriterOptions{
			Quality: c.opts.BrotliQuality,
			LGWin:   brotliWindowLog,
		})
	case codingZstd:
		pw.comp, err = zstd.NewWriter(&pw.sink,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.opts.ZstdLevel)),
			// One goroutine per encoder: the proxy's parallelism is across
			// responses, and a synchronous encoder starts no goroutines
			// that a pool could strand.
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow),
			// An empty body still becomes a complete frame, as it does for
			// gzip and brotli, so every client decoder accepts it.
			zstd.WithZeroFrames(true),
		)
	}
	if err != nil {
		// Options were validated in New; the libraries reject nothing else.
		panic(fmt.Sprintf("encoding: create %s encoder: %v", k, err))
	}
	return pw
}

func (c *Codecs) writerPool(k coding) *sync.Pool {
	switch k {
	case codingGzip:
		return &c.gzipW
	case codingDeflate:
		return &c.zlibW
	case codingBr:
		return &c.brW
	case codingZstd:
		return &c.zstdW
	}
	return nil
}

// NewWriter returns an Encoder for coding (a Normalize or Negotiate result)
// writing to w. For "" it returns a pass-through Encoder whose Flush and
// Close do nothing but mark it closed. "deflate" produces the zlib format.
func (c *Codecs) NewWriter(coding string, w io.Writer) (Encoder, error) {
	k, err := parseCoding(coding)
	if err != nil {
		return nil, err
	}
	if k == codingIdentity {
		return &identityWriter{w: w}, nil
	}
	pool := c.writerPool(k)
	pw := pool.Get().(*pooledWriter)
	pw.sink.w = w
	pw.comp.Reset(&pw.sink)
	return &encoder{pool: pool, pw: pw, coding: k}, nil
}

// encoder is the handle given to the caller. It is separate from the pooled
// state so that a use after Close fails with ErrClosed instead of writing
// into an encoder another response has since taken from the pool.
type encoder struct {
	pool   *sync.Pool
	pw     *pooledWriter
	coding coding
}

func (e *encoder) Write(p []byte) (int, error) {
	if e.pw == nil {
		return 0, ErrClosed
	}
	n, err := e.pw.comp.Write(p)
	if err != nil {
		return n, fmt.Errorf("encoding: encode %s: %w", e.coding, err)
	}
	return n, nil
}

func (e *encoder) Flush() error {
	if e.pw == nil {
		return ErrClosed
	}
	if err := e.pw.comp.Flush(); err != nil {
		return fmt.Errorf("encoding: flush %s: %w", e.coding, err)
	}
	return nil
}

func (e *encoder) Close() error {
	pw := e.pw
	if pw == nil {
		return nil
	}
	e.pw = nil
	err := pw.comp.Close()
	pw.sink.w = nil
	// Returned to the pool even after an error: NewWriter resets all state.
	e.pool.Put(pw)
	if err != nil {
		return fmt.Errorf("encoding: close %s: %w", e.coding, err)
	}
	return nil
}

// identityWriter is the pass-through Encoder for the identity coding.
type identityWriter struct {
	w      io.Writer
	closed bool
}

func (e *identityWriter) Write(p []byte) (int, error) {
	if e.closed {
		return 0, ErrClosed
	}
	return e.w.Write(p)
}

func (e *identityWriter) Flush() error {
	if e.closed {
		return ErrClosed
	}
	return nil
}

func (e *identityWriter) Close() error {
	e.closed = true
	return nil
}
