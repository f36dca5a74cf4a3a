package inject

import (
	"bytes"
	"io"

	"golang.org/x/net/html"
)

// The rewriter starts without a tokenizer. Most pages open with a doctype,
// <html>, <head> and a <meta charset>, which need none of the tokenizer's
// machinery (and its allocations: a 4 KiB buffer, a map, a copy of every
// attribute name); the lexer reads such tokens from the bytes of the
// first read, exactly as the tokenizer would. At the first token it does
// not know, or that has not wholly arrived, it hands over to a tokenizer,
// which then reads those bytes (replayReader) before the source: it sees
// the same bytes, and asks the source for the same lengths, as if it had
// been there from the start, so what the rewriter does is unchanged.

// lexSize is the length of the first read: the tokenizer's buffer starts
// at 4 KiB and its first read fills it.
const lexSize = 4096

// lexNext returns the next token, read by the lexer, or raw nil when the
// tokenizer must read it. The lexer only reads tokens that leave the
// tokenizer in the state it starts in (no raw text follows them), and only
// well within MaxScan, so that the tokenizer's limits cannot apply.
func (r *Rewriter) lexNext() (html.TokenType, []byte) {
	if !r.lexRead {
		r.lexRead = true
		r.lexEnd, r.replay.err = readAtLeastOneByte(&r.src, r.lex)
	}
	b := r.lex[r.lexPos:r.lexEnd]
	tt, n := lexToken(b)
	if n == 0 || r.scanned+n+2 >= r.opts.MaxScan {
		return html.ErrorToken, nil
	}
	r.lexPos += n
	return tt, b[:n]
}

// handOff gives the bytes the lexer has not read to a new tokenizer.
func (r *Rewriter) handOff() {
	r.replay.held = r.lex[r.lexPos:r.lexEnd]
	r.lex = nil
	r.z = html.NewTokenizer(&r.replay)
	r.z.SetMaxBuf(r.opts.MaxScan)
}

// lexToken returns the type and length of the token at the start of b, a
// token boundary in the tokenizer's data state, if it is one the lexer
// reads: white space followed by a tag or a declaration, a doctype, or a
// start or end tag of html, head, meta or link without "/>" (and, for meta,
// without the bytes that make metaKind ask the tokenizer). Otherwise n is
// 0. The token must have wholly arrived, and so must the two bytes after
// white space that tell the tokenizer it ends there.
func lexToken(b []byte) (tt html.TokenType, n int) {
	for n < len(b) && isTagSpace(b[n]) {
		n++
	}
	if n > 0 {
		// Text ends at a '<' that starts a tag, a comment or a doctype.
		if n+1 < len(b) && b[n] == '<' && (isASCIILetter(b[n+1]) || b[n+1] == '/' || b[n+1] == '!' || b[n+1] == '?') {
			return html.TextToken, n
		}
		return 0, 0
	}
	if len(b) == 0 || b[0] != '<' {
		return 0, 0 // text, or nothing
	}
	if len(b) > 8 && b[1] == '!' && equalFoldASCII(b[2:9], "doctype") {
		if end := bytes.IndexByte(b[9:], '>'); end >= 0 {
			return html.DoctypeToken, 9 + end + 1
		}
		return 0, 0
	}
	tag := tagAt(b)
	if tag == nil || tag[len(tag)-2] == '/' {
		return 0, 0
	}
	var lb [maxName]byte
	switch string(lowerTagName(lb[:0], tag)) {
	case "meta":
		if bytes.ContainsAny(tag, "&\x00\r") {
			return 0, 0
		}
	case "html", "head", "link":
	default:
		return 0, 0
	}
	if tag[1] == '/' {
		return html.EndTagToken, len(tag)
	}
	return html.StartTagToken, len(tag)
}

// replayReader is what the tokenizer reads when the lexer hands over: the
// bytes the lexer has not read, with the error of the read that brought
// them, then src.
type replayReader struct {
	held []byte
	err  error
	src  io.Reader
}

func (p *replayReader) Read(b []byte) (int, error) {
	if len(p.held) == 0 && p.err == nil {
		return p.src.Read(b)
	}
	n := copy(b, p.held)
	p.held = p.held[n:]
	if len(p.held) > 0 {
		return n, nil
	}
	err := p.err
	p.err = nil
	return n, err
}

// readAtLeastOneByte reads as the tokenizer does: io.ErrNoProgress after
// 100 empty reads.
func readAtLeastOneByte(r io.Reader, b []byte) (int, error) {
	for range 100 {
		if n, err := r.Read(b); n != 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}
