package proxy

import (
	"net/http"
	"strings"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// ownCookies are the proxy's own cookies. They are scoped to the reserved
// prefix, but a browser sends them with any path that starts with it,
// including ones the router forwards, and an upstream has no business
// seeing an agent's session.
var ownCookies = [...]string{token.SessionCookie}

// stripOwnCookies removes the proxy's cookies from every Cookie header of
// h. The site's cookies are kept byte for byte, in order; a header left
// empty is dropped. A header without our names is not copied.
func stripOwnCookies(h http.Header) {
	vals := h["Cookie"]
	if len(vals) == 0 {
		return
	}
	kept := vals[:0]
	for _, v := range vals {
		if v = withoutOwnCookies(v); v != "" {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

func withoutOwnCookies(v string) string {
	if !mentionsOwnCookie(v) {
		return v
	}
	var b strings.Builder
	for pair := range strings.SplitSeq(v, ";") {
		name, _, _ := strings.Cut(pair, "=")
		if isOwnCookie(strings.TrimSpace(name)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		} else {
			pair = strings.TrimLeft(pair, " \t")
		}
		b.WriteString(pair)
	}
	return b.String()
}

func mentionsOwnCookie(v string) bool {
	for _, n := range ownCookies {
		if strings.Contains(v, n) {
			return true
		}
	}
	return false
}

func isOwnCookie(name string) bool {
	for _, n := range ownCookies {
		if name == n {
			return true
		}
	}
	return false
}
