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
func charsetEnd(head []byte) int {
	if len(head) > headLookahead {
		head = head[:headLookahead]
	}
	z := html.NewTokenizer(bytes.NewReader(head))
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
			name, hasAttr := z.TagName()
			switch string(name) {
			case "meta":
				switch metaKind(z, hasAttr) {
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
			name, _ := z.TagName()
			if string(name) != "title" {
				return 0
			}
			inTitle = false
		default:
			return 0
		}
	}
}

type metaType int

const (
	metaOther metaType = iota
	metaCharset
	metaCSP
)

// metaKind says whether the current <meta> tag declares the document's
// character encoding or a Content-Security-Policy.
func metaKind(z *html.Tokenizer, hasAttr bool) metaType {
	for more := hasAttr; more; {
		var key, val []byte
		key, val, more = z.TagAttr()
		switch string(key) {
		case "charset":
			return metaCharset
		case "http-equiv":
			v := bytes.TrimSpace(val)
			switch {
			case bytes.EqualFold(v, []byte("content-type")):
				return metaCharset
			case bytes.EqualFold(v, []byte("content-security-policy")):
				return metaCSP
			}
		}
	}
	return metaOther
}
