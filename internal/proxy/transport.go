package proxy

import (
	"net"
	"net/http"
	"time"
)

// TransportOptions are the upstream connection settings.
type TransportOptions struct {
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	IdleConnTimeout       time.Duration
	// MaxIdleConnsPerHost is how many idle connections to one upstream are
	// kept for reuse. It should be at least the peak number of concurrent
	// requests to that upstream: at a peak of N, up to N connections are
	// open, and every one beyond the pool is closed by the proxy when its
	// request ends, which leaves a TIME_WAIT socket on the proxy's side for
	// a minute and costs a new handshake for the next request. 1,000
	// keep-alive clients for 20 s on loopback left 13,403 TIME_WAIT sockets
	// with a pool of 64 and 30 to 65 with 1024 (and served 40-75% more requests).
	// An idle connection costs a few KiB here and at the upstream, and is
	// closed after IdleConnTimeout; the config default is 1024.
	MaxIdleConnsPerHost int
}

// NewTransport returns the upstream transport. Compression is left to the
// client and the upstream (DisableCompression): the transport must not add
// Accept-Encoding or decode bodies behind the rewriter's back.
func NewTransport(o TransportOptions) *http.Transport {
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // upstreams come from config only, never from environment proxies
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   o.TLSHandshakeTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		IdleConnTimeout:       o.IdleConnTimeout,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		ReadBufferSize:        upstreamReadBuffer,
	}
}

// upstreamReadBuffer is the read buffer of each upstream connection. The
// first read of a response fills it: with net/http's default of 4 KiB, a
// 10 KB page takes two reads, and the rewriter sees its head before its
// end, so the head is sent on its own (see rewriteBody.Read); with 16 KiB
// such a page comes in one read and leaves whole, with a Content-Length.
// Larger bodies are read straight into the copy buffer, past this one.
// It costs 12 KiB more per open upstream connection.
const upstreamReadBuffer = 16 << 10
