// Package server builds cobrowse-proxy's handler chain from the config (the
// router by Host, the reserved prefix, the proxy) and runs the listeners,
// including the admin listener, with graceful shutdown.
package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
)

// Site is what the router needs for one configured site.
type Site struct {
	Proxy *proxy.Site
	// Endpoints are the site's own handlers under the reserved prefix, by
	// path below it ("/bootstrap.js", "/csp-report").
	Endpoints map[string]http.Handler
	// Wrap, if set, wraps everything the site serves (e.g. HSTS).
	Wrap func(http.Handler) http.Handler

	handler    http.Handler // built by NewRouter
	cspSources csp.Sources  // for the site's CSP report endpoint
}

// Router sends each request to the site that serves its Host: the reserved
// prefix is answered here, everything else goes to the proxy. A Host that no
// site serves is refused and never forwarded anywhere, so the proxy cannot
// be used as an open proxy.
type Router struct {
	prefix        string
	exact         map[string]*Site
	wildcards     []wildcard // "*.example.com" as suffix ".example.com"
	proxy         *proxy.Proxy
	metrics       *metrics.Metrics
	log           *slog.Logger
	unknownStatus int
	endpoints     map[string]http.Handler
	policy        PolicyView // set by Shared.Build
}

// Policy returns the effective masking policy of the config this router
// was built from.
func (rt *Router) Policy() PolicyView { return rt.policy }

type wildcard struct {
	suffix string
	site   *Site
}

// RouterOptions configure a Router.
type RouterOptions struct {
	Prefix            string
	UnknownHostStatus int // 421 or 404
	Proxy             *proxy.Proxy
	Metrics           *metrics.Metrics
	Logger            *slog.Logger
	// Endpoints are the reserved prefix's handlers shared by all sites,
	// by path below the prefix ("/token"); bootstrap.js is per site.
	Endpoints map[string]http.Handler
}

// NewRouter returns a router for sites; hosts maps each configured host name
// (lower case, no port, optionally "*.suffix") to its site.
func NewRouter(o RouterOptions, hosts map[string]*Site) *Router {
	r := &Router{
		prefix: o.Prefix, exact: map[string]*Site{}, proxy: o.Proxy,
		metrics: o.Metrics, log: o.Logger, unknownStatus: o.UnknownHostStatus,
		endpoints: o.Endpoints,
	}
	for _, s := range hosts {
		if s.handler != nil {
			continue // a site with several hosts
		}
		s.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.serveSite(s, w, req) })
		if s.Wrap != nil {
			s.handler = s.Wrap(s.handler)
		}
	}
	for h, s := range hosts {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			r.wildcards = append(r.wildcards, wildcard{suffix: suffix, site: s})
		} else {
			r.exact[h] = s
		}
	}
	// Longest suffix first, so a.b.example.com prefers *.b.example.com.
	for i := 1; i < len(r.wildcards); i++ {
		for j := i; j > 0 && len(r.wildcards[j].suffix) > len(r.wildcards[j-1].suffix); j-- {
			r.wildcards[j], r.wildcards[j-1] = r.wildcards[j-1], r.wildcards[j]
		}
	}
	return r
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	site := rt.lookup(r.Host)
	if site == nil {
		rt.refuse(w, r)
		return
	}
	site.handler.ServeHTTP(w, r)
}

// Serves reports whether a site serves host (a Host header value).
func (rt *Router) Serves(host string) bool { return rt.lookup(host) != nil }

func (rt *Router) refuse(w http.ResponseWriter, r *http.Request) {
	rt.metrics.UnknownHost.Inc()
	rt.log.LogAttrs(r.Context(), slog.LevelDebug, "unknown host refused",
		slog.String("host", r.Host), slog.String("remote", r.RemoteAddr))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(rt.unknownStatus)
	w.Write([]byte("This proxy does not serve this host name.\n"))
}

// serveSite answers a request for site: the reserved prefix here,
// everything else through the proxy.
func (rt *Router) serveSite(site *Site, w http.ResponseWriter, r *http.Request) {
	if rest, ok := rt.reservedPath(r.URL); ok {
		rt.serveReserved(site, rest, w, r)
		return
	}
	rt.proxy.ServeSite(site.Proxy, w, r)
}

// reservedPath reports whether u's path is under the reserved prefix in any
// reading that a browser or an upstream may take: decoded or raw (a browser
// matches the agent cookie's Path against the raw path, so
// /__cobrowse/..%2fx carries it), with or without dot segments and doubled
// slashes removed (many upstreams normalise //__cobrowse/x,
// /a/../__cobrowse/x and /a/..%2f__cobrowse/x), and with backslashes read
// as slashes (as IIS does). Such a request is answered here and never
// forwarded. rest, the path below the prefix that picks an endpoint, is
// taken only from the cleaned decoded path; the other readings get "",
// which no endpoint serves (404).
func (rt *Router) reservedPath(u *url.URL) (rest string, ok bool) {
	// Every reading contains the prefix's name once decoded: a path that
	// does not is forwarded without further work.
	if !strings.Contains(u.Path, rt.prefix[1:]) {
		return "", false
	}
	if rest, ok := rt.under(path.Clean(u.Path)); ok {
		return rest, true
	}
	for _, p := range [...]string{u.Path, u.EscapedPath()} {
		p = strings.ReplaceAll(p, `\`, "/")
		if _, ok := rt.under(p); ok {
			return "", true
		}
		if _, ok := rt.under(path.Clean(p)); ok {
			return "", true
		}
	}
	return "", false
}

// under reports whether p is the prefix or below it, and what follows it.
func (rt *Router) under(p string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(p, rt.prefix)
	return rest, ok && (rest == "" || rest[0] == '/')
}

// serveReserved answers the reserved prefix. Paths under it that are not
// endpoints are 404 here: they are never forwarded to the site.
func (rt *Router) serveReserved(site *Site, rest string, w http.ResponseWriter, r *http.Request) {
	sw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
	endpoint := "other"
	h := site.Endpoints[rest]
	if h == nil {
		h = rt.endpoints[rest]
	}
	if h != nil {
		endpoint = rest[1:]
		h.ServeHTTP(sw, r)
	} else {
		http.NotFound(sw, r)
	}
	rt.metrics.Reserved.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
}

// lookup finds the site for a Host header value.
func (rt *Router) lookup(hostport string) *Site {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if s := rt.exact[host]; s != nil {
		return s
	}
	for _, wc := range rt.wildcards {
		if strings.HasSuffix(host, wc.suffix) && len(host) > len(wc.suffix) {
			return wc.site
		}
	}
	return nil
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
