package tlsconf

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RedirectToHTTPS answers every request with a 308 to the same host, path
// and query over HTTPS on port (omitted when empty or 443). 308 keeps the
// method and body, unlike 301. The Host header is checked to hold only
// host-name characters, so the redirect cannot be bent into another URL.
func RedirectToHTTPS(port string) http.Handler {
	if port == "443" {
		port = ""
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !validHost(host) {
			http.Error(w, "bad Host header", http.StatusBadRequest)
			return
		}
		switch {
		case port != "":
			host = net.JoinHostPort(host, port)
		case strings.Contains(host, ":"):
			host = "[" + host + "]"
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// validHost accepts host names and IP literals (IPv6 without brackets).
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

// HSTS returns a middleware that sets Strict-Transport-Security on
// responses to requests that arrived over TLS (r.TLS set): RFC 6797 tells
// browsers to ignore the header over plain HTTP, and sending it there would
// only mislead. maxAge <= 0 returns the handler unchanged (HSTS off).
func HSTS(maxAge time.Duration, includeSubDomains bool) func(http.Handler) http.Handler {
	if maxAge <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	value := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	if includeSubDomains {
		value += "; includeSubDomains"
	}
	hv := []string{value}
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil {
				h.ServeHTTP(w, r)
				return
			}
			// Set when the headers go out, so an upstream's own header
			// (copied in by the proxy) is replaced rather than doubled.
			hw := &hstsWriter{ResponseWriter: w, value: hv}
			h.ServeHTTP(hw, r)
			hw.set() // a handler that wrote nothing: the server's implicit 200

		})
	}
}

type hstsWriter struct {
	http.ResponseWriter
	value []string
	done  bool
}

func (h *hstsWriter) set() {
	if !h.done {
		h.done = true
		h.Header()["Strict-Transport-Security"] = h.value
	}
}

func (h *hstsWriter) WriteHeader(code int) {
	h.set()
	h.ResponseWriter.WriteHeader(code)
}

func (h *hstsWriter) Write(b []byte) (int, error) {
	h.set()
	return h.ResponseWriter.Write(b)
}

func (h *hstsWriter) Flush() {
	h.set()
	if f, ok := h.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController (hijacking for websockets) the
// underlying writer.
func (h *hstsWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
