package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	testKey    = "sdk-key-public"
	testSecret = "s3cr3t-Zz9-THIS-MUST-NEVER-LEAK-4f1c"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a Service behind a real listener, with its clock, log and metrics.
type env struct {
	t     *testing.T
	svc   *Service
	srv   *httptest.Server
	clock *clock
	log   *bytes.Buffer
	reg   *prometheus.Registry
	// bodies collects every response body, for the leak test.
	mu     sync.Mutex
	bodies [][]byte
}

type logBuf struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// newEnv builds a service; mutate may change the options first. The client
// address for rate limits comes from the X-Test-Client header when set, as a
// trusted-proxy-aware ClientAddr would, so tests can play several clients.
func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), log: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	o := Options{
		SDKKey: testKey,
		Secret: StaticSecret(testSecret),
		Now:    e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(&logBuf{b: e.log}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ClientAddr: func(r *http.Request) netip.Addr {
			if s := r.Header.Get("X-Test-Client"); s != "" {
				return netip.MustParseAddr(s)
			}
			return RemoteAddr(r)
		},
		Metrics: NewMetrics(e.reg),
	}
	if mutate != nil {
		mutate(&o)
	}
	svc, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.svc = svc
	mux := http.NewServeMux()
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	mux.Handle(prefix+"/token", svc.Token)
	mux.Handle(prefix+"/agent/login", svc.Login)
	mux.Handle(prefix+"/agent/logout", svc.Logout)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) errs() []fieldError {
	var v struct{ Errors []fieldError }
	_ = json.Unmarshal(r.body, &v)
	return v.Errors
}

func (r resp) token(t *testing.T) tokenResponse {
	t.Helper()
	var v tokenResponse
	if err := json.Unmarshal(r.body, &v); err != nil || v.Token == "" {
		t.Fatalf("no token in %d %s", r.status, r.body)
	}
	return v
}

// do sends a request; hdr values are set as given ("Host" sets the Host).
func (e *env) do(method, path, contentType, body string, hdr map[string]string, cookies ...*http.Cookie) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, b, []byte(res.Header.Get("Set-Cookie")), []byte(res.Header.Get("Location")))
	e.mu.Unlock()
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// origin is the origin of the test server, as a browser page on it sends.
func (e *env) origin() string { return e.srv.URL }

// sameOrigin are the headers a browser page of the site sends.
func (e *env) sameOrigin() map[string]string {
	return map[string]string{"Origin": e.origin(), "Sec-Fetch-Site": "same-origin"}
}

// postToken posts a JSON body to /token as a same-origin page.
func (e *env) postToken(body string, extra map[string]string) resp {
	e.t.Helper()
	h := e.sameOrigin()
	for k, v := range extra {
		h[k] = v
	}
	return e.do(http.MethodPost, DefaultPrefix+"/token", "application/json", body, h)
}

// verifyJWT checks tok independently of golang-jwt: it splits, decodes and
// recomputes the HMAC-SHA256 by hand, and returns the header and the raw
// claims (raw, so a test can see whether a value is a JSON number).
func verifyJWT(t *testing.T, tok string, secret []byte) (map[string]string, map[string]json.RawMessage) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature encoding: %v", err)
	}
	if !hmac.Equal(sig, m.Sum(nil)) {
		t.Fatalf("signature does not verify with the expected secret")
	}
	var hdr map[string]string
	decodeSeg(t, parts[0], &hdr)
	var claims map[string]json.RawMessage
	decodeSeg(t, parts[1], &claims)
	return hdr, claims
}

func signatureValid(tok string, secret []byte) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	return hmac.Equal(sig, m.Sum(nil))
}

func decodeSeg(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment is not base64url without padding: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("segment %s: %v", b, err)
	}
}

// num returns a raw claim as an integer, failing unless it is a JSON number.
func num(t *testing.T, claims map[string]json.RawMessage, name string) int64 {
	t.Helper()
	raw, ok := claims[name]
	if !ok {
		t.Fatalf("claim %s missing", name)
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	n, ok = v.(json.Number)
	if !ok {
		t.Fatalf("claim %s = %s is not a JSON number", name, raw)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %s = %s is not an integer", name, raw)
	}
	return i
}

func str(t *testing.T, claims map[string]json.RawMessage, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(claims[name], &s); err != nil {
		t.Fatalf("claim %s = %s is not a string", name, claims[name])
	}
	return s
}
