package proxy

import (
	"net/http"
	"strings"
)

// hasPathPrefix reports whether the upstream URL has a path that prefixes
// every forwarded one (http://app/prefix).
func (s *Site) hasPathPrefix() bool {
	return s.Upstream.Path != "" && s.Upstream.Path != "/"
}

// hasDotSegment reports whether the decoded path p (net/url has already
// turned %2e into . and %2f into /) has a "." or ".." segment, with
// backslashes read as slashes as some servers do. Forwarded below an
// upstream's path prefix, /..%2fadmin becomes /prefix/..%2fadmin, which an
// upstream that decodes and normalises serves as /admin: outside the part
// of the site the operator exposed. Browsers resolve dot segments before
// sending a request, so only hand-made requests have them, and they are
// refused (400) rather than normalised: a guess at how the upstream would
// read them could differ from what it does.
func hasDotSegment(p string) bool {
	if !strings.Contains(p, ".") {
		return false
	}
	for p != "" {
		i := strings.IndexAny(p, `/\`)
		seg := p
		if i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// refuseDotSegments answers a request whose path would escape the
// upstream's path prefix.
func refuseDotSegments(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte("Bad request: the path has a dot segment (. or .., possibly percent-encoded).\n"))
}
