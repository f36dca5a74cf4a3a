// Package maskaudit receives the masking audit's reports from bootstrap.js
// (fields that look sensitive and that no masking rule covers), counts
// them, and keeps the gaps found, bounded, for the admin listener. One
// Store lives for the whole process, across config reloads.
package maskaudit

import (
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Store.
type Options struct {
	// Registerer receives cobrowse_proxy_unmasked_fields_total{site,kind}.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Store keeps the gaps reported per site.
type Store struct {
	log *slog.Logger
}

// New returns an empty Store.
func New(o Options) *Store {
	return &Store{log: o.Logger}
}

// HandlerOptions configure one site's report endpoint.
type HandlerOptions struct {
	// Scheme returns the scheme the client used (for the same-origin check).
	Scheme func(*http.Request) string
	// ClientAddr returns the client address (for the rate limit).
	ClientAddr func(*http.Request) netip.Addr
}

// Handler returns site's POST {prefix}/mask-report endpoint.
func (s *Store) Handler(site string, o HandlerOptions) http.Handler {
	return http.NotFoundHandler()
}

// Admin returns the admin listener's listing of the gaps (GET /mask-audit).
func (s *Store) Admin() http.Handler {
	return http.NotFoundHandler()
}
