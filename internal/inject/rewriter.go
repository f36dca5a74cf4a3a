// Package inject decides whether a proxied response is an HTML document that
// should carry the Cobrowse loader, and inserts the loader into it as it
// streams.
//
// The rewriter never re-serialises HTML: it copies the upstream's bytes and
// adds one tag, so the output minus the inserted bytes equals the input. It
// tokenizes only the start of a document, up to the point where a browser
// opens <head>, looks a little further ahead only into bytes that have
// already arrived (so a paused upstream never delays the head), and then
// copies the rest of the body straight through.
package inject

import (
	"bytes"
	"errors"
	"io"

	"golang.org/x/net/html"
)

// Result says what the rewriter did with a body. Its String form is used as
// a metric label, so the values are stable.
type Result int

const (
	// Pending: the rewriter has not decided yet (the body has not been read
	// far enough).
	Pending Result = iota
	// Injected: the tag was inserted.
	Injected
	// NotDocument: the body does not start like a full HTML document (an
	// htmx/Turbo fragment, plain text) and a document was required.
	NotDocument
	// AlreadyInjected: the head already carries one of the markers (our
	// loader, or the Zoom SDK loaded by the site itself).
	AlreadyInjected
	// NoHead: no point to open <head> was found within the scan limit, or a
	// single token was larger than the limit; the body passed through.
	NoHead
	// Incompatible: the body starts with a UTF-16/UTF-32 byte order mark or a
	// NUL byte, which the ASCII-based tokenizer cannot read safely.
	Incompatible
	// Truncated: the body ended, or failed, before a decision could be made.
	Truncated
)

var resultNames = [...]string{
	Pending:         "pending",
	Injected:        "injected",
	NotDocument:     "not_document",
	AlreadyInjected: "already_injected",
	NoHead:          "no_head",
	Incompatible:    "incompatible_charset",
	Truncated:       "truncated",
}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// Options configure one Rewriter.
type Options struct {
	// Tag is inserted once, at the start of the document's head.
	Tag []byte
	// Markers: if any of them appears in the bytes of the head that have
	// already arrived when the head opens, the page is left alone.
	Markers [][]byte
	// RequireDocument makes the rewriter pass the body through unchanged
	// unless its first significant token is a doctype, <html> or <head>.
	// Used when the request carried no Sec-Fetch-Dest to tell a navigation
	// from a fetch of an HTML fragment.
	RequireDocument bool
	// MaxScan bounds the bytes tokenized before the head opens, and the size
	// of any single token. The default is 64 KiB.
	MaxScan int
	// MetaCSP, when set, is given the content of every
	// <meta http-equiv="Content-Security-Policy"> in the head and returns
	// the policy to put in its place (nil: leave the tag as it is). The
	// rewriter then tokenizes the rest of the head too (within MaxScan),
	// unless the bytes that have arrived show the head ending with no
	// http-equiv before its end (see restOfHeadPlain); only that attribute
	// value changes.
	MetaCSP func(policy []byte) []byte
	// Buffers, when set, lends the rewriter the buffer in which it holds
	// the start of the body (any length will do; it grows if its capacity
	// is short). The rewriter gives it back, as it got it, once it has
	// decided and the held bytes have been read. A proxy passes one pool
	// for all its pages; httputil.BufferPool has this shape.
	Buffers BufferPool
}

// BufferPool lends byte slices; see Options.Buffers.
type BufferPool interface {
	Get() []byte
	Put([]byte)
}

// DefaultMaxScan is the scan limit when Options.MaxScan is zero.
const DefaultMaxScan = 64 << 10

// headLookahead is how far past the opening of <head> the rewriter looks for
// a charset declaration to keep ahead of the inserted tag: browsers only
// honour one within the first 1024 bytes of the document.
const headLookahead = 1024

// Rewriter is an io.Reader that yields the bytes of src with Options.Tag
// inserted where a browser opens the document's <head>. Memory is bounded by
// MaxScan plus the tokenizer's read buffer, whatever the size of the page.
type Rewriter struct {
	src  stickyReader
	opts Options
	z    *html.Tokenizer // nil while the lexer reads (lex.go), and once passing through

	out    []byte // bytes ready for the reader
	outPos int
	lent   []byte       // from opts.Buffers, to give back
	head   bytes.Reader // charsetEnd's source, kept here to spare an allocation

	lex            []byte // the lexer's first read, until it hands over; nil: no lexer
	lexPos, lexEnd int    // what the lexer has read of lex, what has arrived
	lexRead        bool   // the first read has been made
	replay         replayReader

	scanned     int  // bytes consumed by the tokenizer so far
	significant bool // a significant token (doctype or element) has been seen
	inHead      bool // the tag is placed (or pending); scanning the head for meta CSP
	rawText     bool // the next text token is the content of script/style/title...
	afterRaw    bool // the last token opened script/style/title/noscript/template
	headStart   int  // scanned when the head opened
	tagAt       int  // with pendingTag: insert the tag when scanned reaches this
	pendingTag  bool
	headChecked bool // the pre-scan of the rest of the head has been made
	noPrescan   bool // tests: tokenize the whole head, to compare
	noLex       bool // tests: the tokenizer from the start, to compare
	passthrough bool // decision made: copy the rest of src as is
	err         error
	result      Result
	emitted     int64 // bytes returned by Read
	tagEnd      int64 // output offset just past the tag; -1 until it is placed
}

// NewRewriter returns a Rewriter reading from src.
func NewRewriter(src io.Reader, opts Options) *Rewriter {
	if opts.MaxScan <= 0 {
		opts.MaxScan = DefaultMaxScan
	}
	// The tokenizer may swallow an error that came with data; passing
	// through must still see it, so the source repeats its first error.
	r := &Rewriter{src: stickyReader{r: src}, opts: opts, tagEnd: -1}
	r.replay.src = &r.src
	if opts.Buffers != nil {
		r.lent = opts.Buffers.Get()
		r.out = r.lent[:0]
	} else {
		// Room for what the tokenizer buffers (4 KiB reads) plus the tag,
		// so openHead rarely grows it, and for the lexer's read.
		r.out = make([]byte, 0, 4096+len(opts.Tag)+512+lexSize)
	}
	if c := cap(r.out); c >= 2*lexSize {
		// The lexer reads into the end of the buffer, which r.out, capped
		// short of it, never reaches.
		r.lex = r.out[c-lexSize : c]
		r.out = r.out[: 0 : c-lexSize]
	} else {
		r.handOff()
	}
	return r
}

// next reads the next token before the head ends, from the lexer while it
// can, then from the tokenizer.
func (r *Rewriter) next() (html.TokenType, []byte) {
	if r.z == nil {
		if !r.noLex {
			if tt, raw := r.lexNext(); raw != nil {
				return tt, raw
			}
		}
		r.handOff()
	}
	tt := r.z.Next()
	return tt, r.z.Raw()
}

// buffered returns the bytes that have arrived and have not been read as
// tokens.
func (r *Rewriter) buffered() []byte {
	if r.z != nil {
		return r.z.Buffered()
	}
	return r.lex[r.lexPos:r.lexEnd]
}

// stickyReader repeats the first error of r on every later Read.
// It counts the bytes read, for Growth.
type stickyReader struct {
	r   io.Reader
	err error
	n   int64
}

func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	s.n += int64(n)
	return n, err
}

// Result reports what the rewriter did; Pending until a decision is made.
func (r *Rewriter) Result() Result { return r.result }

// Growth reports how many bytes longer than src the output is (the tag,
// rewritten meta policies) once the rest of src passes through unchanged,
// which is when ok becomes true; from then on n does not change. With the
// length of src known, the length of the output is then too, before most
// of it has been read.
func (r *Rewriter) Growth() (n int64, ok bool) {
	if !r.passthrough {
		return 0, false
	}
	return r.emitted + int64(len(r.out)-r.outPos) - r.src.n, true
}

// Read implements io.Reader.
func (r *Rewriter) Read(p []byte) (int, error) {
	for {
		if r.outPos < len(r.out) {
			n := copy(p, r.out[r.outPos:])
			r.outPos += n
			if r.outPos == len(r.out) {
				r.out, r.outPos = r.out[:0], 0
			}
			r.emitted += int64(n)
			return n, nil
		}
		if r.passthrough {
			if r.lent != nil { // nothing is held any more
				r.opts.Buffers.Put(r.lent)
				r.lent, r.out = nil, nil
			}
			if r.err != nil {
				return 0, r.err
			}
			n, err := r.src.Read(p)
			r.emitted += int64(n)
			return n, err
		}
		// Tokenize while the tokenizer holds bytes that have already
		// arrived, so small tokens before the head leave in one write; stop
		// as soon as continuing would wait on the upstream.
		for !r.passthrough {
			r.step()
			if r.passthrough || len(r.out) >= len(p) {
				break
			}
			// Go on only while the next token has surely arrived: a '>'
			// ahead. (Raw text with a '>' may still wait, within MaxScan.)
			if b := r.buffered(); len(b) == 0 || len(r.out) > 0 && bytes.IndexByte(b, '>') < 0 {
				break
			}
		}
	}
}

// step consumes one token before the head opens (or, with MetaCSP, before
// the head ends).
func (r *Rewriter) step() {
	if r.inHead {
		r.stepHead()
		return
	}
	// Copy the raw bytes first: TagAttr lower-cases the tokenizer's buffer
	// in place.
	tt, raw := r.next()
	start := len(r.out)
	r.out = append(r.out, raw...)
	r.scanned += len(raw)

	if tt == html.ErrorToken { // only the tokenizer returns one
		err := r.z.Err()
		if errors.Is(err, html.ErrBufferExceeded) {
			r.finish(NoHead, nil)
			return
		}
		if err == io.EOF {
			err = nil
		}
		r.finish(Truncated, err)
		return
	}
	if r.scanned > r.opts.MaxScan {
		r.finish(NoHead, nil)
		return
	}

	switch tt {
	case html.TextToken:
		tok := r.out[start:]
		if r.scanned == len(tok) { // the very first bytes of the body
			if bad := incompatibleStart(tok); bad {
				r.finish(Incompatible, nil)
				return
			}
			tok = bytes.TrimPrefix(tok, utf8BOM)
		}
		if isHTMLSpace(tok) {
			return
		}
		// Text before the head: a browser opens the head here.
		if r.opts.RequireDocument && !r.significant {
			r.finish(NotDocument, nil)
			return
		}
		r.openHead(start)
	case html.CommentToken:
		// Comments, <?xml ...?> and bogus comments do not open the head.
	case html.DoctypeToken:
		r.significant = true
	case html.StartTagToken, html.SelfClosingTagToken:
		var lb [maxName]byte
		switch name := lowerTagName(lb[:0], raw); string(name) {
		case "html":
			r.significant = true
		case "head":
			r.openHead(len(r.out))
		default:
			if r.opts.RequireDocument && !r.significant {
				r.finish(NotDocument, nil)
				return
			}
			r.openHead(start)
			// The element that opened the head is itself in it (or opens
			// the body): treat it as the head scan would.
			if r.inHead && !r.headElement(tt, name, raw, len(r.out)-len(raw)) {
				r.endHead(len(r.out), nil)
			}
		}
	case html.EndTagToken:
		if r.opts.RequireDocument && !r.significant {
			r.finish(NotDocument, nil)
			return
		}
		r.openHead(start)
	}
}

// openHead inserts the tag where the head opens (offset at of r.out), or
// just after a charset declaration that closely follows in bytes that have
// already arrived. Without MetaCSP it then switches to pass-through.
func (r *Rewriter) openHead(at int) {
	// view is r.out followed by the bytes the tokenizer holds but has not
	// consumed; it shares r.out's array and is only read before r.out grows.
	view := append(r.out, r.buffered()...)
	if r.hasMarker(view) {
		r.finish(AlreadyInjected, nil)
		return
	}
	pos := at + charsetEnd(view[at:], &r.head)
	r.result = Injected
	if r.opts.MetaCSP == nil {
		// The tokenizer reads no more: from here on everything comes from
		// r.out, then from src.
		r.out = view
		r.z, r.lex = nil, nil
		r.passthrough = true
		r.insertAt(pos)
		return
	}
	r.inHead, r.headStart = true, r.scanned
	if pos <= len(r.out) {
		r.insertAt(pos)
	} else {
		// After a charset declaration the tokenizer has not consumed yet.
		r.pendingTag, r.tagAt = true, r.scanned+pos-len(r.out)
	}
}

// TagEnd reports the offset in the output just past the inserted tag, or
// -1 while (or if) there is none: what must reach the browser for the
// loader to start.
func (r *Rewriter) TagEnd() int64 { return r.tagEnd }

// insertAt inserts the tag at offset pos of r.out.
func (r *Rewriter) insertAt(pos int) {
	tag := r.opts.Tag
	// r.out starts at r.emitted: Read tokenizes only once it has handed
	// out all of r.out.
	r.tagEnd = r.emitted + int64(pos+len(tag))
	r.out = append(r.out, tag...)           // grow once
	copy(r.out[pos+len(tag):], r.out[pos:]) // shift the tail right
	copy(r.out[pos:], tag)
	r.pendingTag = false
}

// stepHead consumes one token of the head after the tag's place was found,
// rewriting meta CSP tags, until something ends the head.
func (r *Rewriter) stepHead() {
	if r.restOfHeadPlain() {
		r.finish(Injected, nil)
		return
	}
	tt, raw := r.next()
	start := len(r.out)
	r.out = append(r.out, raw...)
	r.scanned += len(raw)
	rawText := r.rawText
	r.rawText, r.afterRaw = false, false

	if tt == html.ErrorToken || r.scanned-r.headStart > r.opts.MaxScan {
		err := r.z.Err()
		if err == io.EOF || errors.Is(err, html.ErrBufferExceeded) {
			err = nil
		}
		r.endHead(start, err)
		return
	}
	switch tt {
	case html.TextToken:
		if !rawText && !isHTMLSpace(r.out[start:]) {
			r.endHead(start, nil) // text opens the body
			return
		}
	case html.StartTagToken, html.SelfClosingTagToken:
		var lb [maxName]byte
		if !r.headElement(tt, lowerTagName(lb[:0], raw), raw, start) {
			r.endHead(start, nil) // an element that opens the body
			return
		}
	case html.EndTagToken:
		var lb [maxName]byte
		switch string(lowerTagName(lb[:0], raw)) {
		case "script", "style", "title", "noscript", "template":
		default: // </head>, or anything that ends it
			r.endHead(start, nil)
			return
		}
	}
	if r.pendingTag && r.scanned >= r.tagAt {
		if r.scanned == r.tagAt {
			r.insertAt(len(r.out))
		} else {
			r.insertAt(start) // never inside a token
		}
	}
}

// restOfHeadPlain is the pre-scan that spares tokenizing the rest of the
// head, which is done only to find meta CSP tags, once the tag has its
// place. It reports true, and the rest passes through as endHead would
// pass it, when no http-equiv is spelt in the bytes the head scan would
// still read: all of them up to MaxScan past the head's opening once they
// have arrived or the source has ended, or else up to where headEnd sees
// the head end in the bytes that have arrived. It never waits for bytes,
// and looks at them at most once.
func (r *Rewriter) restOfHeadPlain() bool {
	if r.headChecked || r.pendingTag || r.noPrescan {
		return false
	}
	b := r.buffered()
	rest := r.headStart + r.opts.MaxScan - r.scanned
	switch {
	case len(b) >= rest:
		b = b[:rest]
	case r.src.err != nil:
		// The source has ended: b is all there is.
	case r.afterRaw:
		return false // the tokenizer is in raw text, where headEnd cannot start
	default:
		r.headChecked = true
		end := headEnd(b)
		return end >= 0 && !mayDeclareEquiv(b[:end])
	}
	r.headChecked = true
	return !mayDeclareEquiv(b)
}

// headElement handles a start tag in the head (raw, the tokenizer's
// current token, whose copy is at r.out[at:]): a meta CSP is rewritten,
// raw-text elements are noted. It reports false for an element that
// belongs in the body.
func (r *Rewriter) headElement(tt html.TokenType, name, raw []byte, at int) bool {
	switch string(name) {
	case "meta":
		if metaKind(r.z, raw) == metaCSP {
			r.rewriteMeta(at)
		}
	case "script", "style", "title", "noscript", "template":
		r.rawText = tt == html.StartTagToken
		r.afterRaw = true
	case "link", "base":
	default:
		return false
	}
	return true
}

// endHead places a still-pending tag before the token at offset at and
// passes the rest through.
func (r *Rewriter) endHead(at int, err error) {
	if r.pendingTag {
		r.insertAt(at)
	}
	r.inHead = false
	r.finish(Injected, err)
}

// rewriteMeta replaces the content of the meta CSP tag at r.out[start:].
func (r *Rewriter) rewriteMeta(start int) {
	tag := r.out[start:]
	vs, ve, quote, ok := attrValue(tag, "content")
	if !ok {
		return
	}
	policy := unescapeAttr(tag[vs:ve])
	merged := r.opts.MetaCSP(policy)
	if merged == nil {
		return
	}
	if quote == 0 {
		quote = '"'
	}
	var b []byte
	b = append(b, tag[:vs]...)
	if tag[vs-1] != quote { // the value was unquoted
		b = append(b, quote)
	}
	b = appendEscapedAttr(b, merged, quote)
	if tag[vs-1] != quote {
		b = append(b, quote)
	}
	b = append(b, tag[ve:]...)
	r.out = append(r.out[:start], b...)
}

// finish stops tokenizing and passes everything through unchanged.
func (r *Rewriter) finish(res Result, err error) {
	r.out = append(r.out, r.buffered()...)
	r.z, r.lex = nil, nil
	r.result = res
	r.err = err
	r.passthrough = true
}

// hasMarker reports whether b contains one of the markers.
func (r *Rewriter) hasMarker(b []byte) bool {
	for _, m := range r.opts.Markers {
		if len(m) > 0 && containsMarker(b, m) {
			return true
		}
	}
	return false
}

var utf8BOM = []byte("\xef\xbb\xbf")

// incompatibleStart reports a body that starts with a UTF-16/32 byte order
// mark or a NUL byte (UTF-16 or UTF-32 without a BOM).
func incompatibleStart(b []byte) bool {
	return bytes.HasPrefix(b, []byte("\xfe\xff")) ||
		bytes.HasPrefix(b, []byte("\xff\xfe")) ||
		(len(b) > 0 && b[0] == 0) ||
		(len(b) > 1 && b[1] == 0)
}

// isHTMLSpace reports whether b is only HTML white space.
func isHTMLSpace(b []byte) bool {
	for _, c := range b {
		if !isTagSpace(c) {
			return false
		}
	}
	return true
}
