// Package proxy forwards requests to a site's upstream with
// httputil.ReverseProxy and passes HTML documents through the loader
// injector on their way back. Everything else (websockets, server-sent
// events, downloads, range requests) streams through untouched.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/inject"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
)

// Site is one upstream website and how its pages are injected.
type Site struct {
	// Name labels logs and metrics.
	Name string
	// Upstream is where requests go; its path, if any, prefixes theirs.
	Upstream *url.URL
	// PreserveHost sends the client's Host header upstream (otherwise the
	// upstream's own host name).
	PreserveHost bool
	// Policy says which responses may be injected.
	Policy inject.Policy
	// Tag is the loader tag inserted into documents.
	Tag []byte
	// FrameTag is the loader tag for documents requested as iframes or
	// frames (Sec-Fetch-Dest): the loader only, no widget.
	FrameTag []byte
	// Markers: a page whose head already contains one is left alone.
	Markers [][]byte
	// CSP, when set, merges the Zoom sources into the policies of injected
	// pages; nil leaves policies alone (csp.mode off).
	CSP *CSP
	// CrossOriginAssets adds CORS and CORP headers to static assets so the
	// agent's view (a Zoom origin) can load them: "zoom", "any" or "off".
	CrossOriginAssets string

	seen codingSeen // the upstream's last compressed HTML page (see askPlain)
}

// CSP is a site's Content-Security-Policy handling.
type CSP struct {
	// Merger holds the site's sources, prefix and reporting (see
	// csp.NewMerger), prepared once.
	Merger *csp.Merger
	// Baseline is sent, then merged, when a page has no policy ("" for none).
	Baseline string
}

// Options configure a Proxy.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Codecs  *encoding.Codecs
	// Transport carries requests upstream; see NewTransport.
	Transport http.RoundTripper
	// TrustedProxies are peers whose X-Forwarded-* and X-Request-Id
	// headers are believed; from anyone else they are replaced.
	TrustedProxies []netip.Prefix
	// MaxScan bounds how far into a page the rewriter looks for <head>.
	MaxScan int
	// CSPMetrics counts policy merges; nil counts nothing.
	CSPMetrics *csp.Metrics
	// IdentityHeaders are headers a trusted auth proxy sets to say who the
	// user is (token.agent.identity.header and nameHeader). Like the
	// client-address hints, they are removed from requests of peers that
	// are not TrustedProxies, so a client cannot claim an identity to the
	// upstream.
	IdentityHeaders []string
	// UpstreamIdleTimeout aborts a response whose upstream sends no body
	// bytes for this long (see idleBody); 0 waits forever.
	UpstreamIdleTimeout time.Duration
	// FlushDelay bounds how long an injected page's bytes wait to be sent
	// together with more (see DefaultFlushDelay); 0 is DefaultFlushDelay.
	FlushDelay time.Duration
	// UpstreamPlain asks the upstream for plain pages on navigations that
	// will be injected, once it has been seen compressing HTML, and
	// compresses them here (see askPlain).
	UpstreamPlain bool
}

// Proxy is the reverse proxy for all sites. Create it with New.
type Proxy struct {
	opts    Options
	log     *slog.Logger
	rp      *httputil.ReverseProxy
	bufPool bufferPool
	strip   []string // removed from untrusted peers' requests; see stripList
}

type ctxKey struct{}

// exchange is the per-request state shared by the ReverseProxy hooks.
type exchange struct {
	site     *Site
	in       *http.Request // the client's request
	id       string
	trusted  bool // the peer is a trusted proxy
	start    time.Time
	decision string // injection outcome, for the log
	upgraded bool   // the upstream switched protocols (websocket)
	// plainCoding is the coding the client gets when askPlain asked the
	// upstream for a plain page; "" when it did not.
	plainCoding string
	// cancelUpstream cancels the outbound request (set when an idle
	// timeout applies); idle is set when the idle timeout fired.
	cancelUpstream context.CancelCauseFunc
	idle           atomic.Bool
	// bodyErr is set when reading the client's request body failed (a
	// malformed chunked encoding, a body cut short): the transport then
	// fails, but the fault is the client's.
	bodyErr atomic.Bool
	sw      *statusWriter
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushDelay <= 0 {
		opts.FlushDelay = DefaultFlushDelay
	}
	p := &Proxy{opts: opts, log: opts.Logger, strip: stripList(opts.IdentityHeaders)}
	p.bufPool.New = func() any { b := make([]byte, 32<<10); return &b }
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      opts.Transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		BufferPool:     &p.bufPool,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p
}

// ServeSite proxies r to site. The caller has already matched r's Host.
func (p *Proxy) ServeSite(site *Site, w http.ResponseWriter, r *http.Request) {
	x := &exchange{site: site, in: r, trusted: p.trusted(r), start: time.Now()}
	x.id = r.Header.Get("X-Request-Id")
	if !validRequestID(x.id) || !x.trusted {
		x.id = newRequestID()
	}
	w.Header().Set("X-Request-Id", x.id)
	if site.hasPathPrefix() && hasDotSegment(r.URL.Path) {
		refuseDotSegments(w)
		p.account(x, r, http.StatusBadRequest, false)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, x))
	sw := &statusWriter{ResponseWriter: w}
	x.sw = sw
	defer func() {
		// ReverseProxy panics with http.ErrAbortHandler when the body copy
		// fails (corrupt encoding, upstream reset): account for it, then let
		// the server abort the connection.
		v := recover()
		sw.finish()
		aborted := false
		if v != nil {
			// The copy failed on the client's side (it left) or the
			// upstream's (reset, corrupt encoding).
			switch {
			case x.idle.Load():
				aborted = true
				p.opts.Metrics.UpstreamErrors.WithLabelValues(site.Name, "idle_timeout").Inc()
			case sw.writeErr != nil || r.Context().Err() != nil:
				p.opts.Metrics.ClientErrors.WithLabelValues(site.Name, "client_gone").Inc()
			default:
				aborted = true
				p.opts.Metrics.UpstreamErrors.WithLabelValues(site.Name, "aborted").Inc()
			}
		}
		if x.cancelUpstream != nil {
			x.cancelUpstream(nil)
		}
		p.account(x, r, sw.code, aborted)
		if v != nil {
			panic(v)
		}
	}()
	p.rp.ServeHTTP(sw, r)
}

// account records one finished request in the metrics and the debug log.
func (p *Proxy) account(x *exchange, r *http.Request, code int, aborted bool) {
	switch {
	case code == 0 && x.upgraded:
		code = http.StatusSwitchingProtocols // ReverseProxy writes the 101 on the hijacked connection
	case code == 0: // the client went away before headers
		code = 499
	}
	p.opts.Metrics.Requests.WithLabelValues(x.site.Name, strconv.Itoa(code)).Inc()
	if !p.log.Enabled(r.Context(), slog.LevelDebug) && !aborted {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", x.id), slog.String("site", x.site.Name),
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.Float64("duration_s", time.Since(x.start).Seconds()),
	}
	if x.decision != "" {
		attrs = append(attrs, slog.String("inject", x.decision))
	}
	level, msg := slog.LevelDebug, "proxied"
	switch {
	case aborted && x.idle.Load():
		level, msg = slog.LevelWarn, "response aborted: the upstream sent nothing for proxy.upstreamIdleTimeout"
	case aborted:
		level, msg = slog.LevelWarn, "response aborted: the upstream body failed mid-stream"
	}
	p.log.LogAttrs(r.Context(), level, msg, attrs...)
}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(ctxKey{}).(*exchange)
	return x
}

// rewrite points the outbound request at the upstream and sets the
// forwarding headers. ReverseProxy has already removed hop-by-hop headers
// and the inbound X-Forwarded-For/-Host/-Proto.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeOf(pr.In.Context())
	if d := p.opts.UpstreamIdleTimeout; d > 0 {
		// A context of our own, so that idleBody can end the upstream
		// exchange without touching the client's.
		ctx, cancel := context.WithCancelCause(pr.Out.Context())
		x.cancelUpstream = cancel
		pr.Out = pr.Out.WithContext(ctx)
	}
	pr.SetURL(x.site.Upstream)
	if x.site.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
	setForwarded(pr, x.trusted, p.strip)
	if pr.Out.Body != nil && pr.Out.Body != http.NoBody {
		pr.Out.Body = &clientBody{ReadCloser: pr.Out.Body, failed: &x.bodyErr}
	}
	stripOwnCookies(pr.Out.Header)
	pr.Out.Header.Set("X-Request-Id", x.id)
	if p.opts.UpstreamPlain {
		p.askPlain(x, pr)
	}
}

// trusted reports whether r's peer is a configured trusted proxy.
func (p *Proxy) trusted(r *http.Request) bool {
	if len(p.opts.TrustedProxies) == 0 {
		return false
	}
	ip, ok := peerIP(r)
	return ok && p.isTrusted(ip)
}

func (p *Proxy) isTrusted(ip netip.Addr) bool {
	for _, pfx := range p.opts.TrustedProxies {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// errorHandler answers when the upstream could not be reached or failed
// before sending headers: 504 for a timeout, 502 otherwise, with a short page
// that carries the request id also found in the log.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeOf(r.Context())
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client left; nobody is there to answer.
		p.opts.Metrics.ClientErrors.WithLabelValues(x.site.Name, "client_gone").Inc()
		return
	}
	if x.bodyErr.Load() {
		// The client's request body broke, not the upstream.
		p.opts.Metrics.ClientErrors.WithLabelValues(x.site.Name, "client_body").Inc()
		p.log.LogAttrs(r.Context(), slog.LevelDebug, "request body from the client is malformed",
			slog.String("request_id", x.id), slog.String("site", x.site.Name), slog.Any("error", err))
		writeClientErrorPage(w, x.id)
		return
	}
	kind, code := classify(err)
	p.opts.Metrics.UpstreamErrors.WithLabelValues(x.site.Name, kind).Inc()
	p.log.LogAttrs(r.Context(), slog.LevelError, "upstream request failed",
		slog.String("request_id", x.id), slog.String("site", x.site.Name),
		slog.String("upstream", x.site.Upstream.Host), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("kind", kind), slog.Any("error", err))
	writeErrorPage(w, code, x.id)
}

func classify(err error) (kind string, code int) {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout", http.StatusGatewayTimeout
	case isRefused(err):
		return "refused", http.StatusBadGateway
	default:
		return "other", http.StatusBadGateway
	}
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// validRequestID accepts an incoming request id of 1..128 characters
// from [A-Za-z0-9._:-]: it goes into logs, headers and the error page.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clientBody is the client's request body on its way upstream; it notes a
// failed read so that errorHandler can tell a client's malformed body from
// an upstream failure.
type clientBody struct {
	io.ReadCloser
	failed *atomic.Bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers.
type bufferPool struct{ sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.Pool.Get().(*[]byte)) }
func (b *bufferPool) Put(p []byte) { b.Pool.Put(&p) }

// statusWriter records the status code for logs and metrics. It keeps
// http.Flusher, http.Hijacker and the rest reachable through Unwrap, which
// ReverseProxy uses via http.ResponseController. For an injected page it
// also holds back flushes and encodes the body (see coalesce).
type statusWriter struct {
	http.ResponseWriter
	code     int
	writeErr error // the first failed write to the client

	// Set by coalesce before the body is copied; the rest is guarded by mu
	// (ReverseProxy's and s.timer's flushes run on other goroutines).
	coalescing bool
	mu         sync.Mutex
	enc        encoding.Encoder // nil: the body is written as it is
	pool       *bufferPool
	delay      time.Duration // Options.FlushDelay
	buf        []byte        // held back bytes, from pool
	discard    bool          // the response is broken off: enc writes nowhere
	flushNow   bool          // the head has been read: send it at the next Flush
	tagEnd     int64         // with flushNow: the body offset just past the loader tag, -1 for none
	http1      bool          // the client speaks HTTP/1 (see flushHead)
	pending    bool          // a Flush is held back
	srcDone    bool          // the rest of the body follows without waiting: no Flush is needed
	finished   bool
	complete   bool  // the body ended (endBody(true)), with the encoder's last bytes
	heldCode   int   // the status, not yet written: see holdHeader
	length     int64 // the body's length if known before it is sent, else -1
	timer      *time.Timer
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		s.code = code
	}
	if s.coalescing && code >= 200 && s.holdHeader() {
		s.mu.Lock()
		s.heldCode = code
		s.mu.Unlock()
		return
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	if !s.coalescing {
		return s.writeClient(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc == nil {
		return s.bufferedWrite(b)
	}
	n, err := s.enc.Write(b)
	s.recordErr(err)
	return n, err
}

// writeClient writes b to the client.
func (s *statusWriter) writeClient(b []byte) (int, error) {
	if s.heldCode != 0 {
		s.sendHeader()
	}
	n, err := s.ResponseWriter.Write(b)
	s.recordErr(err)
	return n, err
}

func (s *statusWriter) recordErr(err error) {
	if err != nil && s.writeErr == nil {
		s.writeErr = err
	}
}

func (s *statusWriter) Flush() {
	if !s.coalescing {
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.finished, s.srcDone:
	case s.flushNow:
		// The head: the browser can start on the loader.
		s.flushNow = false
		if s.timer != nil {
			s.timer.Stop()
		}
		s.flushHead()
	case !s.pending:
		s.armFlush(s.delay)
	}
}

// armFlush has s.timer flush after d. s.mu is held.
func (s *statusWriter) armFlush(d time.Duration) {
	s.pending = true
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.delayedFlush)
		return
	}
	s.timer.Reset(d)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
