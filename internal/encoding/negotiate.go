package encoding

import "strings"

// serverOrder is our preference among codings the client weighs equally:
// best ratio per CPU first.
var serverOrder = [...]coding{codingZstd, codingBr, codingGzip, codingDeflate}

// Negotiate chooses the coding for a response from all of the request's
// Accept-Encoding header values (a request may carry several lines), per
// RFC 9110 12.5.3:
//
//   - each member's weight is its q parameter in thousandths, 1 when absent;
//     q=0 means "not acceptable"; a malformed q counts as 0 for that member
//     only; a coding listed twice takes its higher weight;
//   - "*" gives its weight to every coding not listed by name;
//   - tokens and parameter names are case-insensitive, whitespace around
//     separators is ignored, and unknown codings are skipped;
//   - "x-gzip" counts as "gzip".
//
// Among the supported codings with the highest weight, prefer (a Normalize
// result, usually the upstream's coding, so that re-encoding keeps what the
// origin chose) wins; otherwise zstd, br, gzip, deflate in that order. If
// identity is listed (or covered by "*") with a higher weight than every
// supported coding, or nothing supported is acceptable, or the header is
// absent, Negotiate returns "" (identity).
//
// Negotiate also returns "" when the client excludes identity too
// ("identity;q=0" with nothing else acceptable). RFC 9110 allows a 415
// there, but an unencoded page is more useful to a browser than an error,
// and the origin would have answered the same way.
//
// Negotiate parses in place and does not allocate. A comma inside a quoted
// parameter value would split the member; no coding takes such parameters.
func Negotiate(acceptEncoding []string, prefer string) string {
	const unset = -1
	var q [codingZstd + 1]int // weight per coding, indexed by coding; [codingIdentity] is identity
	for i := range q {
		q[i] = unset
	}
	star := unset
	for _, line := range acceptEncoding {
		for s := line; s != ""; {
			var member string
			member, s, _ = strings.Cut(s, ",")
			name, params, _ := strings.Cut(member, ";")
			name = trimOWS(name)
			if name == "" {
				continue
			}
			w := weight(params)
			if name == "*" {
				star = max(star, w)
				continue
			}
			if k, ok := lookupToken(name); ok {
				q[k] = max(q[k], w)
			}
		}
	}
	effective := func(k coding) int {
		if q[k] != unset {
			return q[k]
		}
		return star // unset (-1) when "*" is absent too
	}

	best, bestQ := codingIdentity, 0
	for _, k := range serverOrder {
		if w := effective(k); w > bestQ {
			best, bestQ = k, w
		}
	}
	if bestQ == 0 {
		return ""
	}
	if p, err := parseCoding(prefer); err == nil && p != codingIdentity && effective(p) == bestQ {
		best = p
	}
	// Identity not mentioned at all is acceptable but unweighted; it only
	// beats a coding the client explicitly weighs lower than it.
	if effective(codingIdentity) > bestQ {
		return ""
	}
	return best.String()
}

// Reencoding chooses the coding in which a page that came from the upstream
// in coding upstream is re-encoded for a client that sent acceptEncoding:
// Negotiate, preferring the upstream's coding, except that where that gives
// br it gives zstd, else gzip, if the client accepts that as much as br
// (unless Options.KeepBrotli). Every browser that accepts br accepts gzip,
// and brotli is by far the costliest coding to produce on the fly
// (DefaultBrotliQuality).
func (c *Codecs) Reencoding(acceptEncoding []string, upstream string) string {
	k := Negotiate(acceptEncoding, upstream)
	if k != "br" || c.opts.KeepBrotli {
		return k
	}
	for _, cheaper := range [...]string{"zstd", "gzip"} {
		if Negotiate(acceptEncoding, cheaper) == cheaper {
			return cheaper
		}
	}
	return k
}

// weight returns the q parameter in params (the text after the first ';'
// of a member) in thousandths, 1000 when there is none and 0 when it is
// malformed. Other parameters are ignored.
func weight(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if equalFoldASCII(trimOWS(name), "q") {
			return parseQ(trimOWS(value))
		}
	}
	return 1000
}

// parseQ parses an RFC 9110 12.4.2 qvalue, ( "0" [ "." 0*3DIGIT ] ) /
// ( "1" [ "." 0*3("0") ] ), into thousandths; anything else is 0.
func parseQ(s string) int {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0
	}
	whole := int(s[0] - '0')
	frac := s[1:]
	if frac == "" {
		return whole * 1000
	}
	if frac[0] != '.' || len(frac) > 4 {
		return 0
	}
	v, scale := 0, 100
	for i := 1; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0
		}
		v += int(c-'0') * scale
		scale /= 10
	}
	if whole == 1 {
		if v != 0 {
			return 0
		}
		return 1000
	}
	return v
}
