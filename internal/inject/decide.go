package inject

import (
	"mime"
	"net/http"
	"strings"
)

// Policy is a site's injection policy.
type Policy struct {
	// Enabled turns injection on for the site.
	Enabled bool
	// Iframes allows injection into documents requested as iframes/frames.
	Iframes bool
	// PathAllowed reports whether the request path may be injected (the
	// site's include/exclude patterns); nil allows every path.
	PathAllowed func(path string) bool
}

// Decision is the outcome of Decide.
type Decision struct {
	// Inject is true when the body should go through a Rewriter.
	Inject bool
	// RequireDocument is true when the request carried no Sec-Fetch-Dest,
	// so only the body itself can tell a page from a fragment.
	RequireDocument bool
	// Frame is true for a document requested as an iframe or frame.
	Frame bool
	// Reason names why the response is not injected (a metric label);
	// empty when Inject is true.
	Reason string
}

// Skip reasons, used as metric labels.
const (
	ReasonDisabled      = "disabled"
	ReasonMethod        = "method"
	ReasonStatus        = "status"
	ReasonContentType   = "content_type"
	ReasonCharset       = "charset"
	ReasonAttachment    = "attachment"
	ReasonEncoding      = "encoding"
	ReasonNotNavigation = "not_navigation"
	ReasonFragment      = "fragment_request"
	ReasonIframe        = "iframe_disabled"
	ReasonPath          = "path_excluded"
)

// Decide says whether res, the upstream's answer to req, is an HTML document
// that should carry the loader. decodable reports whether a Content-Encoding
// value can be undone for rewriting.
//
// Only navigations are injected: a fetch or XHR that returns HTML (htmx,
// Turbo, plain fetch) must not get a second copy of the loader. Browsers send
// Sec-Fetch-Dest only to secure origins, so without it the decision is left
// to the body (Decision.RequireDocument).
func Decide(req *http.Request, res *http.Response, p Policy, decodable func(string) bool) Decision {
	if !p.Enabled {
		return Decision{Reason: ReasonDisabled}
	}
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		return Decision{Reason: ReasonMethod}
	}
	if !injectableStatus(res.StatusCode) {
		return Decision{Reason: ReasonStatus}
	}
	if r := contentTypeReason(res.Header.Get("Content-Type")); r != "" {
		return Decision{Reason: r}
	}
	if cd := res.Header.Get("Content-Disposition"); cd != "" {
		if t, _, _ := mime.ParseMediaType(cd); t == "attachment" || (t == "" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(cd)), "attachment")) {
			return Decision{Reason: ReasonAttachment}
		}
	}
	if !decodable(res.Header.Get("Content-Encoding")) {
		return Decision{Reason: ReasonEncoding}
	}
	if isFragmentRequest(req.Header) {
		return Decision{Reason: ReasonFragment}
	}
	d := Decision{Inject: true}
	switch dest := req.Header.Get("Sec-Fetch-Dest"); dest {
	case "document":
	case "iframe", "frame":
		if !p.Iframes {
			return Decision{Reason: ReasonIframe}
		}
		d.Frame = true
	case "":
		d.RequireDocument = true
	default:
		return Decision{Reason: ReasonNotNavigation}
	}
	if p.PathAllowed != nil && !p.PathAllowed(req.URL.Path) {
		return Decision{Reason: ReasonPath}
	}
	return d
}

// injectableStatus: pages a user can land on, including error pages (so a
// session survives a 404), but not 204/206/304 and redirects.
func injectableStatus(code int) bool {
	switch {
	case code == http.StatusNoContent, code == http.StatusPartialContent:
		return false
	case code >= 200 && code < 300, code >= 400 && code < 600:
		return true
	}
	return false
}

func contentTypeReason(ct string) string {
	if ct == "" {
		return ReasonContentType
	}
	// Fast path for the common exact values, without allocating.
	base, params, _ := strings.Cut(ct, ";")
	base = strings.TrimSpace(base)
	if !strings.EqualFold(base, "text/html") && !strings.EqualFold(base, "application/xhtml+xml") {
		return ReasonContentType
	}
	if params == "" || !mentionsWideCharset(params) {
		// Browsers render malformed parameters as HTML too, so only a
		// charset the tokenizer cannot read is reason to skip.
		return ""
	}
	_, ps, err := mime.ParseMediaType(ct)
	if err != nil {
		return ReasonCharset // a wide charset we cannot be sure about
	}
	cs := strings.ToLower(ps["charset"])
	if strings.HasPrefix(cs, "utf-16") || strings.HasPrefix(cs, "utf-32") ||
		cs == "ucs-2" || cs == "unicode" || cs == "utf-7" {
		return ReasonCharset
	}
	return ""
}

// mentionsWideCharset is a cheap, allocation-free pre-check for charsets
// that are not ASCII-compatible.
func mentionsWideCharset(params string) bool {
	for _, cs := range [...]string{"utf-16", "utf-32", "ucs-2", "unicode", "utf-7"} {
		if containsFold(params, cs) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII sub,
// ignoring ASCII case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// AcceptsHTML reports whether h's Accept names text/html, as a browser's
// navigation does (without Sec-Fetch-Dest, the one sign of a navigation a
// request carries), without allocating.
func AcceptsHTML(h http.Header) bool {
	for _, v := range h.Values("Accept") {
		if containsFold(v, "text/html") {
			return true
		}
	}
	return false
}

// isFragmentRequest recognises requests that libraries make for partial
// HTML, for browsers and servers that send no Sec-Fetch headers.
func isFragmentRequest(h http.Header) bool {
	// Canonical spellings, so Header.Get does not allocate.
	return h.Get("Hx-Request") != "" || // htmx
		h.Get("Turbo-Frame") != "" || // Hotwire Turbo
		h.Get("X-Up-Target") != "" || // Unpoly
		h.Get("X-Pjax") != "" ||
		strings.EqualFold(h.Get("X-Requested-With"), "XMLHttpRequest")
}
