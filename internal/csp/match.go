package csp

import "strings"

// covered reports whether list already allows everything need allows, so
// adding need would change nothing. It is conservative: when browsers
// disagree, it answers false and the merge adds a redundant source rather
// than leave one blocked. In particular:
//
//   - `*` covers http(s) host sources only: it never matches data: or blob:,
//     and older WebKit does not let it match ws(s), so wss://*.zoom.us is
//     still added next to `*`.
//   - https://… never covers wss://… for the same reason.
//   - a scheme-less host source covers only the page's own scheme (and
//     https on an http page), as CSP3 specifies.
//
// selfScheme is the page's scheme ("https" when unknown).
func covered(list []string, need string, selfScheme, selfOrigin string) bool {
	n := parseSource(need)
	for _, have := range list {
		if covers(parseSource(have), n, selfScheme, selfOrigin) {
			return true
		}
	}
	return false
}

// covers reports whether expression e matches every URL need n matches.
func covers(e, n source, selfScheme, selfOrigin string) bool {
	switch n.kind {
	case kindKeyword:
		return e.kind == kindKeyword && e.keyword == n.keyword
	case kindNonce, kindHash:
		return e.kind == n.kind && e.value == n.value
	case kindScheme:
		return e.kind == kindScheme && schemeMatches(e.scheme, n.scheme)
	case kindHost:
		for _, scheme := range needSchemes(n, selfScheme) {
			if !coversHost(e, n, scheme, selfScheme, selfOrigin) {
				return false
			}
		}
		return true
	}
	return false // kindStar and kindInvalid are never needed
}

// needSchemes lists the URL schemes a host source can match.
func needSchemes(n source, selfScheme string) []string {
	switch {
	case n.scheme != "":
		return []string{n.scheme}
	case selfScheme == "http":
		return []string{"http", "https"}
	}
	return []string{selfScheme}
}

// coversHost reports whether e matches every URL with the given scheme
// that the host source n matches.
func coversHost(e, n source, scheme, selfScheme, selfOrigin string) bool {
	switch e.kind {
	case kindStar:
		return scheme == "http" || scheme == "https"
	case kindScheme:
		return schemeMatches(e.scheme, scheme)
	case kindKeyword:
		// 'self' covers a source naming exactly the page's origin (the
		// reserved prefix is built from it).
		if e.keyword != "'self'" || selfOrigin == "" || strings.Contains(n.host, "*") || n.port == "*" {
			return false
		}
		return scheme+"://"+n.host+portSuffix(scheme, n.port) == selfOrigin
	case kindHost:
	default:
		return false
	}
	es := e.scheme
	if es == "" {
		es = selfScheme
	}
	if !schemeMatches(es, scheme) || !hostCovers(e.host, n.host) {
		return false
	}
	switch {
	case e.port == "*":
	case n.port == "*":
		return false
	case effectivePort(scheme, e.port) != effectivePort(scheme, n.port):
		return false
	}
	switch {
	case e.path == "" || e.path == "/":
		return true
	case n.path == "":
		return false
	case strings.HasSuffix(e.path, "/"):
		return strings.HasPrefix(n.path, e.path)
	}
	return e.path == n.path
}

// schemeMatches is CSP3 "scheme-part match": expression scheme a matches a
// URL of scheme b (with the http→https and ws→wss upgrades).
func schemeMatches(a, b string) bool {
	switch {
	case a == b:
		return true
	case a == "http":
		return b == "https"
	case a == "ws":
		return b == "wss" || b == "http" || b == "https"
	case a == "wss":
		return b == "https"
	}
	return false
}

// hostCovers reports whether host pattern e matches every host pattern n matches.
func hostCovers(e, n string) bool {
	if e == "*" {
		return true
	}
	if n == "*" {
		return false
	}
	if base, ok := strings.CutPrefix(e, "*."); ok {
		nb := strings.TrimPrefix(n, "*.")
		// *.zoom.us covers *.zoom.us, a.zoom.us and *.a.zoom.us, not zoom.us.
		return strings.HasSuffix(nb, "."+base) || (nb == base && strings.HasPrefix(n, "*."))
	}
	return e == n
}

// defaultPort is the port a URL of scheme has when it names none.
func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

func effectivePort(scheme, port string) string {
	if port == "" {
		return defaultPort(scheme)
	}
	if t := strings.TrimLeft(port, "0"); t != "" {
		return t
	}
	return "0"
}

func portSuffix(scheme, port string) string {
	if p := effectivePort(scheme, port); p != defaultPort(scheme) {
		return ":" + p
	}
	return ""
}

// hostMatches reports whether the concrete host h matches host pattern p.
func hostMatches(p, h string) bool {
	if p == "*" {
		return true
	}
	if base, ok := strings.CutPrefix(p, "*."); ok {
		return strings.HasSuffix(h, "."+base)
	}
	return p == h
}
