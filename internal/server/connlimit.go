package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// clientListener wraps a public listener so that one client address cannot
// hold every connection the process can open (each one costs a goroutine,
// buffers and up to server.maxHeaderBytes while its headers arrive).
//
// A connection from an address that already has max open is closed at once,
// before a byte is read, and counted. Peers in exempt (proxy.trustedProxies:
// an ingress or load balancer, whose connections carry many clients) are
// never limited. IPv6 addresses are counted by /64, the block one host
// usually gets, so an attacker cannot step around the limit by changing the
// interface identifier.
//
// The map holds only addresses with open connections and an entry is
// removed with its last connection, so its size is bounded by the number of
// open connections, itself bounded by the process's file descriptor limit.
type clientListener struct {
	net.Listener
	max     int // > 0
	exempt  []netip.Prefix
	refused prometheus.Counter // may be nil
	log     *slog.Logger

	mu   sync.Mutex
	open map[netip.Addr]int
}

func newClientListener(ln net.Listener, max int, exempt []netip.Prefix, refused prometheus.Counter, log *slog.Logger) *clientListener {
	return &clientListener{Listener: ln, max: max, exempt: exempt, refused: refused, log: log, open: map[netip.Addr]int{}}
}

// Accept returns the next connection whose client is under its limit.
func (l *clientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := l.key(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		l.mu.Lock()
		n := l.open[key]
		if n >= l.max {
			l.mu.Unlock()
			// Counted before the close, which the client may see at once.
			if l.refused != nil {
				l.refused.Inc()
			}
			c.Close()
			l.log.Debug("connection refused: too many open from this client",
				"client", key.String(), "open", n, "limit", "server.maxConnsPerClient")
			continue
		}
		l.open[key] = n + 1
		l.mu.Unlock()
		return &clientConn{Conn: c, l: l, key: key}, nil
	}
}

// key returns the address a connection is counted under, or false for an
// exempt peer (or an address that is not IP).
func (l *clientListener) key(a net.Addr) (netip.Addr, bool) {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return netip.Addr{}, false
	}
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip, true
}

func (l *clientListener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.open[key] - 1; n > 0 {
		l.open[key] = n
	} else {
		delete(l.open, key)
	}
}

// clientConn gives its slot back when closed, however often Close is called
// (the HTTP server and a hijacking handler may both close it).
type clientConn struct {
	net.Conn
	l      *clientListener
	key    netip.Addr
	closed atomic.Bool
}

func (c *clientConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.key)
	}
	return c.Conn.Close()
}

// CloseWrite keeps the TCP half-close that net/http uses to deliver an error
// response (such as 431) before closing, instead of a reset.
func (c *clientConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
