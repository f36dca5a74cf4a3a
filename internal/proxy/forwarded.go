package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"slices"
	"strings"
)

// setForwarded sets X-Forwarded-For, -Host and -Proto on the outbound
// request. From a trusted proxy the chain it sent is kept and extended, and
// its Forwarded header is passed on; from anyone else those headers are
// replaced and Forwarded is dropped (ReverseProxy already removed it from
// the outbound request), so a client cannot forge its address or the
// scheme the site sees. strip (see stripList) names the other headers an
// untrusted peer may not send upstream.
func setForwarded(pr *httputil.ProxyRequest, trusted bool, strip []string) {
	in, out := pr.In, pr.Out
	peer, _ := peerIP(in)
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	host := in.Host
	xff := ""
	if peer.IsValid() {
		xff = peer.String()
	}
	if !trusted {
		// Frameworks believe more than the three headers ReverseProxy
		// strips (-Port, -Prefix, -Ssl, oauth2-proxy's -Email/-User, and
		// the client-address hints): from an untrusted peer none survive.
		for k := range out.Header {
			if strings.HasPrefix(k, "X-Forwarded-") {
				delete(out.Header, k)
			}
		}
		for _, k := range strip {
			delete(out.Header, k)
		}
	}
	if trusted {
		if prior := in.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			chain := ""
			for _, v := range prior {
				if chain != "" {
					chain += ", "
				}
				chain += v
			}
			if xff != "" {
				xff = chain + ", " + xff
			} else {
				xff = chain
			}
		}
		if v := in.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
		if v := in.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			proto = v
		}
		if fwd := in.Header.Values("Forwarded"); len(fwd) > 0 {
			out.Header["Forwarded"] = fwd
		}
	}
	if xff != "" {
		out.Header.Set("X-Forwarded-For", xff)
	}
	out.Header.Set("X-Forwarded-Host", host)
	out.Header.Set("X-Forwarded-Proto", proto)
}

// clientHints are headers that some frameworks read as the client's
// address or the original host, URL or scheme, as if set by a trusted
// proxy (CDNs, load balancers and their plugins: Rails, Express, Django,
// Laravel and Spring read different subsets). Canonical spellings, so the
// outbound header map is indexed without converting.
var clientHints = []string{
	"X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "Cf-Connecting-Ip",
	"Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Originating-Ip",
	"X-Remote-Addr", "X-Remote-Ip", "X-Proxyuser-Ip",
	"X-Forwarded", "Forwarded-For", "X-Original-Forwarded-For",
	"X-Host", "X-Original-Host",
	"X-Original-Url", "X-Rewrite-Url", "Front-End-Https", "X-Url-Scheme",
}

// stripList is clientHints plus extra (e.g. the agent identity headers an
// auth proxy sets), canonicalised and without duplicates.
func stripList(extra []string) []string {
	out := slices.Clone(clientHints)
	for _, h := range extra {
		h = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(h))
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// peerIP is the address of the connection's other end.
func peerIP(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.WithZone("").Unmap(), true
}

// ClientAddr is the client's address: the connection's peer, or, when the
// peer is a trusted proxy, the nearest address in its X-Forwarded-For chain
// that is not itself a trusted proxy. Used for per-client rate limits.
func (p *Proxy) ClientAddr(r *http.Request) netip.Addr {
	peer, ok := peerIP(r)
	if !ok || !p.isTrusted(peer) {
		return peer
	}
	vals := r.Header.Values("X-Forwarded-For")
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for v != "" {
			var last string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				last, v = v[j+1:], v[:j]
			} else {
				last, v = v, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(last))
			if err != nil {
				return peer // a malformed chain: trust nothing in it
			}
			a = a.WithZone("").Unmap()
			if !p.isTrusted(a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

// Scheme is the scheme the client used: https on a TLS connection, or what
// a trusted proxy says in X-Forwarded-Proto.
func (p *Proxy) Scheme(r *http.Request) string {
	return scheme(r, p.trusted(r))
}

func scheme(r *http.Request, trusted bool) string {
	if r.TLS != nil {
		return "https"
	}
	if trusted {
		if v := r.Header.Get("X-Forwarded-Proto"); v == "https" || v == "http" {
			return v
		}
	}
	return "http"
}
