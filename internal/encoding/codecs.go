// Package encoding decodes and encodes HTTP content codings (gzip, deflate,
// br, zstd) for the streaming rewriter and chooses a client's coding from
// Accept-Encoding.
//
// The rewriter sits between an upstream body and the client: it undoes the
// upstream's Content-Encoding with NewReader, rewrites the HTML, and applies
// the coding Negotiate picked with NewWriter. Both directions stream; nothing
// here reads a whole body into memory. Encoders and decoders are expensive to
// build (tables, history windows of up to a few MiB), so they live in pools
// owned by a Codecs value that the caller creates once and passes around;
// the package itself holds no mutable state.
package encoding

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Default levels, chosen for pages compressed on the fly: the proxy decodes
// a compressed upstream page, injects and encodes it again, so encoding time
// is added to every response, and the goal is to cost about what nginx's
// default (gzip_comp_level 1) does. Measured with BenchmarkReencode (decode
// and encode again, one core of a shared 2-core AMD EPYC, best of 5) on two
// 100 KB pages, a synthetic shop page and the start of the Go spec, as
// time per page and the client's size as a share of the page:
//
//	gzip 1   0.55 ms 17.9%   0.94 ms 34.0%
//	gzip 5   0.78 ms 16.3%   1.49 ms 29.2%   (the old default)
//	gzip 6   0.93 ms 15.7%   1.35 ms 28.8%
//	br 1     1.47 ms 22.3%   1.92 ms 42.1%   (larger than gzip 1)
//	br 2     1.61 ms 16.4%   2.66 ms 30.2%
//	br 3     1.91 ms 16.2%   2.89 ms 29.6%
//	br 5     3.09 ms 13.9%   4.72 ms 26.9%   (the old default)
//	zstd 1   0.54 ms 16.2%   0.79 ms 32.5%
//	zstd 3   0.62 ms 15.7%   1.04 ms 30.2%   (the old default)
//
// Decoding alone is about 0.2 ms (gzip), 0.25 ms (br) and 0.1 ms (zstd).
// gzip 1 and zstd 1 are the cheapest levels, 30-40% resp. 13-24% faster
// than 5 and 3 for pages 10-16% resp. 3-8% larger. Brotli 2 costs little
// more than 1 but is the first quality that beats gzip 1 on size (1 is
// worse); 5 is 10-15% smaller for twice the CPU. Even at 2, this pure-Go
// brotli encoder is about three times slower than gzip 1: when CPU matters
// more than bytes, a client that also accepts gzip or zstd is better served
// with those. Run it again with
//
//	go test -run '^$' -bench Reencode -count 5 -cpu 1 ./internal/encoding
const (
	DefaultGzipLevel     = 1 // klauspost/compress level 1, as nginx's gzip_comp_level default.
	DefaultBrotliQuality = 2 // the cheapest quality that compresses better than gzip 1.
	DefaultZstdLevel     = 1 // maps to zstd.SpeedFastest.
)

// zstdWindow is the zstd encoder's window (maximum back-reference
// distance). The library default of 8 MiB costs about 16 MiB of history per
// pooled encoder, i.e. per concurrent response; with 1 MiB it is about
// 2 MiB. HTML pages seldom exceed 1 MiB, so a larger window buys almost
// nothing.
const zstdWindow = 1 << 20

// brotliWindowLog is log2 of the brotli encoder's window, for the same
// reason: at quality 5 the default (22, 4 MiB) costs about 10 MiB per
// encoder, 20 about 4 MiB, with identical output for pages under 1 MiB.
const brotliWindowLog = 20

// zstdMaxDecodeWindow is the largest window the decoder accepts. RFC 9659
// forbids zstd content-coding encoders from needing more than 8 MiB, and
// browsers enforce the same limit; it also bounds what a hostile upstream
// can make us allocate.
const zstdMaxDecodeWindow = 8 << 20

// Sentinel errors, wrapped by the errors this package returns.
var (
	// ErrUnsupported is returned by NewReader and NewWriter for a coding
	// that is not a Normalize result.
	ErrUnsupported = errors.New("encoding: unsupported content coding")
	// ErrClosed is returned by Read, Write and Flush after Close.
	ErrClosed = errors.New("encoding: use of closed encoder or decoder")
)

// Options sets compression levels. The zero value of each field selects the
// package default; Validate reports values out of range.
type Options struct {
	// GzipLevel is the gzip and deflate level, 1 (fastest) to 9 (smallest),
	// as in compress/gzip. 0 means DefaultGzipLevel.
	GzipLevel int
	// BrotliQuality is the brotli quality, 1 to 11. 0 means
	// DefaultBrotliQuality (brotli's own quality 0 is not selectable: it
	// compresses so little that identity is usually the better answer).
	BrotliQuality int
	// ZstdLevel is a zstd level as the zstd CLI numbers them, 1 to 22. The
	// encoder maps it onto its four speeds: 1–2 fastest, 3–5 default, 6–9
	// better, 10+ best. 0 means DefaultZstdLevel. Negative ("fast") levels
	// are not supported.
	ZstdLevel int
	// KeepBrotli re-encodes a brotli page as brotli whenever the client
	// accepts it (see Codecs.Reencoding). By default such a page goes out
	// as zstd or gzip when the client accepts one of them as much: this
	// brotli encoder costs about three times gzip level 1 per page, for
	// pages about 10% smaller.
	KeepBrotli bool
}

// Validate returns every out-of-range field in one error, naming the field,
// so a config loader can report them all at once.
func (o Options) Validate() error {
	var errs []error
	check := func(field string, v, lo, hi int) {
		if v != 0 && (v < lo || v > hi) {
			errs = append(errs, fmt.Errorf("%s: %d is out of range: use %d to %d, or 0 for the default", field, v, lo, hi))
		}
	}
	check("gzipLevel", o.GzipLevel, 1, 9)
	check("brotliQuality", o.BrotliQuality, 1, 11)
	check("zstdLevel", o.ZstdLevel, 1, 22)
	return errors.Join(errs...)
}

// withDefaults is the one place defaults are filled in.
func (o Options) withDefaults() Options {
	if o.GzipLevel == 0 {
		o.GzipLevel = DefaultGzipLevel
	}
	if o.BrotliQuality == 0 {
		o.BrotliQuality = DefaultBrotliQuality
	}
	if o.ZstdLevel == 0 {
		o.ZstdLevel = DefaultZstdLevel
	}
	return o
}

// Codecs holds pools of encoders and decoders. It is safe for concurrent
// use; create one per process with New and share it, so that encoders are
// reused across responses. The zero value is not usable.
type Codecs struct {
	opts Options
	// static is what Static returns; nil in a Codecs that Static returned.
	static *Codecs

	// Encoder pools hold *pooledWriter; decoder pools hold *decoder.
	gzipW, zlibW, brW, zstdW    sync.Pool
	gzipR, deflateR, brR, zstdR sync.Pool
}

// New returns a Codecs using opts. It panics if opts.Validate fails: levels
// come from configuration, which must be validated when it is loaded, so an
// invalid level here is a programming error.
func New(opts Options) *Codecs {
	if err := opts.Validate(); err != nil {
		panic("encoding.New: " + err.Error())
	}
	c := newCodecs(opts.withDefaults())
	c.static = newCodecs(Options{GzipLevel: 9, BrotliQuality: 9, ZstdLevel: 19})
	return c
}

// Static returns Codecs with high levels (gzip 9, brotli 9, zstd 19), for a
// body encoded once and served many times, such as a script pre-encoded
// when a site is built: its encoding cost is paid at start and on reload,
// not per response, so Options' on-the-fly levels would only make every
// download larger (bootstrap.js, 29 KB: 11.1 KB gzipped at level 1, 9.5 KB
// at 9). Brotli stops at 9: on that script 11 is 10% smaller but takes
// 130 ms instead of 2 ms, for every site at every reload. Encoders are
// built on first use.
func (c *Codecs) Static() *Codecs {
	if c.static == nil {
		return c
	}
	return c.static
}

func newCodecs(opts Options) *Codecs {
	c := &Codecs{opts: opts}
	c.gzipW.New = func() any { return c.newWriter(codingGzip) }
	c.zlibW.New = func() any { return c.newWriter(codingDeflate) }
	c.brW.New = func() any { return c.newWriter(codingBr) }
	c.zstdW.New = func() any { return c.newWriter(codingZstd) }
	c.gzipR.New = func() any { return newDecoder(codingGzip) }
	c.deflateR.New = func() any { return newDecoder(codingDeflate) }
	c.brR.New = func() any { return newDecoder(codingBr) }
	c.zstdR.New = func() any { return newDecoder(codingZstd) }
	return c
}

// coding is the internal form of a Normalize result.
type coding uint8

const (
	codingIdentity coding = iota
	codingGzip
	codingDeflate
	codingBr
	codingZstd
)

func (k coding) String() string {
	switch k {
	case codingGzip:
		return "gzip"
	case codingDeflate:
		return "deflate"
	case codingBr:
		return "br"
	case codingZstd:
		return "zstd"
	}
	return ""
}

// parseCoding maps a Normalize result to a coding. It is exact (no case
// folding): callers pass what Normalize or Negotiate returned.
func parseCoding(s string) (coding, error) {
	switch s {
	case "":
		return codingIdentity, nil
	case "gzip":
		return codingGzip, nil
	case "deflate":
		return codingDeflate, nil
	case "br":
		return codingBr, nil
	case "zstd":
		return codingZstd, nil
	}
	return 0, fmt.Errorf("%w %q", ErrUnsupported, s)
}

// lookupToken maps a content-coding token, compared case-insensitively as
// RFC 9110 8.4.1 requires (ASCII only: tokens are ASCII, and Unicode
// folding would accept "zſtd"), to a coding. "x-gzip" is the alias RFC 9110
// 8.4.1.3 asks recipients to treat as "gzip".
func lookupToken(tok string) (coding, bool) {
	switch {
	case equalFoldASCII(tok, "gzip"), equalFoldASCII(tok, "x-gzip"):
		return codingGzip, true
	case equalFoldASCII(tok, "deflate"):
		return codingDeflate, true
	case equalFoldASCII(tok, "br"):
		return codingBr, true
	case equalFoldASCII(tok, "zstd"):
		return codingZstd, true
	case equalFoldASCII(tok, "identity"):
		return codingIdentity, true
	}
	return 0, false
}

// Normalize returns the canonical coding name for a Content-Encoding value:
// "" for identity or an empty value, "gzip" (also for "x-gzip"), "deflate",
// "br" or "zstd". It reports ok=false for anything else, including a list of
// several codings ("gzip, br"), which this package does not undo: such a
// response must be passed through unrewritten. Empty list elements and
// "identity" members are ignored, so "gzip," and "identity, gzip" are "gzip".
func Normalize(contentEncoding string) (coding string, ok bool) {
	found := codingIdentity
	for s := contentEncoding; s != ""; {
		var member string
		member, s, _ = strings.Cut(s, ",")
		member = trimOWS(member)
		if member == "" {
			continue
		}
		k, known := lookupToken(member)
		if !known {
			return "", false
		}
		if k == codingIdentity {
			continue
		}
		if found != codingIdentity {
			return "", false
		}
		found = k
	}
	return found.String(), true
}

// trimOWS trims RFC 9110 optional whitespace (SP and HTAB).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFoldASCII reports whether s equals lower, which must be lower-case
// ASCII, ignoring ASCII case.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
