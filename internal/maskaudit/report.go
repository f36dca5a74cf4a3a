package maskaudit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// Bounds of a report. bootstrap.js stays within them; anything beyond is
// refused, not cut, except the path, which is cut (a long path is still a
// useful key, and cutting cannot make a field value appear).
const (
	// MaxBody is the largest report body (413 beyond).
	MaxBody = 8 << 10
	// MaxFields is the most fields one report may list.
	MaxFields = 20
	// MaxSelector is the longest selector, in bytes.
	MaxSelector = 200
	// MaxPath is the longest path kept, in bytes.
	MaxPath = 256
)

// report is the body bootstrap.js sends:
//
//	{"path": "/checkout", "fields": [{"kind": "ssn", "selector": "form#pay input[name=\"ssn\"]"}]}
//
// It has no member for a field's value, and unknown members are refused,
// so a value cannot be sent by mistake and kept.
type report struct {
	Path   string  `json:"path"`
	Fields []field `json:"fields"`
}

type field struct {
	Kind     string `json:"kind"`
	Selector string `json:"selector"`
}

// parseReport decodes and checks a report body. On success the path has
// no query or fragment and at most MaxPath bytes, there are 1 to MaxFields
// fields, each (kind, selector) once, every kind is in Kinds and every
// selector is 1 to MaxSelector bytes of printable UTF-8.
func parseReport(body []byte) (report, error) {
	var rep report
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return report{}, fmt.Errorf("not a mask report: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return report{}, errors.New("not a mask report: data after the object")
	}
	path, err := cleanPath(rep.Path)
	if err != nil {
		return report{}, err
	}
	rep.Path = path
	if len(rep.Fields) == 0 {
		return report{}, errors.New("no fields")
	}
	if len(rep.Fields) > MaxFields {
		return report{}, fmt.Errorf("%d fields, at most %d", len(rep.Fields), MaxFields)
	}
	out := rep.Fields[:0]
	for i, f := range rep.Fields {
		if !knownKind(f.Kind) {
			return report{}, fmt.Errorf("fields[%d].kind: unknown kind %q", i, bound(f.Kind))
		}
		if f.Selector == "" || len(f.Selector) > MaxSelector || !printable(f.Selector) {
			return report{}, fmt.Errorf("fields[%d].selector: want 1 to %d bytes of printable text", i, MaxSelector)
		}
		dup := false
		for _, o := range out {
			dup = dup || o == f
		}
		if !dup {
			out = append(out, f)
		}
	}
	rep.Fields = out
	return rep, nil
}

// cleanPath drops the query and fragment (a page's query may carry
// personal data; bootstrap.js sends location.pathname only, and this holds
// whatever a client sends) and cuts the path to MaxPath bytes.
func cleanPath(p string) (string, error) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		return "", errors.New("path: want an absolute path")
	}
	if len(p) > MaxPath {
		p = p[:MaxPath]
		for !utf8.ValidString(p) {
			p = p[:len(p)-1]
		}
	}
	if !printable(p) {
		return "", errors.New("path: want printable text")
	}
	return p, nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// bound cuts a client's string for an error message.
func bound(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}

// reportHandler is one site's POST {prefix}/mask-report endpoint.
type reportHandler struct {
	store *Store
	site  string
	opts  HandlerOptions
}

// ServeHTTP answers 204 for an accepted report, 405 for a method other
// than POST, 403 for a request that is not from a page of the same
// origin, 429 over the client's rate, 415 for a body that is not JSON, 413
// for a body over MaxBody and 400 for a malformed report.
func (h *reportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if !token.SameOrigin(r, h.scheme(r)) {
		http.Error(w, "mask reports are accepted from the site's own pages only", http.StatusForbidden)
		return
	}
	if ok, wait := h.store.limiter.Allow(h.clientAddr(r)); !ok {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(wait), 10))
		http.Error(w, "too many reports", http.StatusTooManyRequests)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		http.Error(w, "expected application/json", http.StatusUnsupportedMediaType)
		return
	}
	if r.ContentLength > MaxBody {
		http.Error(w, "report too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "report too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read report", http.StatusBadRequest)
		return
	}
	rep, err := parseReport(body)
	if err != nil {
		http.Error(w, "malformed mask report: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.store.record(r.Context(), h.site, rep)
	w.WriteHeader(http.StatusNoContent)
}

func (h *reportHandler) scheme(r *http.Request) string {
	if h.opts.Scheme != nil {
		return h.opts.Scheme(r)
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func (h *reportHandler) clientAddr(r *http.Request) netip.Addr {
	if h.opts.ClientAddr != nil {
		return h.opts.ClientAddr(r)
	}
	return token.RemoteAddr(r)
}
