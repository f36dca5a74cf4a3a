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
		for i < len(tag) && !isTagSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
			i++ // the tag name
		}
	}
	for i < len(tag) && (isTagSpace(tag[i]) || tag[i] == '/') {
		i++
	}
	if i >= len(tag) || tag[i] == '>' {
		return a, i, false
	}
	ns := i
	i++ // an attribute name may start with '='
	for i < len(tag) && !isTagSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' && tag[i] != '=' {
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
	for i < len(tag) && !isTagSpace(tag[i]) && tag[i] != '>' {
		i++
	}
	a.ve = i
	return a, i, true
}

// isTagSpace reports whether c is HTML white space.
func isTagSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

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
