package proxy

import (
	"fmt"
	"html"
	"net/http"
)

// writeClientErrorPage answers a request whose body could not be read.
func writeClientErrorPage(w http.ResponseWriter, id string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "Bad request: the request body is malformed or incomplete (request id %s).\n", id)
}

// writeErrorPage answers with a short page that says what happened and
// carries the request id, which also appears in the proxy's log line.
func writeErrorPage(w http.ResponseWriter, code int, id string) {
	what := "The site's server could not be reached or did not answer properly."
	if code == http.StatusGatewayTimeout {
		what = "The site's server took too long to answer."
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%d %s</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">
<h1>%d %s</h1>
<p>%s Please try again in a moment.</p>
<p>If this keeps happening, give the site's operator this request id: <code>%s</code></p>
</body></html>
`, code, http.StatusText(code), code, http.StatusText(code), what, html.EscapeString(id))
}
