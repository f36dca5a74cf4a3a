package inject

import (
	"bytes"
	"html"
)

// attrValue finds attribute name (lower case) in a raw start tag, as the
// HTML tokenizer reads attributes, and returns the span of its value in tag
// (without quotes) and the quote character (0 when unquoted).
func attrValue(tag []byte, name string) (start, end int, quote byte, ok bool) {
	i := 1 // past '<'
	for i < len(tag) && !isTagSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++ // the tag name
	}
	for i < len(tag) {
		for i < len(tag) && (isTagSpace(tag[i]) || tag[i] == '/') {
			i++
		}
		if i >= len(tag) || tag[i] == '>' {
			return 0, 0, 0, false
		}
		ns := i
		i++ // an attribute name may start with '='
		for i < len(tag) && !isTagSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' && tag[i] != '=' {
			i++
		}
		attr := tag[ns:i]
		for i < len(tag) && isTagSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			continue // no value
		}
		i++
		for i < len(tag) && isTagSpace(tag[i]) {
			i++
		}
		var vs, ve int
		var q byte
		if i < len(tag) && (tag[i] == '"' || tag[i] == '\'') {
			q = tag[i]
			vs = i + 1
			e := bytes.IndexByte(tag[vs:], q)
			if e < 0 {
				return 0, 0, 0, false
			}
			ve = vs + e
			i = ve + 1
		} else {
			vs = i
			for i < len(tag) && !isTagSpace(tag[i]) && tag[i] != '>' {
				i++
			}
			ve = i
		}
		if bytes.EqualFold(attr, []byte(name)) {
			return vs, ve, q, true
		}
	}
	return 0, 0, 0, false
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
