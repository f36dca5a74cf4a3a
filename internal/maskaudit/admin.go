package maskaudit

import (
	"cmp"
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Listing is what GET /mask-audit returns: per site, the gaps with the
// most hits first.
type Listing struct {
	Sites []SiteListing `json:"sites"`
}

// SiteListing is one site's part of the Listing.
type SiteListing struct {
	Site string `json:"site"`
	// Gaps is how many gaps are kept for the site; Top lists the first of
	// them by hits.
	Gaps int `json:"gaps"`
	// Dropped counts new gaps not kept because the store was full: if it
	// is not 0, fix the gaps listed, then restart to see the rest (the
	// metric counts them all meanwhile).
	Dropped uint64     `json:"dropped"`
	Top     []TopEntry `json:"top"`
}

// TopEntry is a Gap with the masking rule that would cover it.
type TopEntry struct {
	Gap
	// Suggest is a line ready to paste under masking.selectors (or a
	// site's masking.selectors): the reported selector as a YAML string.
	// Check it on the page before adding it; it comes from a browser.
	Suggest string `json:"suggest"`
}

// defaultTop and maxTop bound the entries listed per site (?limit=).
const (
	defaultTop = 50
	maxTop     = 1000
)

// Admin returns the admin listener's listing of the gaps (GET /mask-audit):
// JSON, or an HTML table with ?format=html or when the client prefers
// text/html (a browser). ?site=NAME lists one site, ?limit=N the top N
// gaps per site (default 50).
func (s *Store) Admin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		limit := defaultTop
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				http.Error(w, "limit: want a positive number", http.StatusBadRequest)
				return
			}
			limit = min(n, maxTop)
		}
		l, ok := Listing{}, false
		if s.shared != nil {
			l, ok = s.shared.listing(r.Context(), q.Get("site"), limit)
		}
		if !ok {
			l = s.listing(q.Get("site"), limit)
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if wantsHTML(r) {
			h.Set("Content-Type", "text/html; charset=utf-8")
			// The page has no script and needs none: selectors come from
			// browsers, so even a escaping bug must not run anything.
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
			if err := page.Execute(w, l); err != nil {
				s.log.Error("masking audit: render the admin page", "err", err)
			}
			return
		}
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(l)
	})
}

// listing copies the gaps out of the store, sorted: sites by name, gaps by
// hits, then the most recent first, then path and selector.
func (s *Store) listing(site string, limit int) Listing {
	s.mu.Lock()
	l := Listing{Sites: []SiteListing{}}
	for name, sg := range s.sites {
		if site != "" && name != site {
			continue
		}
		sl := SiteListing{Site: name, Gaps: len(sg.gaps), Dropped: sg.dropped, Top: make([]TopEntry, 0, len(sg.gaps))}
		for _, g := range sg.gaps {
			sl.Top = append(sl.Top, TopEntry{Gap: *g})
		}
		l.Sites = append(l.Sites, sl)
	}
	s.mu.Unlock()
	slices.SortFunc(l.Sites, func(a, b SiteListing) int { return strings.Compare(a.Site, b.Site) })
	for i := range l.Sites {
		l.Sites[i].Top = sortTop(l.Sites[i].Top, limit)
	}
	return l
}

// sortTop sorts gaps by hits, then the most recent first, then path and
// selector, keeps the first limit and fills in their Suggest.
func sortTop(top []TopEntry, limit int) []TopEntry {
	slices.SortFunc(top, func(a, b TopEntry) int {
		return cmp.Or(cmp.Compare(b.Hits, a.Hits), b.LastSeen.Compare(a.LastSeen),
			strings.Compare(a.Path, b.Path), strings.Compare(a.Selector, b.Selector))
	})
	top = top[:min(len(top), limit)]
	for j := range top {
		top[j].Suggest = yamlItem(top[j].Selector)
	}
	return top
}

// yamlItem is sel as a YAML list item in single quotes, where only the
// quote itself needs escaping (doubled). Selectors are printable, with no
// line breaks, so the item is one line.
func yamlItem(sel string) string {
	return "- '" + strings.ReplaceAll(sel, "'", "''") + "'"
}

// wantsHTML: ?format=html, or no ?format=json and an Accept header that
// ranks text/html above application/json (what a browser sends).
func wantsHTML(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "html":
		return true
	case "json":
		return false
	}
	htmlQ, jsonQ := -1.0, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/html":
			htmlQ = max(htmlQ, q)
		case "application/json":
			jsonQ = max(jsonQ, q)
		}
	}
	return htmlQ > 0 && htmlQ > jsonQ
}

// page is the HTML view. html/template escapes every value for its
// context; selectors and paths are hostile input.
var page = template.Must(template.New("mask-audit").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Masking audit</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px}table{border-collapse:collapse;margin-bottom:24px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}code{white-space:pre-wrap}</style></head>
<body><h1>Masking audit</h1>
<p>Fields that look sensitive and that no masking rule covered, as browsers reported them. Check each on its page;
paste the suggested line under <code>masking.selectors</code> (or the site's) to mask it.</p>
{{range .Sites}}<h2>{{.Site}}</h2>
<p>{{.Gaps}} gaps kept{{if .Dropped}}, {{.Dropped}} more not kept (store full){{end}}.</p>
<table><thead><tr><th>Hits</th><th>Kind</th><th>Path</th><th>Selector to add</th><th>First seen</th><th>Last seen</th></tr></thead>
<tbody>{{range .Top}}<tr><td>{{.Hits}}</td><td>{{.Kind}}</td><td>{{.Path}}</td><td><code>{{.Suggest}}</code></td>
<td>{{.FirstSeen.UTC.Format "2006-01-02 15:04:05Z"}}</td><td>{{.LastSeen.UTC.Format "2006-01-02 15:04:05Z"}}</td></tr>
{{end}}</tbody></table>
{{else}}<p>No gaps reported.</p>
{{end}}</body></html>
`))
