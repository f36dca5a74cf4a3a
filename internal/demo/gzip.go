package demo

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

// gzipPage serves a full document compressed with gzip when the request
// accepts it, the way many origins and CDNs do. The proxy has to decode it,
// inject the loader and encode it again; a browser that shows garbage or a
// page without the loader points at the encoding step.
func (s *shop) gzipPage(w http.ResponseWriter, r *http.Request) {
	gz := acceptsGzip(r.Header.Values("Accept-Encoding"))
	body, err := s.renderBytes(r, "gzip", "Gzip page · Acme Outdoor Shop", gz)
	if err != nil {
		s.logger.Error("demo: render page", "page", "gzip", "err", err)
		http.Error(w, "demo page failed to render; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Vary", "Accept-Encoding")
	if !gz {
		writeHTML(w, http.StatusOK, body)
		return
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(body) // writes to a bytes.Buffer do not fail
	if err := zw.Close(); err != nil {
		s.logger.Error("demo: gzip page", "err", err)
		http.Error(w, "demo page failed to compress; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	writeHTML(w, http.StatusOK, buf.Bytes())
}

// acceptsGzip reports whether Accept-Encoding values allow gzip (RFC 9110
// section 12.5.3): gzip or x-gzip with a non-zero q, or "*" with a non-zero
// q when gzip is not listed by name.
func acceptsGzip(values []string) bool {
	named, star := false, false
	gzipOK, starOK := false, false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			ok := qualityNonZero(params)
			switch coding {
			case "gzip", "x-gzip":
				named = true
				gzipOK = gzipOK || ok
			case "*":
				star = true
				starOK = starOK || ok
			}
		}
	}
	if named {
		return gzipOK
	}
	return star && starOK
}

// qualityNonZero reports whether the parameters of one Accept-Encoding
// element leave it acceptable: no q, or a q that is not zero.
func qualityNonZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		return err == nil && q > 0
	}
	return true
}
