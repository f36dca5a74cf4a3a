// Package demo is the demo shop that `cobrowse-proxy demo` puts behind the
// proxy: ordinary pages, a checkout form with sensitive fields, a
// cross-origin iframe, an htmx-style fragment, server-sent events, a gzip
// page and a websocket echo.
//
// Each page exercises one thing the proxy has to get right, so a newcomer
// can watch it work in a browser: the loader is injected into every full
// document but not into the fragment, the checkout fields are masked by the
// central policy, the iframe is a second host the proxy also serves, the
// event stream and the websocket pass through unbuffered, and the gzip page
// is decoded, injected and re-encoded.
//
// The package holds no state between requests; everything it serves is
// embedded in the binary.
package demo
