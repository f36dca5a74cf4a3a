package inject

import (
	"bytes"

	"golang.org/x/net/html"
)

// charsetEnd returns where in head (the bytes from the opening of the head
// on, as far as they have arrived) the tag goes: 0, the start of the head,
// unless a <meta charset> or <meta http-equiv="content-type"> follows within
// the first bytes, preceded only by whitespace, comments, other <meta>,
// <title> and <link>; then just after that declaration, so inserting the tag
// does not push it out of the 1024 bytes in which browsers look for it.
func charsetEnd(head []byte, rd *bytes.Reader) int {
	if len(head) > headLookahead {
		head = head[:headLookahead]
	}
	if !mayDeclareMeta(head, "charset") && !mayDeclareEquiv(head) {
		// No declaration can be in these bytes (a head without one
		// in its first 1 KiB): the tokenizer and its 4 KiB buffer are
		// not needed.
		return 0
	}
	if end, ok := charsetLex(head); ok {
		return end
	}
	return charsetScan(head, rd)
}

// charsetLex is charsetEnd without a tokenizer, for the common heads: it
// reads white space, <meta>, <link> and <title>...</title> from the raw
// bytes, and reports ok false, for the tokenizer to decide, at anything
// else it would have to follow the tokenizer through (a comment, a tag
// cut off at the end of head, a title without its end tag, a <meta> with
// a character reference).
func charsetLex(head []byte) (end int, ok bool) {
	for i := 0; i < len(head); {
		if isTagSpace(head[i]) {
			i++
			continue
		}
		if head[i] != '<' {
			return 0, true // text
		}
		tag := tagAt(head[i:])
		if tag == nil {
			return 0, false
		}
		var lb [maxName]byte
		name := string(lowerTagName(lb[:0], tag))
		if tag[1] == '/' {
			if name != "title" {
				return 0, true
			}
			i += len(tag)
			continue
		}
		switch name {
		case "meta":
			if bytes.ContainsAny(tag, "&\x00\r") {
				return 0, false
			}
			switch metaKindRaw(tag) {
			case metaCharset:
				return i + len(tag), true
			case metaCSP:
				return 0, true
			}
		case "link":
		case "title":
			if tag[len(tag)-2] == '/' {
				return 0, false // perhaps self-closing
			}
			k := rawTextEnd(head[i+len(tag):], lb[:len(name)])
			if k < 0 {
				return 0, false
			}
			i += k
		default:
			return 0, true
		}
		i += len(tag)
	}
	return 0, true // no declaration before the end
}

// charsetScan is charsetEnd without the pre-scan: it tokenizes head, read
// through rd.
func charsetScan(head []byte, rd *bytes.Reader) int {
	rd.Reset(head)
	z := html.NewTokenizer(rd)
	end, inTitle := 0, false
	for {
		tt := z.Next()
		if z.Err() != nil {
			return 0 // ran out of arrived bytes before finding one
		}
		end += len(z.Raw())
		switch tt {
		case html.TextToken:
			if !inTitle && !isHTMLSpace(z.Raw()) {
				return 0
			}
		case html.CommentToken:
		case html.StartTagToken, html.SelfClosingTagToken:
			var lb [maxName]byte
			switch string(lowerTagName(lb[:0], z.Raw())) {
			case "meta":
				switch metaKind(z, z.Raw()) {
				case metaCharset:
					return end
				case metaCSP:
					// Inserting after a policy would put the loader under
					// it; before it, the policy does not apply to the tag.
					return 0
				}
			case "title":
				inTitle = true
			case "link":
			default:
				return 0
			}
		case html.EndTagToken:
			var lb [maxName]byte
			if string(lowerTagName(lb[:0], z.Raw())) != "title" {
				return 0
			}
			inTitle = false
		default:
			return 0
		}
	}
}
