package proxy

import (
	"bytes"
	"html"
	"net/http"
	"strings"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
)

// ReasonCSP is the injection outcome of a page whose policy cannot be made
// to allow the loader; the page is passed through with its policy as is.
const ReasonCSP = "csp_skipped"

// mergeCSP merges the Zoom sources into the response's CSP headers (adding
// the site's baseline policy first when there is none) and returns the tag
// to insert (tag, with the nonce the policies need, if any) and the merger for
// <meta> policies in the page. skip is non-empty when no merge can allow
// the loader; the headers are then left as they were.
func (p *Proxy) mergeCSP(x *exchange, c *CSP, tag []byte, h http.Header) (_ []byte, meta func([]byte) []byte, skip string) {
	if c.Baseline != "" && len(h.Values(csp.HeaderEnforce)) == 0 && len(h.Values(csp.HeaderReportOnly)) == 0 {
		h.Set(csp.HeaderEnforce, c.Baseline)
	}
	self := scheme(x.in, x.trusted) + "://" + x.in.Host
	r := c.Merger.Headers(h, self)
	p.opts.CSPMetrics.ObserveMerge(x.site.Name, r)
	if r.Outcome == csp.OutcomeSkipped {
		return nil, nil, r.Reason
	}
	if r.Nonce != "" {
		tag = withNonce(tag, r.Nonce, self)
	}
	meta = func(policy []byte) []byte {
		mr := c.Merger.Meta(string(policy), self)
		p.opts.CSPMetrics.ObserveMerge(x.site.Name, mr)
		if mr.Outcome == csp.OutcomeSkipped || mr.Value == string(policy) {
			return nil
		}
		return []byte(mr.Value)
	}
	return tag, meta, ""
}

// withNonce returns the loader tag with a nonce attribute and, when its src
// is a path, that src made absolute on the page's own origin (self). A
// nonce is a credential: with a relative src, a <base href> injected into
// the page ahead of the tag would send the nonced request, and so the
// trust, to another origin; an absolute src cannot be moved.
func withNonce(tag []byte, nonce, self string) []byte {
	end := bytes.LastIndex(tag, []byte("></script>"))
	if end < 0 {
		return tag
	}
	const srcAttr = `src="/`
	origin := ""
	at := bytes.Index(tag, []byte(srcAttr))
	if at >= 0 && at+len(srcAttr) <= end && tag[at+len(srcAttr)] != '/' {
		origin = html.EscapeString(self)
	} else {
		at = -1
	}
	out := make([]byte, 0, len(tag)+len(origin)+len(nonce)+10)
	if at >= 0 {
		out = append(out, tag[:at+len(`src="`)]...)
		out = append(out, origin...)
		out = append(out, tag[at+len(`src="`):end]...)
	} else {
		out = append(out, tag[:end]...)
	}
	out = append(out, ` nonce="`...)
	out = append(out, nonce...)
	out = append(out, '"')
	return append(out, tag[end:]...)
}

// assetHeaders lets the agent's view, rendered from a Zoom origin, load
// the site's stylesheets, fonts and images: Cross-Origin-Resource-Policy:
// cross-origin and, for "zoom", Access-Control-Allow-Origin echoing a Zoom
// origin (for "any", "*"). Only on successful static asset responses that
// set neither themselves, never with credentials, never on HTML.
func (p *Proxy) assetHeaders(x *exchange, res *http.Response) {
	mode := x.site.CrossOriginAssets
	if mode == "" || mode == "off" || res.StatusCode < 200 || res.StatusCode >= 300 || !isStaticAsset(res.Header.Get("Content-Type")) {
		return
	}
	h := res.Header
	if h.Get("Cross-Origin-Resource-Policy") == "" {
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Credentials") != "" {
		return // the site's own CORS; and never with credentials
	}
	switch mode {
	case "any":
		h.Set("Access-Control-Allow-Origin", "*")
	case "zoom":
		// The answer depends on Origin, so caches must key on it.
		if !varyHas(h, "Origin") {
			h.Add("Vary", "Origin")
		}
		if origin := x.in.Header.Get("Origin"); isZoomOrigin(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
		}
	}
}

func isStaticAsset(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return strings.HasPrefix(ct, "text/css") || strings.HasPrefix(ct, "font/") ||
		strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "application/font-") ||
		strings.HasPrefix(ct, "application/x-font-") || strings.HasPrefix(ct, "application/vnd.ms-fontobject")
}

// isZoomOrigin: https://zoom.us or https://<anything>.zoom.us, no port.
func isZoomOrigin(origin string) bool {
	host, ok := strings.CutPrefix(origin, "https://")
	return ok && (host == "zoom.us" || strings.HasSuffix(host, ".zoom.us") && !strings.ContainsAny(host, ":/@"))
}
