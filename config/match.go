package config

import (
	"path"
	"strings"
)

// MatchPath reports whether the URL path p matches an inject pattern.
//
// A pattern is a path.Match pattern, so "*" matches within one path segment
// ("/blog/*" matches "/blog/a" but not "/blog/a/b"). A pattern ending in
// "/**" matches its prefix itself and everything below it: "/account/**"
// matches "/account", "/account/" and "/account/orders/7", never
// "/accounts". The prefix may itself contain wildcards ("/shop/*/cart/**").
// A malformed pattern matches nothing; Validate rejects such patterns.
func MatchPath(pattern, p string) bool {
	prefix, deep := strings.CutSuffix(pattern, "/**")
	if !deep {
		ok, _ := path.Match(pattern, p)
		return ok
	}
	// Compare the prefix with as many leading segments of p as it has.
	n := strings.Count(prefix, "/")
	head := p
	if idx := nthIndex(p, '/', n); idx >= 0 {
		head = p[:idx]
	}
	if prefix == "" {
		return strings.HasPrefix(p, "/")
	}
	ok, _ := path.Match(prefix, head)
	return ok
}

// nthIndex returns the index of the (n+1)th occurrence of c in s, or -1.
func nthIndex(s string, c byte, n int) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}
