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
	for ; i < len(raw) && !isTagSpace(raw[i]) && raw[i] != '/' && raw[i] != '>'; i++ {
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
func equalFoldASCII(b []byte, s string) bool {
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
		if lowerASCII(b[i]) == s[0] && equalFoldASCII(b[i:i+len(s)], s) {
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
