package encoding

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// readBufferSize is the decoder's input buffer. The flate decoders read
// byte by byte from it; brotli and zstd read past it in large blocks.
const readBufferSize = 8 << 10

// emptyZlib is a complete zlib stream of no data. The zlib library builds a
// reader only from a valid header, so pooled zlib readers start from this.
var emptyZlib = []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}

// decoder is the unit kept in a decoder pool. Only the fields for its
// coding are set; deflate holds both a zlib and a raw flate reader because
// which one a stream needs is known only after its first two bytes.
type decoder struct {
	kind coding
	src  *bufio.Reader // wraps the caller's reader; lets us sniff without losing bytes
	gz   *gzip.Reader
	zl   io.ReadCloser // zlib; implements zlib.Resetter
	fl   io.ReadCloser // raw deflate; implements flate.Resetter
	br   *brotli.Reader
	brIn readCounter // brotli's source; see readBrotli
	zs   *zstd.Decoder
}

// readCounter counts the Read calls brotli makes on its source.
type readCounter struct {
	r     io.Reader
	calls int
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.calls++
	return c.r.Read(p)
}

func newDecoder(k coding) *decoder {
	d := &decoder{kind: k, src: bufio.NewReaderSize(nil, readBufferSize)}
	var err error
	switch k {
	case codingGzip:
		d.gz = new(gzip.Reader) // set up by Reset on first use
	case codingDeflate:
		d.zl, err = zlib.NewReader(bytes.NewReader(emptyZlib))
		d.fl = flate.NewReader(nil)
	case codingBr:
		d.br = brotli.NewReader(nil)
	case codingZstd:
		d.zs, err = zstd.NewReader(nil,
			// Synchronous decoding: no goroutines per decoder, so a pooled
			// decoder that is never closed leaks nothing, and the proxy's
			// parallelism comes from concurrent responses anyway.
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxDecodeWindow),
		)
	}
	if err != nil {
		panic(fmt.Sprintf("encoding: create %s decoder: %v", k, err))
	}
	return d
}

func (c *Codecs) readerPool(k coding) *sync.Pool {
	switch k {
	case codingGzip:
		return &c.gzipR
	case codingDeflate:
		return &c.deflateR
	case codingBr:
		return &c.brR
	case codingZstd:
		return &c.zstdR
	}
	return nil
}

// NewReader returns a streaming decoder for coding (a Normalize result)
// reading from r. For "" it returns r with a no-op Close.
//
// NewReader does not read from r: the stream's header is read, and a
// malformed one reported, by the first Read. Close returns the decoder to
// the pool and does not close r.
//
// "deflate" accepts both the zlib format RFC 9110 specifies and the raw
// deflate some servers send, told apart by the zlib header check on the
// first two bytes.
//
// Corrupt input surfaces as a non-nil error other than io.EOF (wrapping the
// library's error, or io.ErrUnexpectedEOF for a truncated stream), never as
// a clean end of stream, as far as the format allows: gzip, zlib and zstd
// (when the encoder wrote its optional checksum, as ours and the zstd CLI
// do) carry checksums; raw deflate and brotli do not, so damage that still
// parses decodes to wrong bytes without an error, and only truncation and
// format violations are caught. An empty body is the exception: it decodes
// to an empty body for every coding, because servers do send
// Content-Encoding on empty responses and browsers accept them.
//
// zstd frames needing a window over 8 MiB are refused, as RFC 9659 allows
// and browsers do. Output size is not limited: a small body may expand a
// lot, so callers that buffer must bound what they read.
func (c *Codecs) NewReader(coding string, r io.Reader) (io.ReadCloser, error) {
	k, err := parseCoding(coding)
	if err != nil {
		return nil, err
	}
	if k == codingIdentity {
		return io.NopCloser(r), nil
	}
	pool := c.readerPool(k)
	d := pool.Get().(*decoder)
	d.src.Reset(r)
	return &reader{pool: pool, d: d}, nil
}

// reader is the handle given to the caller, separate from the pooled state
// for the same reason as encoder.
type reader struct {
	pool *sync.Pool
	d    *decoder
	dec  io.Reader // the active decompressor; nil until the first Read
	err  error     // sticky, already wrapped
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.dec == nil {
		if err := r.start(); err != nil {
			r.err = r.wrap(err)
			return 0, r.err
		}
	}
	n, err := r.dec.Read(p)
	if err != nil {
		r.err = r.wrap(err)
		return n, r.err
	}
	return n, nil
}

// start reads the stream header and picks the decompressor.
func (r *reader) start() error {
	d := r.d
	head, err := d.src.Peek(2)
	if len(head) == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err // io.EOF: an empty body decodes to an empty body
	}
	switch d.kind {
	case codingGzip:
		if err := d.gz.Reset(d.src); err != nil {
			return err
		}
		r.dec = d.gz
	case codingDeflate:
		if len(head) == 2 && isZlibHeader(head[0], head[1]) {
			if err := d.zl.(zlib.Resetter).Reset(d.src, nil); err != nil {
				return err
			}
			r.dec = d.zl
		} else {
			if err := d.fl.(flate.Resetter).Reset(d.src, nil); err != nil {
				return err
			}
			r.dec = d.fl
		}
	case codingBr:
		d.brIn = readCounter{r: d.src}
		if err := d.br.Reset(&d.brIn); err != nil {
			return err
		}
		r.dec = brotliReader{d}
	case codingZstd:
		if err := d.zs.Reset(d.src); err != nil {
			return err
		}
		r.dec = d.zs
	}
	return nil
}

// brotliReader works around a bug in andybalholm/brotli v1.3.0: when the
// last few bytes of a stream arrive in a different source Read from the
// bytes before them, the decoder finishes from its internal carry-over
// buffer, which it does not empty, and Read reports "excessive input" for a
// complete, correctly decoded stream. Real network reads split streams
// anywhere, so this would fail a small share of valid responses.
//
// The decoder calls its source only once it has consumed every byte it
// read before, so on that error we Read again: if the source is called,
// nothing was left over and the error was spurious; the source's answer
// then decides (io.EOF: clean end; more bytes: genuine trailing garbage,
// which the decoder reports again). If the source is not called, bytes
// after the end of the stream were already in hand: genuine excess.
type brotliReader struct{ d *decoder }

// errBrotliExcess is the text of the library's unexported error.
const errBrotliExcess = "brotli: excessive input"

func (b brotliReader) Read(p []byte) (int, error) {
	n, err := b.d.br.Read(p)
	if err == nil || err.Error() != errBrotliExcess {
		return n, err
	}
	for range 100 { // bounded: a source may return 0, nil a few times
		before := b.d.brIn.calls
		var probe [1]byte
		m, err2 := b.d.br.Read(probe[:])
		switch {
		case b.d.brIn.calls == before, m != 0:
			return n, err // genuine excess (m != 0 cannot happen after the end)
		case err2 == nil:
			continue // the source returned 0, nil; ask again
		}
		return n, err2
	}
	return n, io.ErrNoProgress
}

// isZlibHeader reports whether cmf, flg start a zlib stream (RFC 1950 2.2):
// compression method 8 and a header checksum that is a multiple of 31. A
// raw deflate stream passes only if it opens with a non-final stored block
// whose padding bits are not zero, which encoders do not produce.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

func (r *reader) wrap(err error) error {
	if err == io.EOF {
		return err
	}
	return fmt.Errorf("encoding: decode %s: %w", r.d.kind, err)
}

func (r *reader) Close() error {
	d := r.d
	if d == nil {
		return nil
	}
	r.d, r.dec, r.err = nil, nil, ErrClosed
	// Drop the caller's reader so the pooled decoder does not keep the
	// finished response reachable; the decompressors only see d.src.
	d.src.Reset(nil)
	r.pool.Put(d)
	return nil
}
