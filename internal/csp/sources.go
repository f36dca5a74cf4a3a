// Package csp parses and merges Content-Security-Policy so that the
// Cobrowse loader and the Zoom SDK can run on a page without the page's own
// policy being weakened anywhere else, and collects the violation reports
// that tell an operator which Zoom source is still missing.
//
// The invariant every merge keeps: for each directive cobrowse touches, the
// merged policy allows everything the original allowed, and at most the
// original plus the Zoom sources, the same-origin reserved prefix and one
// nonce carried only by the injected tag. Nothing else changes: directives
// cobrowse does not touch, and whole policies that need no change, are
// serialised byte for byte as they arrived.
package csp

import (
	"fmt"
	"slices"
	"strings"
)

// Sources maps a directive name (lower case) to the source expressions
// cobrowse needs in it. The zero value needs nothing.
type Sources map[string][]string

// DefaultSources returns the list docs/zoom.md gives as a reasonable default. Zoom
// publishes no complete list, so config can add to it (With) and the
// violation reports (ReportHandler) show what is still blocked.
//
// media-src is not in the list: docs/zoom.md names no media source for the SDK
// (audio and video are not synchronised to the agent), so a site's media-src
// stays as it is unless config adds to it.
func DefaultSources() Sources {
	return Sources{
		"script-src":  {"https://*.zoom.us"},
		"connect-src": {"https://*.zoom.us", "wss://*.zoom.us"},
		"img-src":     {"https://*.zoom.us", "data:", "blob:"},
		"style-src":   {"https://*.zoom.us", "'unsafe-inline'"},
		"font-src":    {"https://*.zoom.us", "data:"},
		"frame-src":   {"https://*.zoom.us"},
		"worker-src":  {"blob:"},
	}
}

// With returns a copy of s with extra added: directive names are lower-cased,
// sources already listed are not repeated, and nothing of s is ever dropped
// (config can widen the Zoom list, never narrow it). Validate extra with
// ValidateExtra first; Merge* also skips any source ValidateExtra refuses,
// so a mistake in config can never add `*` or an unsafe keyword.
func (s Sources) With(extra map[string][]string) Sources {
	out := make(Sources, len(s)+len(extra))
	add := func(dir string, srcs []string) {
		dir = strings.ToLower(dir)
		for _, src := range srcs {
			if !slices.Contains(out[dir], src) {
				out[dir] = append(out[dir], src)
			}
		}
	}
	for dir, srcs := range s {
		add(dir, srcs)
	}
	for dir, srcs := range extra {
		add(dir, srcs)
	}
	return out
}

// sourceKind classifies a source expression.
type sourceKind int

const (
	kindInvalid sourceKind = iota
	kindKeyword            // 'self', 'unsafe-inline', … (keyword holds it, lower case, quoted)
	kindNonce              // 'nonce-…' (value holds the base64 value)
	kindHash               // 'sha256-…' and the like
	kindScheme             // data:, https: (scheme holds it, lower case)
	kindStar               // *
	kindHost               // [scheme://]host[:port][/path]
)

// source is one parsed source expression.
type source struct {
	kind    sourceKind
	keyword string // kindKeyword: lower case, with quotes
	value   string // kindNonce, kindHash: the base64 value
	scheme  string // kindScheme, kindHost (may be empty): lower case
	host    string // kindHost: lower case, may start with "*." or be "*"
	port    string // kindHost: digits, "*" or empty
	path    string // kindHost: empty or starting with "/"
}

// knownKeyword reports whether k (lower case, quoted) is a CSP keyword-source.
func knownKeyword(k string) bool {
	switch k {
	case "'self'", "'none'", "'unsafe-inline'", "'unsafe-eval'", "'strict-dynamic'",
		"'unsafe-hashes'", "'report-sample'", "'unsafe-allow-redirects'",
		"'wasm-unsafe-eval'", "'trusted-types-eval'", "'inline-speculation-rules'",
		"'report-sha256'", "'report-sha384'", "'report-sha512'":
		return true
	}
	return false
}

// parseSource parses expr by the CSP Level 3 source-expression grammar.
// Anything that does not fit is kindInvalid, which matches nothing — the
// way browsers treat it.
func parseSource(expr string) source {
	if expr == "*" {
		return source{kind: kindStar}
	}
	if len(expr) >= 2 && expr[0] == '\'' && expr[len(expr)-1] == '\'' {
		inner := expr[1 : len(expr)-1]
		lower := strings.ToLower(inner)
		if v, ok := strings.CutPrefix(lower, "nonce-"); ok && v != "" {
			if v = inner[len("nonce-"):]; isBase64Value(v) {
				return source{kind: kindNonce, value: v}
			}
			return source{}
		}
		for _, alg := range []string{"sha256-", "sha384-", "sha512-"} {
			if strings.HasPrefix(lower, alg) {
				if v := inner[len(alg):]; isBase64Value(v) {
					return source{kind: kindHash, value: v}
				}
				return source{}
			}
		}
		if k := "'" + lower + "'"; knownKeyword(k) {
			return source{kind: kindKeyword, keyword: k}
		}
		return source{}
	}
	return parseHostOrScheme(expr)
}

// parseHostOrScheme parses scheme-source and host-source.
func parseHostOrScheme(expr string) source {
	rest := expr
	var s source
	if i := strings.Index(rest, "://"); i >= 0 {
		if !isScheme(rest[:i]) {
			return source{}
		}
		s.scheme, rest = strings.ToLower(rest[:i]), rest[i+3:]
	} else if strings.HasSuffix(rest, ":") && isScheme(rest[:len(rest)-1]) {
		return source{kind: kindScheme, scheme: strings.ToLower(rest[:len(rest)-1])}
	}
	host := rest
	if i := strings.IndexAny(rest, ":/"); i >= 0 {
		host, rest = rest[:i], rest[i:]
	} else {
		rest = ""
	}
	if !isHostPart(host) {
		return source{}
	}
	s.kind, s.host = kindHost, strings.ToLower(host)
	if p, ok := strings.CutPrefix(rest, ":"); ok {
		port := p
		if i := strings.IndexByte(p, '/'); i >= 0 {
			port, rest = p[:i], p[i:]
		} else {
			rest = ""
		}
		if port != "*" && (port == "" || strings.Trim(port, "0123456789") != "") {
			return source{}
		}
		s.port = port
	}
	if rest != "" {
		if !isPathPart(rest) {
			return source{}
		}
		s.path = rest
	}
	return s
}

// isScheme matches scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isHostPart matches host-part = "*" / [ "*." ] 1*host-char *( "." 1*host-char ) [ "." ].
func isHostPart(h string) bool {
	if h == "*" {
		return true
	}
	h = strings.TrimPrefix(h, "*.")
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// isPathPart matches an RFC 3986 path-absolute without ";" and "," (which
// would end the directive or the policy).
func isPathPart(p string) bool {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case isAlpha(c) || isDigit(c) || strings.IndexByte("/-._~!$&'()*+=:@", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// isBase64Value matches base64-value = 1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" ) *2"=".
// Only such nonces are reused in the injected tag, so a nonce can never
// carry a quote or a space into HTML.
func isBase64Value(v string) bool {
	body := strings.TrimRight(v, "=")
	if body == "" || len(v)-len(body) > 2 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// ValidateSource reports whether expr is a well-formed CSP Level 3 source
// expression: a quoted known keyword, 'nonce-…' or 'sha256/384/512-…' with a
// base64 value, a scheme-source ("data:"), or a host-source with optional
// scheme, "*." wildcard, port and path.
func ValidateSource(expr string) error {
	if expr == "" {
		return fmt.Errorf("empty source expression")
	}
	if k := "'" + strings.ToLower(expr) + "'"; knownKeyword(k) {
		// A host named "self" is valid grammar but never what was meant.
		return fmt.Errorf("source %q: keywords are quoted: write %s", expr, k)
	}
	if parseSource(expr).kind != kindInvalid {
		return nil
	}
	if expr[0] == '\'' {
		return fmt.Errorf("source %q: not a known quoted keyword, 'nonce-BASE64' or 'sha256-BASE64'", expr)
	}
	return fmt.Errorf("source %q: not a scheme (\"data:\") or host (\"https://*.example.com:443/path/\")", expr)
}

// ValidateDirective reports whether extra sources may be configured for the
// directive: a fetch directive the merge knows how to widen. default-src is
// refused because widening it would widen every directive that falls back
// to it; script-src-attr because cobrowse adds no inline event handlers.
func ValidateDirective(name string) error {
	switch name {
	case "script-src", "script-src-elem", "style-src", "style-src-elem", "style-src-attr",
		"connect-src", "img-src", "font-src", "frame-src", "child-src", "worker-src",
		"media-src", "manifest-src":
		return nil
	}
	return fmt.Errorf("directive %q: extra sources can be set only for script-src, script-src-elem, style-src, style-src-elem, style-src-attr, connect-src, img-src, font-src, frame-src, child-src, worker-src, media-src or manifest-src", name)
}

// ValidateExtra reports whether expr may be added to directive by config.
// On top of ValidateSource it refuses everything that would widen a policy
// beyond "load this Zoom resource": `*` and bare network schemes (https:,
// wss: …), 'none', nonces and hashes (a static nonce is no nonce, and adding
// a hash would switch off a site's 'unsafe-inline'), 'strict-dynamic'
// (switches off host sources), the eval keywords anywhere, and
// 'unsafe-inline'/'unsafe-hashes' outside the style directives.
func ValidateExtra(directive, expr string) error {
	if err := ValidateDirective(directive); err != nil {
		return err
	}
	if err := ValidateSource(expr); err != nil {
		return err
	}
	s := parseSource(expr)
	switch s.kind {
	case kindStar:
		return fmt.Errorf("source %q in %s: `*` allows any host; list the Zoom hosts instead", expr, directive)
	case kindNonce, kindHash:
		return fmt.Errorf("source %q in %s: nonces and hashes cannot be configured (the proxy handles nonces per response)", expr, directive)
	case kindScheme:
		switch s.scheme {
		case "http", "https", "ws", "wss":
			return fmt.Errorf("source %q in %s: a bare network scheme allows any host; list the Zoom hosts instead", expr, directive)
		}
	case kindHost:
		if s.host == "*" {
			return fmt.Errorf("source %q in %s: a `*` host allows any host; use a \"*.\" wildcard under a Zoom domain", expr, directive)
		}
	case kindKeyword:
		switch s.keyword {
		case "'self'":
			return nil
		case "'unsafe-inline'":
			if strings.HasPrefix(directive, "style-src") {
				return nil
			}
			return fmt.Errorf("source %q in %s: 'unsafe-inline' is allowed only for style directives", expr, directive)
		}
		return fmt.Errorf("source %q in %s: this keyword is never added by the proxy", expr, directive)
	}
	return nil
}
