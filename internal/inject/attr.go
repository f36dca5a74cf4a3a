package inject

import (
	"bytes"
	"html"
)

// attrValue finds attribute name (lower case) in a raw start tag, as the
// HTML tokenizer reads attributes, and returns the span of its value in tag
// (without quotes) and the quote character (0 when unquoted). An attribute
// of that name without a value is passed over.
func attrValue(tag []byte, name string) (start, end int, quote byte, ok bool) {
	for i := 0; ; {
		a, next, more := nextAttr(tag, i)
		if !more {
			return 0, 0, 0, false
		}
		if a.hasValue && bytes.EqualFold(a.name, []byte(name)) {
			return a.vs, a.ve, a.quote, true
		}
		i = next
	}
}

// rawAttr is one attribute of a raw start tag.
type rawAttr struct {
	name     []byte
	vs, ve   int  // the span of the value in the tag, without quotes
	quote    byte // 0 when unquoted
	hasValue bool // an '=' followed the name
}

// nextAttr reads the attribute of tag (a raw start tag, possibly cut off)
// that starts at or after offset i, as the HTML tokenizer reads
// attributes: i is 0 for the first (the tag name is skipped), then the
// next offset the previous call returned. ok is false when no attribute is
// left or a quoted value is not terminated.
func nextAttr(tag []byte, i int) (a rawAttr, next int, ok bool) {
	if i == 0 {
		i = 1 // past '<'
		for i < len(tag) && !inSet(tag[i], nameEnd) {
			i++ // the tag name
		}
	}
	for i < len(tag) && inSet(tag[i], spaceOrSlash) {
		i++
	}
	if i >= len(tag) || tag[i] == '>' {
		return a, i, false
	}
	ns := i
	i++ // an attribute name may start with '='
	for i < len(tag) && !inSet(tag[i], attrNameEnd) {
		i++
	}
	a.name = tag[ns:i]
	for i < len(tag) && isTagSpace(tag[i]) {
		i++
	}
	if i >= len(tag) || tag[i] != '=' {
		return a, i, true // no value
	}
	a.hasValue = true
	i++
	for i < len(tag) && isTagSpace(tag[i]) {
		i++
	}
	if i < len(tag) && (tag[i] == '"' || tag[i] == '\'') {
		a.quote = tag[i]
		a.vs = i + 1
		e := bytes.IndexByte(tag[a.vs:], a.quote)
		if e < 0 {
			return a, len(tag), false
		}
		a.ve = a.vs + e
		return a, a.ve + 1, true
	}
	a.vs = i
	for i < len(tag) && !inSet(tag[i], valueEnd) {
		i++
	}
	a.ve = i
	return a, i, true
}

// Sets of the bytes at which the scanners stop, as bit masks of bytes up
// to '>' (62): a letter, the byte a scanner meets most, is told apart from
// all of them by one comparison, where the tests they replace took five.
const (
	space        = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\f' | 1<<'\r' // HTML white space
	spaceOrSlash = space | 1<<'/'                                 // between attributes
	nameEnd      = space | 1<<'/' | 1<<'>'                        // ends a tag name
	attrNameEnd  = nameEnd | 1<<'='                               // ends an attribute name
	valueEnd     = space | 1<<'>'                                 // ends an unquoted value
)

// inSet reports whether c is in set, one of the masks above.
func inSet(c byte, set uint64) bool {
	return c <= '>' && set>>c&1 != 0
}

// isTagSpace reports whether c is HTML white space.
func isTagSpace(c byte) bool { return inSet(c, space) }

func unescapeAttr(v []byte) []byte {
	if bytes.IndexByte(v, '&') < 0 {
		return append([]byte(nil), v...)
	}
	return []byte(html.UnescapeString(string(v)))
}

// appendEscapedAttr appends v escaped for an attribute value quoted by q.
func appendEscapedAttr(b, v []byte, q byte) []byte {
	for _, c := range v {
		switch {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == q && q == '"':
			b = append(b, "&quot;"...)
		case c == q:
			b = append(b, "&#39;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}
