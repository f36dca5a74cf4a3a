package proxy_test

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
)

// TestUpstreamKeepAlive: upstream connections send TCP keep-alive probes
// after 30 s idle (Go's default would be 15 s), so that a NAT or firewall
// between the proxy and the upstream does not drop a pooled connection
// unnoticed. Linux only: it reads the socket options.
func TestUpstreamKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tr := proxy.NewTransport(proxy.TransportOptions{DialTimeout: 5 * time.Second})
	defer tr.CloseIdleConnections()
	c, err := tr.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		for _, o := range []struct {
			name       string
			level, opt int
		}{
			{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
			{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
		} {
			v, err := syscall.GetsockoptInt(int(fd), o.level, o.opt)
			if err != nil {
				serr = err
				return
			}
			got[o.name] = v
		}
	}); err != nil || serr != nil {
		t.Fatalf("reading socket options: %v, %v", err, serr)
	}
	want := map[string]int{"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 30}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d; want %d", k, got[k], v)
		}
	}
}
