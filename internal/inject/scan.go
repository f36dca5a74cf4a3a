package inject

import (
	"bytes"

	"golang.org/x/net/html"
)

// The rewriter reads tag names and <meta> attributes from the raw bytes of
// a token instead of the tokenizer's TagName and TagAttr: those allocate a
// copy for every call (a NUL replacement that copies even when there is no
// NUL), which was most of the rewriter's allocations in the head of a page.

// maxName is the length of the longest tag name the rewriter looks for
// ("noscript", "template").
const maxName = 8

// lowerTagName appends to dst (which has room for maxName bytes) the name
// of the tag token raw ("<name ..." or "</name ..."), ASCII lower-cased as
// the tokenizer's TagName does. A name longer than maxName is none the
// rewriter looks for; it is returned empty.
func lowerTagName(dst, raw []byte) []byte {
	i := 1 // past '<'
	if i < len(raw) && raw[i] == '/' {
		i++
	}
	for ; i < len(raw) && !inSet(raw[i], nameEnd); i++ {
		if len(dst) == maxName {
			return dst[:0]
		}
		dst = append(dst, lowerASCII(raw[i]))
	}
	return dst
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldASCII reports whether b equals the lower-case ASCII s, ignoring
// ASCII case only (as the tokenizer lower-cases attribute names; Unicode
// folding would match "ſ" to "s").
func equalFoldASCII[S string | []byte](b []byte, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lowerASCII(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// mayDeclareMeta is the pre-scan that lets the rewriter skip tokenizing:
// it reports whether b contains the attribute name s (lower-case ASCII) in
// any ASCII case. A <meta> can declare a charset or a policy only with a
// charset or http-equiv attribute whose name is spelt in the raw bytes
// (the tokenizer decodes no references in names), so where this reports
// false no such tag can be in b.
func mayDeclareMeta(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		// b[i]|0x20 is s[0] for s[0] in either case (and for a few other
		// bytes, which equalFoldASCII turns down): one test where
		// lowerASCII takes three.
		if b[i]|0x20 == s[0] && equalFoldASCII(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// mayDeclareEquiv is mayDeclareMeta(b, "http-equiv"), which the rewriter
// asks of a whole head: the name's '-' has no case, so bytes.IndexByte
// finds the few places where it can be, instead of a test of every byte.
func mayDeclareEquiv(b []byte) bool {
	const s, dash = "http-equiv", 4 // s[dash] is '-'
	for i := 0; i+len(s) <= len(b); i++ {
		j := bytes.IndexByte(b[i+dash:], '-')
		if j < 0 {
			return false
		}
		i += j // a '-' at b[i+dash]: s may start at i
		if i+len(s) <= len(b) && equalFoldASCII(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

type metaType int

const (
	metaOther metaType = iota
	metaCharset
	metaCSP
)

// metaKind says whether the <meta> start tag raw, the tokenizer z's current
// token, declares the document's character encoding or a
// Content-Security-Policy. It reads raw as the tokenizer reads attributes;
// a tag with a character reference, a NUL or a carriage return, whose
// values the tokenizer transforms, is read through z.TagAttr instead.
func metaKind(z *html.Tokenizer, raw []byte) metaType {
	if bytes.ContainsAny(raw, "&\x00\r") {
		return metaKindTokenizer(z)
	}
	return metaKindRaw(raw)
}

// metaKindRaw is metaKind for a tag whose values need no decoding. As the
// tokenizer does, it keeps the first of several attributes of one name.
func metaKindRaw(raw []byte) metaType {
	seenEquiv := false
	for i := 0; ; {
		a, next, ok := nextAttr(raw, i)
		if !ok {
			return metaOther
		}
		i = next
		switch {
		case equalFoldASCII(a.name, "charset"):
			return metaCharset
		case !seenEquiv && equalFoldASCII(a.name, "http-equiv"):
			seenEquiv = true
			if k := equivKind(raw[a.vs:a.ve]); k != metaOther {
				return k
			}
		}
	}
}

// metaKindTokenizer is metaKind through the tokenizer's decoded attributes.
func metaKindTokenizer(z *html.Tokenizer) metaType {
	for more := true; more; {
		var key, val []byte
		key, val, more = z.TagAttr()
		switch string(key) {
		case "charset":
			return metaCharset
		case "http-equiv":
			if k := equivKind(val); k != metaOther {
				return k
			}
		}
	}
	return metaOther
}

// equivKind classifies the value of an http-equiv attribute.
func equivKind(val []byte) metaType {
	v := bytes.TrimSpace(val)
	switch {
	case bytes.EqualFold(v, []byte("content-type")):
		return metaCharset
	case bytes.EqualFold(v, []byte("content-security-policy")):
		return metaCSP
	}
	return metaOther
}

// headEnd is the second pre-scan: it follows the tokenizer through b, the
// bytes of the head that have arrived (from a token boundary in the data
// state), and returns where the head scan would stop: at text that is not
// white space, at an element that belongs in the body, or at an end tag
// other than </script>, </style>, </title>, </noscript> and </template>.
// It is sound, not complete: whatever it does not follow the tokenizer
// through (a comment, a doctype, a script with "<!--", a self-closing or
// unterminated raw-text element, <template>, a token cut off by the end of
// b) makes it return -1, and the tokenizer goes on.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		if isTagSpace(b[i]) {
			i++
			continue
		}
		if b[i] != '<' {
			return i // text that is not white space opens the body
		}
		tag := tagAt(b[i:])
		if tag == nil {
			return -1
		}
		var lb [maxName]byte
		name := lowerTagName(lb[:0], tag)
		if tag[1] == '/' {
			switch string(name) {
			case "script", "style", "title", "noscript", "template":
				i += len(tag)
				continue
			}
			return i // </head>, or another end tag that ends it
		}
		switch string(name) {
		case "meta", "link", "base":
			i += len(tag)
		case "script", "style", "title", "noscript":
			if tag[len(tag)-2] == '/' {
				return -1 // perhaps self-closing: the head scan reads the text after it otherwise
			}
			i += len(tag)
			k := rawTextEnd(b[i:], name)
			if k < 0 {
				return -1
			}
			i += k // at its end tag
		case "template":
			return -1
		default:
			return i // an element that opens the body
		}
	}
	return -1
}

// tagAt returns the start or end tag at the start of t (t[0] is '<'), up
// to its '>' as the tokenizer reads it, or nil if t does not start with a
// tag the tokenizer reads as one or the tag is cut off.
func tagAt(t []byte) []byte {
	at := 0 // where the tag's name starts, less one
	if len(t) > 1 && t[1] == '/' {
		at = 1
	}
	if at+1 >= len(t) || !isASCIILetter(t[at+1]) {
		return nil // a comment, a doctype, or text
	}
	if end := tagEnd(t[at:]); end >= 0 {
		return t[:at+end+1]
	}
	return nil
}

// tagEnd returns the offset of the '>' that ends the tag s (a raw start
// tag, possibly cut off, as for nextAttr), or -1 if it is cut off. It is
// nextAttr's walk through every attribute, without building them.
func tagEnd(s []byte) int {
	i := 1 // past '<'
	for i < len(s) && !inSet(s[i], nameEnd) {
		i++ // the tag name
	}
	for {
		for i < len(s) && inSet(s[i], spaceOrSlash) {
			i++
		}
		if i >= len(s) {
			return -1
		}
		if s[i] == '>' {
			return i
		}
		i++ // an attribute name may start with '='
		for i < len(s) && !inSet(s[i], attrNameEnd) {
			i++
		}
		for i < len(s) && isTagSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue // no value
		}
		i++
		for i < len(s) && isTagSpace(s[i]) {
			i++
		}
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			e := bytes.IndexByte(s[i+1:], s[i])
			if e < 0 {
				return -1
			}
			i += e + 2 // past the closing quote
			continue
		}
		for i < len(s) && !inSet(s[i], valueEnd) {
			i++
		}
	}
}

func isASCIILetter(c byte) bool {
	c |= 'a' - 'A'
	return 'a' <= c && c <= 'z'
}

// rawTextEnd returns the offset in b of the end tag of the raw-text
// element name (lower case), as the tokenizer finds it, or -1 when it has
// not arrived or, in a script, "<!--" may hide it.
func rawTextEnd(b []byte, name []byte) int {
	for i := 0; ; {
		k := bytes.Index(b[i:], []byte("</"))
		if k < 0 {
			return -1
		}
		k += i
		j := k + 2 + len(name)
		if j >= len(b) {
			return -1 // cut off: cannot tell
		}
		if equalFoldASCII(b[k+2:j], name) && inSet(b[j], nameEnd) {
			if string(name) == "script" && bytes.Contains(b[:k], []byte("<!--")) {
				return -1
			}
			return k
		}
		i = k + 1
	}
}
