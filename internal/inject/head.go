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
	if !mayDeclareMeta(head, "charset") && !mayDeclareMeta(head, "http-equiv") {
		// No declaration can be in these bytes (a head without one
		// in its first 1 KiB): the tokenizer and its 4 KiB buffer are
		// not needed.
		return 0
	}
	return charsetScan(head, rd)
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
