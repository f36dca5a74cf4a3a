package token

import (
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin reports whether r comes from a page of the origin it is sent
// to: scheme (from the caller, who knows whether TLS ended here or at a
// trusted proxy) and r.Host.
//
// Browsers send Sec-Fetch-Site to trustworthy origins and Origin on every
// POST; when present, each must agree. A request with neither is not from a
// browser page of this site (or from a browser too old to tell), and is
// refused: customer tokens are for the site's own pages only.
//
// "Origin: null" is accepted only with "Sec-Fetch-Site: same-origin". A
// same-origin page under "Referrer-Policy: no-referrer" sends that pair
// (the Fetch standard serialises its origin as "null" under that policy),
// while every other sender of "null" — a sandboxed iframe, a data: or
// about: document, a request redirected across origins — has an opaque
// origin or a cross-origin redirect chain, for which browsers send
// "Sec-Fetch-Site: cross-site". Without Sec-Fetch-Site (plain HTTP on a
// name other than localhost, old browsers) "null" proves nothing and is
// refused.
func SameOrigin(r *http.Request, scheme string) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	if site == "" && origin == "" {
		return false
	}
	if site != "" && site != "same-origin" {
		return false
	}
	if origin == "null" {
		return site == "same-origin"
	}
	return origin == "" || originMatches(origin, scheme, r.Host)
}

// notCrossOrigin is the weaker check for credentials a browser attaches by
// itself (the session cookie, an auth proxy's cookie turned into an identity
// header): a request that says it is cross-site is refused, one that says
// nothing (a script, curl) is allowed, since no page is involved.
func notCrossOrigin(r *http.Request, scheme string) bool {
	if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
		return true
	}
	return SameOrigin(r, scheme)
}

func originMatches(origin, scheme, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return false // includes the opaque origin "null"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return strings.EqualFold(normHost(u.Host, scheme), normHost(host, scheme))
}

// normHost drops the scheme's default port, so https://a.example and
// Host: a.example:443 compare equal.
func normHost(h, scheme string) string {
	switch {
	case strings.EqualFold(scheme, "https"):
		h = strings.TrimSuffix(h, ":443")
	case strings.EqualFold(scheme, "http"):
		h = strings.TrimSuffix(h, ":80")
	}
	return strings.TrimSuffix(h, ".")
}

// RequestScheme is the default scheme function: "https" when the request
// arrived over TLS here, else "http". Behind a TLS-terminating ingress the
// caller passes a function that trusts X-Forwarded-Proto from trusted peers.
func RequestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
