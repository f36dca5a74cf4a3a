package csp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

// ReportHandler receives CSP violation reports at POST {prefix}/csp-report
// (the report-uri the merge adds). Zoom publishes no complete CSP list, so
// these reports are how an operator learns which Zoom source a site's
// policy still blocks: the ones that involve cobrowse are counted in
// Metrics.Violations and logged at warn; the site's own violations are
// accepted and dropped.
//
// Reports are unauthenticated, so everything is bounded: the body size,
// the rate per client, the number of clients tracked, and the metric
// labels. Log lines carry URLs without query or fragment (a blocked Zoom
// desk URL carries the agent's token in its query).
//
// Set the fields before the first request and do not change them after.
type ReportHandler struct {
	// Site is the site name, the "site" label.
	Site string
	// Sources tells which hosts are Zoom's: every host source in it.
	Sources Sources
	// Prefix is the reserved path prefix; reports about URLs under it
	// (the loader, the token endpoint) always count.
	Prefix string
	// Metrics receives the counts; nil counts nothing.
	Metrics *Metrics
	// Logger receives one warn line per counted violation; nil logs nothing.
	Logger *slog.Logger
	// ClientAddr returns the address to rate-limit by. The server decides
	// which proxies to trust for X-Forwarded-For; nil uses RemoteAddr.
	ClientAddr func(*http.Request) netip.Addr
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MaxBody is the largest body accepted (413 beyond); 0 is 64 KiB.
	MaxBody int64
	// Limiter limits reports per client (429 beyond); nil is one report
	// per second on average, bursts of 20, 10000 clients tracked.
	Limiter *ratelimit.Limiter
	// Redis, when set (storage.redis), makes the nil Limiter's limit count
	// across every replica, in one bucket per client for all sites (one
	// round trip per report); while Redis fails, each replica falls back
	// to its own bucket (see ratelimit.Shared).
	Redis *fleet.Redis
	// KnownHosts are the Zoom hosts counted under their own name (the SDK's
	// CDN host, which also serves the desk). Any other Zoom host is counted
	// under the source it matches in Sources ("*.zoom.us"): every label
	// comes from the config, never from a report, so a client cannot fill
	// the label set with made-up hosts.
	KnownHosts []string

	limiterOnce sync.Once
	sourcesOnce sync.Once
	zoomHosts   []string // host parts of Sources' host sources, in a stable order
}

// violation is the part of a report the handler reads, from either format.
type violation struct {
	Document, Blocked, Directive, SourceFile, Sample, Disposition string
}

// ServeHTTP answers 204 for accepted reports, 405 for a method other than
// POST, 415 for a body that is not application/csp-report,
// application/reports+json or application/json, 413 for a body over
// MaxBody, 429 over the rate and 400 for JSON that is neither format.
func (h *ReportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if ok, wait := h.limiter().Allow(h.clientAddr(r)); !ok {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(wait), 10))
		http.Error(w, "too many reports", http.StatusTooManyRequests)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/csp-report", "application/reports+json", "application/json":
	default:
		http.Error(w, "expected application/csp-report or application/reports+json", http.StatusUnsupportedMediaType)
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = 64 << 10
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "report too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read report", http.StatusBadRequest)
		return
	}
	vs, err := parseReports(body)
	if err != nil {
		http.Error(w, "malformed report: "+err.Error(), http.StatusBadRequest)
		return
	}
	// A Reporting API batch may hold hundreds of entries for one rate-limit
	// token; the first few say what is blocked.
	for _, v := range vs[:min(len(vs), maxReportsPerRequest)] {
		h.record(r, v)
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxReportsPerRequest bounds the violations one request may log and count.
const maxReportsPerRequest = 20

// parseReports reads the report-uri format ({"csp-report": {...}}) or the
// Reporting API format ([{"type": "csp-violation", "body": {...}}, ...]),
// telling them apart by the first byte rather than the Content-Type, which
// older browsers get wrong.
func parseReports(body []byte) ([]violation, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var reports []struct {
			Type string `json:"type"`
			Body struct {
				DocumentURL        string `json:"documentURL"`
				BlockedURL         string `json:"blockedURL"`
				EffectiveDirective string `json:"effectiveDirective"`
				SourceFile         string `json:"sourceFile"`
				Sample             string `json:"sample"`
				Disposition        string `json:"disposition"`
			} `json:"body"`
		}
		if err := json.Unmarshal(body, &reports); err != nil {
			return nil, errors.New("not a Reporting API array")
		}
		var out []violation
		for _, rep := range reports {
			if rep.Type == "csp-violation" {
				b := rep.Body
				out = append(out, violation{b.DocumentURL, b.BlockedURL, b.EffectiveDirective, b.SourceFile, b.Sample, b.Disposition})
			}
		}
		return out, nil
	}
	var rep struct {
		Report *struct {
			DocumentURI        string `json:"document-uri"`
			BlockedURI         string `json:"blocked-uri"`
			EffectiveDirective string `json:"effective-directive"`
			ViolatedDirective  string `json:"violated-directive"`
			SourceFile         string `json:"source-file"`
			ScriptSample       string `json:"script-sample"`
			Disposition        string `json:"disposition"`
		} `json:"csp-report"`
	}
	if err := json.Unmarshal(body, &rep); err != nil || rep.Report == nil {
		return nil, errors.New(`not {"csp-report": {...}}`)
	}
	c := rep.Report
	dir := c.EffectiveDirective
	if dir == "" {
		dir, _, _ = strings.Cut(c.ViolatedDirective, " ")
	}
	return []violation{{c.DocumentURI, c.BlockedURI, dir, c.SourceFile, c.ScriptSample, c.Disposition}}, nil
}

// record counts and logs v if it involves cobrowse.
func (h *ReportHandler) record(r *http.Request, v violation) {
	label, involved := h.blockedLabel(v.Blocked, v.Document)
	if !involved {
		involved = h.fromCobrowse(v.SourceFile) ||
			(h.prefix() != "" && strings.Contains(v.Sample, h.prefix()+"/"))
	}
	if !involved {
		return
	}
	directive := strings.ToLower(v.Directive)
	if !knownDirective(directive) {
		directive = "other" // bounded labels: clients can send anything
	}
	if h.Metrics != nil {
		h.Metrics.Violations.WithLabelValues(h.Site, directive, label).Inc()
	}
	if h.Logger != nil {
		h.Logger.LogAttrs(r.Context(), slog.LevelWarn, "csp violation involving cobrowse",
			slog.String("site", h.Site), slog.String("directive", directive),
			slog.String("blocked", stripURL(v.Blocked)), slog.String("blocked_host", label),
			slog.String("source_file", stripURL(v.SourceFile)), slog.String("document", stripURL(v.Document)),
			slog.String("disposition", disposition(v.Disposition)))
	}
}

// knownDirective reports whether name is a CSP directive worth a label.
func knownDirective(name string) bool {
	switch name {
	case "default-src", "base-uri", "form-action", "frame-ancestors", "navigate-to",
		"require-trusted-types-for", "trusted-types", "sandbox", "webrtc":
		return true
	}
	return len(fallbackList(name)) > 1
}

// blockedLabel classifies the blocked URL: a Zoom host (involved), a URL
// under the reserved prefix of the document's own host (involved), or a
// bounded word for everything else (not involved by itself).
func (h *ReportHandler) blockedLabel(blocked, document string) (string, bool) {
	switch blocked {
	case "inline", "eval", "wasm-eval", "trusted-types-policy", "trusted-types-sink", "data", "blob":
		return blocked, false
	}
	u, err := url.Parse(blocked)
	if err != nil || u.Host == "" {
		if s, _, ok := strings.Cut(blocked, ":"); ok && (s == "data" || s == "blob") {
			return s, false
		}
		return "other", false
	}
	host := strings.ToLower(u.Hostname())
	if src, ok := h.zoomSource(host); ok {
		return h.hostLabel(host, src), true
	}
	if p := h.prefix(); p != "" && strings.HasPrefix(u.Path, p+"/") {
		if d, err := url.Parse(document); err == nil && strings.EqualFold(d.Host, u.Host) {
			return "self-prefix", true
		}
	}
	return "other", false
}

// fromCobrowse reports whether a violation came from the SDK or the loader.
func (h *ReportHandler) fromCobrowse(sourceFile string) bool {
	u, err := url.Parse(sourceFile)
	if err != nil || u.Host == "" {
		return false
	}
	p := h.prefix()
	_, zoom := h.zoomSource(strings.ToLower(u.Hostname()))
	return zoom || (p != "" && strings.HasPrefix(u.Path, p+"/"))
}

// prefix is "/"+Prefix without trailing slash, or "" when Prefix is unset.
func (h *ReportHandler) prefix() string {
	if p := strings.Trim(h.Prefix, "/"); p != "" {
		return "/" + p
	}
	return ""
}

// zoomSource returns the host part of the first host source in h.Sources
// that host matches ("*.zoom.us"), in a stable order.
func (h *ReportHandler) zoomSource(host string) (string, bool) {
	if !isHostPart(host) || strings.Contains(host, "*") {
		return "", false
	}
	h.sourcesOnce.Do(h.listZoomHosts)
	for _, pattern := range h.zoomHosts {
		if hostMatches(pattern, host) {
			return pattern, true
		}
	}
	return "", false
}

// listZoomHosts collects, once, the host parts of the host sources in
// h.Sources, by directive name, each once: reports are unauthenticated,
// so each one pays only for the matching.
func (h *ReportHandler) listZoomHosts() {
	dirs := make([]string, 0, len(h.Sources))
	for d := range h.Sources {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		for _, src := range h.Sources[d] {
			if s := parseSource(src); s.kind == kindHost && s.host != "*" && !slices.Contains(h.zoomHosts, s.host) {
				h.zoomHosts = append(h.zoomHosts, s.host)
			}
		}
	}
}

// hostLabel is host when it is one of KnownHosts, else the host part of the
// Zoom source it matched.
func (h *ReportHandler) hostLabel(host, source string) string {
	for _, k := range h.KnownHosts {
		if strings.EqualFold(k, host) {
			return strings.ToLower(k)
		}
	}
	return source
}

// disposition bounds the report's disposition for the log.
func disposition(d string) string {
	switch d {
	case "enforce", "report", "":
		return d
	}
	return "other"
}

// stripURL drops user info, query and fragment, and bounds the length.
func stripURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		s, _, _ = strings.Cut(s, "?")
	} else {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		s = u.String()
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func (h *ReportHandler) clientAddr(r *http.Request) netip.Addr {
	if h.ClientAddr != nil {
		return h.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}

func (h *ReportHandler) limiter() *ratelimit.Limiter {
	h.limiterOnce.Do(func() {
		if h.Limiter == nil {
			h.Limiter = ratelimit.New(ratelimit.Limit{Every: time.Second, Burst: 20, MaxClients: 10000}, h.Now,
				ratelimit.Shared(h.Redis, ratelimit.NameCSPReport))
		}
	})
	return h.Limiter
}
