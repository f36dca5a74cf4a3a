package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRedirectToHTTPSIPv6: the Location is a valid URL for an IPv6 literal
// Host, with or without a port, whether the HTTPS port is 443 (left out of the
// Location) or another one.
func TestRedirectToHTTPSIPv6(t *testing.T) {
	for _, tc := range []struct {
		httpsPort  int
		host, want string
	}{
		{443, "shop.example.com", "https://shop.example.com/x?y"},
		{443, "shop.example.com:80", "https://shop.example.com/x?y"},
		{443, "[::1]:80", "https://[::1]/x?y"},
		{443, "[::1]", "https://[::1]/x?y"},
		{8443, "[::1]:8080", "https://[::1]:8443/x?y"},
		{8443, "[::1]", "https://[::1]:8443/x?y"},
	} {
		testRedirect(t, tc.httpsPort, tc.host, tc.want)
	}
}

func testRedirect(t *testing.T, httpsPort int, host, want string) {
	t.Helper()
	s := httptest.NewServer(redirectToHTTPS(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: httpsPort}))
	defer s.Close()
	rt := &http.Transport{DisableKeepAlives: true} // RoundTrip does not parse Location
	for _, tc := range []struct{ host, want string }{{host, want}} {
		req, _ := http.NewRequest("GET", s.URL+"/x?y", nil)
		req.Host = tc.host
		res, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusPermanentRedirect || loc != tc.want {
			t.Errorf("HTTPS port %d, Host %q: %d Location %q, want 308 %q", httpsPort, tc.host, res.StatusCode, loc, tc.want)
		}
	}
}
