package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/inject"
)

// modifyResponse decides whether the upstream's answer is a document to
// inject and, if so, replaces its body with the streaming pipeline
// decode → rewrite → encode and fixes the headers that the change makes
// wrong. Nothing is read here: the body is transformed as ReverseProxy
// copies it to the client.
func (p *Proxy) modifyResponse(res *http.Response) error {
	x := exchangeOf(res.Request.Context())
	// Ours is already on the response; ReverseProxy would add the
	// upstream's as a second value.
	res.Header.Del("X-Request-Id")
	p.opts.Metrics.Duration.WithLabelValues(x.site.Name).Observe(time.Since(x.start).Seconds())
	if res.StatusCode == http.StatusSwitchingProtocols {
		x.upgraded = true
		return nil
	}
	if x.cancelUpstream != nil && res.Body != nil && res.Body != http.NoBody && !isEventStream(res.Header.Get("Content-Type")) {
		// Server-sent events may be quiet for long and have their own
		// heartbeats; everything else that stalls is ended.
		res.Body = newIdleBody(res.Body, p.opts.UpstreamIdleTimeout, x.cancelUpstream, &x.idle)
	}
	if !looksHTML(res.Header.Get("Content-Type")) {
		p.assetHeaders(x, res) // the common non-HTML case
		p.compressOnly(x, res)
		return nil
	}
	d, ok := p.decide(x, res)
	if !ok {
		p.compressOnly(x, res)
		return nil
	}
	tag := x.site.Tag
	if d.Frame && x.site.FrameTag != nil {
		tag = x.site.FrameTag
	}
	var metaCSP func([]byte) []byte
	if c := x.site.CSP; c != nil {
		var skip string
		tag, metaCSP, skip = p.mergeCSP(x, c, tag, res.Header)
		if skip != "" {
			x.decision = ReasonCSP
			p.opts.Metrics.Injections.WithLabelValues(x.site.Name, ReasonCSP).Inc()
			p.log.LogAttrs(x.in.Context(), slog.LevelWarn, "page not injected: its CSP cannot allow the loader",
				slog.String("request_id", x.id), slog.String("site", x.site.Name), slog.String("reason", skip))
			p.compressOnly(x, res)
			return nil
		}
	}

	p.streamRewrite(x, res, d, tag, metaCSP)
	return nil
}

// decide makes the injection decision for an HTML response (see
// inject.Decide), adds the Vary it depends on, and counts a page that is
// not injected; ok says whether to inject.
func (p *Proxy) decide(x *exchange, res *http.Response) (d inject.Decision, ok bool) {
	// The client's request: its headers are the ones forwarded, and its
	// path is the one include/exclude patterns speak of (not the
	// upstream's prefixed one).
	req := x.in
	d = inject.Decide(decisionRequest(req), res, x.site.Policy, decodable)
	if d.Inject || dependsOnRequestHeaders(d.Reason) {
		addVary(res.Header)
	}
	if d.Inject && !req.ProtoAtLeast(1, 1) {
		// HTTP/1.0 has no chunked encoding: an injected page, whose length
		// is not known before it has all passed, would be delimited by
		// closing the connection, and an upstream that died mid-page would
		// look like a complete page. Buffering whole pages to count them
		// is what this proxy never does, so these clients (no browser in
		// use speaks HTTP/1.0) get the page as the upstream sent it, with
		// its Content-Length.
		d = inject.Decision{Reason: ReasonHTTP10}
	}
	if !d.Inject {
		x.decision = d.Reason
		p.opts.Metrics.Injections.WithLabelValues(x.site.Name, d.Reason).Inc()
		return d, false
	}
	return d, true
}

// streamRewrite streams the page through the decoder, the rewriter (which
// inserts tag and merges <meta> policies with metaCSP) and the encoder the
// client accepts, and fixes the headers that injection makes wrong. A HEAD
// gets those headers only.
func (p *Proxy) streamRewrite(x *exchange, res *http.Response, d inject.Decision, tag []byte, metaCSP func([]byte) []byte) {
	req := x.in
	upstreamCoding, _ := encoding.Normalize(res.Header.Get("Content-Encoding"))
	p.noteCoding(x, upstreamCoding)
	// Re-encode only what the upstream encoded, or was asked to send plain
	// (askPlain); never compress a body the upstream chose to send plain.
	clientCoding := x.plainCoding
	if upstreamCoding != "" {
		clientCoding = p.opts.Codecs.Reencoding(req.Header.Values("Accept-Encoding"), upstreamCoding)
	}
	if req.Method == http.MethodHead {
		// The GET this HEAD stands for would be injected: announce GET's
		// headers (no Content-Length, since the injected length is not
		// known without reading the page), not the upstream's.
		x.decision = inject.ReasonMethod
		p.opts.Metrics.Injections.WithLabelValues(x.site.Name, inject.ReasonMethod).Inc()
		injectedHeaders(res, upstreamCoding, clientCoding)
		return
	}
	dec, err := p.opts.Codecs.NewReader(upstreamCoding, res.Body)
	if err != nil {
		return // cannot happen: Decide checked decodable
	}
	body := &rewriteBody{
		p:        p,
		x:        x,
		upstream: res.Body,
		dec:      dec,
		srcLen:   -1,
	}
	if upstreamCoding == "" && clientCoding == "" && res.ContentLength >= 0 && res.ProtoMajor == 1 {
		// The page's length is known once the rewriter knows its growth.
		// HTTP/1 only: a body with a length has no trailers there, which a
		// Content-Length would drop.
		body.srcLen = res.ContentLength
	}
	body.src.r = dec
	body.rw = inject.NewRewriter(&body.src, inject.Options{
		Tag:             tag,
		MetaCSP:         metaCSP,
		Markers:         x.site.Markers,
		RequireDocument: d.RequireDocument,
		MaxScan:         p.opts.MaxScan,
		Buffers:         &p.bufPool,
	})
	var enc encoding.Encoder
	if clientCoding != "" {
		var err error
		if enc, err = p.opts.Codecs.NewWriter(clientCoding, encodeTo{x.sw}); err != nil {
			enc, clientCoding = nil, "" // cannot happen: Negotiate returns codings we encode
		}
	}
	x.sw.coalesce(enc, &p.bufPool, p.opts.FlushDelay, req.ProtoMajor == 1)
	res.Body = body
	injectedHeaders(res, upstreamCoding, clientCoding)
}

// ReasonHTTP10 is the injection outcome of a page requested over HTTP/1.0,
// passed through unchanged (see modifyResponse).
const ReasonHTTP10 = "http10"

// decisionRequest is req as inject.Decide should see it: a HEAD is decided
// as the GET it stands for, so that its headers match GET's.
func decisionRequest(req *http.Request) *http.Request {
	if req.Method != http.MethodHead {
		return req
	}
	g := *req
	g.Method = http.MethodGet
	return &g
}

// injectedHeaders fixes the headers that injection makes wrong: the length
// and digests of the body, a strong ETag, the content coding the client
// gets.
func injectedHeaders(res *http.Response, upstreamCoding, clientCoding string) {
	h := res.Header
	res.ContentLength = -1 // unknown: chunked, or counted at the end (statusWriter.finish)
	h.Del("Content-Length")
	h.Del("Content-MD5")
	h.Del("Content-Digest")
	h.Del("Repr-Digest")
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("ETag", "W/"+et)
	}
	if clientCoding != "" {
		h.Set("Content-Encoding", clientCoding)
	} else {
		h.Del("Content-Encoding")
	}
	if (upstreamCoding != "" || clientCoding != "") && !varyHas(h, "Accept-Encoding") {
		h.Add("Vary", "Accept-Encoding")
	}
}

// decisionVary names the request headers inject.Decide reads: Sec-Fetch-Dest
// (document, iframe and empty get three different bodies) and the
// fragment-request headers of htmx, Turbo, Unpoly, pjax and XHR. A response
// whose body depended on them must say so, or a shared cache serves one
// variant for another.
var decisionVary = []string{"Sec-Fetch-Dest", "Hx-Request", "Turbo-Frame", "X-Up-Target", "X-Pjax", "X-Requested-With"}

// decisionVaryValue is decisionVary as one header value, the common case
// (an upstream Vary that names none of them) without allocating.
var decisionVaryValue = strings.Join(decisionVary, ", ")

// dependsOnRequestHeaders reports whether a page skipped for reason would
// have been injected with other values of the decisionVary headers.
func dependsOnRequestHeaders(reason string) bool {
	return reason == inject.ReasonNotNavigation || reason == inject.ReasonFragment || reason == inject.ReasonIframe
}

// addVary adds the decisionVary names that h's Vary lacks (none if it is
// *: varyHas counts * as naming everything).
func addVary(h http.Header) {
	missing := 0
	for _, n := range decisionVary {
		if !varyHas(h, n) {
			missing++
		}
	}
	switch {
	case missing == 0:
	case missing == len(decisionVary):
		h.Add("Vary", decisionVaryValue)
	default:
		for _, n := range decisionVary {
			if !varyHas(h, n) {
				h.Add("Vary", n)
			}
		}
	}
}

func decodable(contentEncoding string) bool {
	_, ok := encoding.Normalize(contentEncoding)
	return ok
}

// looksHTML is a cheap pre-filter; inject.Decide checks properly.
func looksHTML(ct string) bool {
	return len(ct) >= 9 && (strings.EqualFold(ct[:9], "text/html") ||
		len(ct) >= 21 && strings.EqualFold(ct[:21], "application/xhtml+xml"))
}

func isEventStream(ct string) bool {
	return len(ct) >= 17 && strings.EqualFold(ct[:17], "text/event-stream")
}

func varyHas(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, name) {
				return true
			}
		}
	}
	return false
}

// rewriteBody is the response body of an injected page: the upstream body
// decoded and rewritten. The client's content coding, if any, is applied as
// the body is written (statusWriter.coalesce), where it is flushed with the
// connection. The first bytes after the rewriter's decision are flushed at
// once, so the browser gets the loader while the upstream may still be busy.
//
// An error from the upstream or the decoder (a reset, a corrupt gzip
// stream) is returned from Read without ending the encoder: ReverseProxy
// then aborts the response, and the client sees a broken transfer instead
// of a page that looks complete.
type rewriteBody struct {
	p        *Proxy
	x        *exchange
	upstream io.ReadCloser
	dec      io.ReadCloser
	src      eofReader // dec, as the rewriter reads it
	srcLen   int64     // the length of src if known (and the client's coding is identity), else -1
	rw       *inject.Rewriter
	eof      bool // the rewriter is at its end; the next Read ends the body
	decided  bool
	srcDone  bool // told b.x.sw that src has ended
	counted  bool
}

// eofReader notes when its reader has ended.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

func (b *rewriteBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, b.end()
	}
	n, err := b.rw.Read(p)
	if b.src.eof && !b.srcDone {
		// The upstream has sent it all (a small page often comes with its
		// end in one read): nothing is gained by sending the head first.
		b.srcDone = true
		b.x.sw.sourceDone()
	}
	if b.srcLen >= 0 {
		if g, ok := b.rw.Growth(); ok {
			// Before any of the page is sent: the status waits for the
			// first bytes (statusWriter.holdHeader).
			b.x.sw.knownLength(b.srcLen + g)
			b.srcLen = -1
		}
	}
	if !b.decided && b.rw.Result() != inject.Pending {
		b.decided = true
		if !b.srcDone {
			b.x.sw.flushNext(b.rw.TagEnd())
		}
	}
	switch {
	case err == io.EOF && n > 0:
		// The encoder's last bytes must follow these: end on the next Read.
		b.eof = true
		return n, nil
	case err == io.EOF:
		return 0, b.end()
	case err != nil:
		b.count()
	}
	return n, err
}

// end completes the page: counts the outcome and writes the encoder's
// last bytes. It returns io.EOF, or the encoder's error.
func (b *rewriteBody) end() error {
	b.count()
	if err := b.x.sw.endBody(true); err != nil {
		return err
	}
	return io.EOF
}

// count records the rewriter's outcome once.
func (b *rewriteBody) count() {
	if b.counted {
		return
	}
	b.counted = true
	res := b.rw.Result()
	if res == inject.Pending {
		return
	}
	b.x.decision = res.String()
	b.p.opts.Metrics.Injections.WithLabelValues(b.x.site.Name, res.String()).Inc()
}

func (b *rewriteBody) Close() error {
	b.count()
	b.dec.Close()
	return b.upstream.Close()
}
