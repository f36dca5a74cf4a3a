package proxy

import (
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/inject"
)

// plainWindow is how long an upstream that sent a compressed HTML page is
// taken to go on compressing its pages (see Options.UpstreamPlain). Once
// it has passed, navigations carry the client's Accept-Encoding again until
// a compressed page renews it: a probe a minute, under any load.
const plainWindow = time.Minute

// seenCodings are the codings codingSeen records, by index.
var seenCodings = [...]string{"", "gzip", "deflate", "br", "zstd"}

// codingSeen remembers when a site's upstream last sent a compressed HTML
// page, and in which coding. The two fields are read apart: a coding from
// another moment only changes which coding the client is offered first.
type codingSeen struct {
	at     atomic.Int64  // unix nanoseconds; 0 for never
	coding atomic.Uint32 // index into seenCodings
}

// note records an HTML page compressed in coding at now. It stores at
// most once a second, so a busy site's requests do not all write one word.
func (c *codingSeen) note(coding string, now time.Time) {
	n := now.UnixNano()
	if n-c.at.Load() < int64(time.Second) {
		return
	}
	for i, s := range seenCodings {
		if s == coding {
			c.coding.Store(uint32(i))
			c.at.Store(n)
			return
		}
	}
}

// recent returns the coding of the last compressed HTML page if it came
// within plainWindow before now.
func (c *codingSeen) recent(now time.Time) (string, bool) {
	at := c.at.Load()
	if at == 0 || now.UnixNano()-at >= int64(plainWindow) {
		return "", false
	}
	return seenCodings[c.coding.Load()%uint32(len(seenCodings))], true
}

// htmlProbe is a response that inject.Decide takes for a page to inject,
// so that askPlain asks it about the request alone. Decide only reads it.
var htmlProbe = &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/html"}}}

// askPlain asks the upstream for a plain page when the request is one
// whose HTML answer would be injected and the upstream has lately
// compressed its pages: the page is then compressed once, here, instead
// of compressed there, decompressed and compressed again here (most of the
// CPU an injected compressed page costs). x.plainCoding is then the coding
// the client gets, the one negotiate would have given for the upstream's
// coding.
func (p *Proxy) askPlain(x *exchange, pr *httputil.ProxyRequest) {
	coding, ok := x.site.seen.recent(x.start)
	if !ok {
		return
	}
	in := pr.In
	ae := in.Header.Values("Accept-Encoding")
	if len(ae) == 0 || in.Header.Get("Range") != "" || !in.ProtoAtLeast(1, 1) {
		return
	}
	d := inject.Decide(decisionRequest(in), htmlProbe, x.site.Policy, decodable)
	if !d.Inject || d.RequireDocument && !inject.AcceptsHTML(in.Header) {
		// Without Sec-Fetch-Dest, only an Accept that asks for HTML tells a
		// navigation from a script's request.
		return
	}
	want := p.opts.Codecs.Reencoding(ae, coding)
	if want == "" {
		return
	}
	pr.Out.Header.Set("Accept-Encoding", "identity")
	x.plainCoding = want
}

// noteCoding records that the upstream compressed an HTML page (see
// codingSeen), when Options.UpstreamPlain is on.
func (p *Proxy) noteCoding(x *exchange, upstreamCoding string) {
	if p.opts.UpstreamPlain && upstreamCoding != "" {
		x.site.seen.note(upstreamCoding, x.start)
	}
}

// compressOnly compresses a response that askPlain asked the upstream to
// send plain but that is not injected (a policy that cannot allow the
// loader, a navigation that answers JSON): the client gets it compressed,
// as the upstream would have sent it. Bodies that gain nothing from
// compression (images, archives) and responses without a body go as they
// are.
func (p *Proxy) compressOnly(x *exchange, res *http.Response) {
	if x.plainCoding == "" || res.Header.Get("Content-Encoding") != "" ||
		!compressible(res.Header.Get("Content-Type")) || !hasBody(res) {
		return
	}
	if x.in.Method == http.MethodHead {
		injectedHeaders(res, "", x.plainCoding)
		return
	}
	enc, err := p.opts.Codecs.NewWriter(x.plainCoding, encodeTo{x.sw})
	if err != nil {
		return // cannot happen: Reencoding returns codings we encode
	}
	// http1 false: a compressed body's head is never split (flushHead).
	x.sw.coalesce(enc, &p.bufPool, p.opts.FlushDelay, false)
	res.Body = &encodedBody{ReadCloser: res.Body, sw: x.sw}
	injectedHeaders(res, "", x.plainCoding)
}

// hasBody reports whether res may carry a body that compressOnly can
// encode: not 1xx, 204, 206 (a range of the plain representation) or 304.
func hasBody(res *http.Response) bool {
	switch c := res.StatusCode; {
	case c < 200, c == http.StatusNoContent, c == http.StatusPartialContent, c == http.StatusNotModified:
		return false
	}
	return res.Body != nil && res.Body != http.NoBody
}

// compressible reports whether a body of media type ct is text that
// compresses well: what servers compress by default.
func compressible(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	switch {
	case base == "text/event-stream":
		return false // streamed as it comes; never held in a compressor
	case strings.HasPrefix(base, "text/"),
		strings.HasSuffix(base, "+json"), strings.HasSuffix(base, "+xml"):
		return true
	}
	switch base {
	case "application/json", "application/javascript", "application/xml", "image/svg+xml":
		return true
	}
	return false
}

// encodedBody is the body of a response compressOnly compresses: the
// upstream's body; at its end the encoder writes its last bytes.
type encodedBody struct {
	io.ReadCloser
	sw *statusWriter
}

func (b *encodedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && n == 0 {
		if err := b.sw.endBody(true); err != nil {
			return 0, err
		}
	}
	if err == io.EOF && n > 0 {
		return n, nil // the end again on the next Read
	}
	return n, err
}
