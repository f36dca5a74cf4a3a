package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

func TestModeOff(t *testing.T) {
	m, err := New(context.Background(), Options{TLS: config.TLS{Mode: config.TLSModeOff}})
	if err != nil {
		t.Fatal(err)
	}
	if m.TLSConfig() != nil || m.Ready() != nil || m.Start(context.Background()) != nil || m.Reload() != nil || m.Close() != nil {
		t.Error("mode off should have no TLS config and nothing to do")
	}
	next := http.NotFoundHandler()
	if h := m.HTTPHandler(next); h == nil {
		t.Error("HTTPHandler(next) = nil")
	}
}

func TestTLSConfigSettings(t *testing.T) {
	dir := t.TempDir()
	c, k := newPair(t, "a.test", time.Now().Add(time.Hour))
	certFile, keyFile := dir+"/c", dir+"/k"
	writeFiles(t, certFile, keyFile, c, k, time.Now())
	m, err := New(context.Background(), Options{TLS: config.TLS{Mode: config.TLSModeFiles, Files: config.TLSFiles{CertFile: certFile, KeyFile: keyFile}}})
	if err != nil {
		t.Fatal(err)
	}
	tc := m.TLSConfig()
	if tc.MinVersion != tls.VersionTLS12 || !slices.Equal(tc.NextProtos, []string{"h2", "http/1.1"}) || tc.GetCertificate == nil {
		t.Errorf("TLS config %+v", tc)
	}
	for _, id := range tc.CipherSuites {
		for _, insecure := range tls.InsecureCipherSuites() {
			if id == insecure.ID {
				t.Errorf("insecure suite %s offered", insecure.Name)
			}
		}
	}
	tc.NextProtos[0] = "changed"
	if m.TLSConfig().NextProtos[0] != "h2" {
		t.Error("TLSConfig returns a shared copy")
	}
}

func TestRedirectToHTTPS(t *testing.T) {
	tests := []struct {
		port, host, target, want string
		code                     int
	}{
		{"8443", "shop.example.com", "/a?b=c", "https://shop.example.com:8443/a?b=c", 308},
		{"8443", "shop.example.com:8080", "/", "https://shop.example.com:8443/", 308},
		{"443", "shop.example.com:80", "/x", "https://shop.example.com/x", 308},
		{"", "shop.example.com", "/x", "https://shop.example.com/x", 308},
		{"443", "[2001:db8::1]:8080", "/x", "https://[2001:db8::1]/x", 308},
		{"8443", "[2001:db8::1]", "/x", "https://[2001:db8::1]:8443/x", 308},
		{"443", "192.0.2.1", "/", "https://192.0.2.1/", 308},
		{"443", "evil.com/@x", "/", "", 400},
		{"443", "", "/", "", 400},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, tt.target, nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		RedirectToHTTPS(tt.port).ServeHTTP(w, r)
		if w.Code != tt.code || w.Header().Get("Location") != tt.want {
			t.Errorf("port %q Host %q %s: %d %q, want %d %q", tt.port, tt.host, tt.target, w.Code, w.Header().Get("Location"), tt.code, tt.want)
		}
	}
}

func TestHSTS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		maxAge time.Duration
		sub    bool
		tls    bool
		want   string
	}{
		{365 * 24 * time.Hour, true, true, "max-age=31536000; includeSubDomains"},
		{time.Hour, false, true, "max-age=3600"},
		{time.Hour, false, false, ""},
		{0, true, true, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		HSTS(tt.maxAge, tt.sub)(ok).ServeHTTP(w, r)
		if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
			t.Errorf("HSTS(%s, %t) tls=%t: %q, want %q", tt.maxAge, tt.sub, tt.tls, got, tt.want)
		}
	}
	// An upstream's own header, copied in by the proxy, is replaced, not doubled.
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Strict-Transport-Security", "max-age=60")
		w.WriteHeader(200)
	})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	HSTS(time.Hour, false)(upstream).ServeHTTP(w, r)
	if got := w.Result().Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != "max-age=3600" {
		t.Errorf("with an upstream header: %q", got)
	}
}

func TestMatchAny(t *testing.T) {
	pats := []string{"*.customers.test", "exact.test"}
	for name, want := range map[string]bool{
		"a.customers.test": true, "exact.test": true, "customers.test": false,
		"a.b.customers.test": false, "x.exact.test": false, ".customers.test": false,
	} {
		if got := matchAny(pats, name); got != want {
			t.Errorf("matchAny(%q) = %t", name, got)
		}
	}
}

func TestDecider(t *testing.T) {
	var asked atomic.Int32
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.URL.Query().Get("domain") != "yes.customers.test" && r.URL.Query().Get("domain") != "also.customers.test" {
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer ask.Close()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	d := newDecider(config.TLSOnDemand{Enabled: true, Allow: []string{"*.customers.test"}, Ask: ask.URL + "/check?k=v", RatePerMinute: 1},
		map[string]bool{"shop.test": true}, Options{Now: clock, Logger: testLogger(t)})
	ctx := context.Background()

	if err := d.decide(ctx, "shop.test"); err != nil {
		t.Errorf("listed name refused: %v", err)
	}
	if err := d.decide(ctx, "evil.test"); !errors.Is(err, errOnDemandRefused) || asked.Load() != 0 {
		t.Errorf("name outside allow: %v, asked %d times (want 0)", err, asked.Load())
	}
	if err := d.decide(ctx, "no.customers.test"); !errors.Is(err, errOnDemandRefused) {
		t.Errorf("ask said no: %v", err)
	}
	if err := d.decide(ctx, "yes.customers.test"); err != nil {
		t.Errorf("allowed and asked: %v", err)
	}
	if err := d.decide(ctx, "also.customers.test"); !errors.Is(err, errOnDemandRefused) {
		t.Errorf("over the rate: %v", err)
	}
	now = now.Add(time.Minute)
	if err := d.decide(ctx, "also.customers.test"); err != nil {
		t.Errorf("after a minute: %v", err)
	}

	// A certificate already in storage is loaded or renewed without
	// rate-limit budget; a name no site serves is refused before anything.
	d.stored = func(_ context.Context, name string) bool { return name == "yes.customers.test" }
	d.decide(ctx, "also.customers.test") // spend the budget
	if err := d.decide(ctx, "yes.customers.test"); err != nil {
		t.Errorf("stored certificate refused for want of budget: %v", err)
	}
	// The ask URL is called at most 10 x ratePerMinute times a minute.
	d.stored = nil
	calls := asked.Load()
	for range 30 {
		d.decide(ctx, "no.customers.test")
	}
	if n := asked.Load() - calls; n > 10 {
		t.Errorf("ask called %d times in a burst, want at most 10", n)
	}
	d.serves = func(name string) bool { return name != "yes.customers.test" }
	before := asked.Load()
	if err := d.decide(ctx, "yes.customers.test"); !errors.Is(err, errOnDemandRefused) || asked.Load() != before {
		t.Errorf("a name no site serves: %v, asked %d more", err, asked.Load()-before)
	}
}

// With Serves, the HTTP listener redirects only hosts a site serves and
// hands the others to next (the router, which refuses them).
func TestHTTPHandlerStrangers(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := newPair(t, "shop.test", time.Now().Add(24*time.Hour))
	writeFiles(t, dir+"/tls.crt", dir+"/tls.key", certPEM, keyPEM, time.Now())
	m, err := New(context.Background(), Options{
		TLS: config.TLS{Mode: config.TLSModeFiles, Files: config.TLSFiles{
			CertFile: dir + "/tls.crt", KeyFile: dir + "/tls.key", ReloadInterval: time.Minute}},
		HTTPSAddr: "127.0.0.1:8443",
		Serves:    func(h string) bool { return h == "shop.test" },
		Logger:    testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusMisdirectedRequest) })
	h := m.HTTPHandler(refuse)
	for _, c := range []struct {
		host string
		code int
	}{{"shop.test", 308}, {"shop.test:8080", 308}, {"evil.test", 421}} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code {
			t.Errorf("Host %s: %d, want %d", c.host, w.Code, c.code)
		}
	}
}
