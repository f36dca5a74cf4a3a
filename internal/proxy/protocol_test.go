package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawExchange sends req as written on a new connection to the proxy and
// reads one response (the whole body, which may end with an error).
func rawExchange(t *testing.T, e *env, req, method string) (*http.Response, []byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// TestHeadMatchesGet: HEAD on a page that GET would inject announces what
// GET sends, not the upstream's Content-Length for a body GET makes longer.
// HEAD has no Content-Length then: the injected length is known only once
// the page has passed, which is when GET (for a page that passes before
// any of it is sent) announces it; RFC 9110 9.3.2 lets HEAD omit such a
// field, and 8.6 forbids a HEAD length different from GET's.
func TestHeadMatchesGet(t *testing.T) {
	doc := page(2000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		w.Header().Set("ETag", `"v1"`)
		if r.Method != http.MethodHead {
			w.Write(doc)
		}
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, nil)
	for _, dest := range []string{"document", "iframe", ""} {
		hdr := map[string]string{"Sec-Fetch-Dest": dest}
		get, body := e.do(e.request("GET", "/", hdr))
		if _, at := stripTag(t, body); at < 0 && dest != "" {
			t.Fatalf("%q: GET not injected", dest)
		}
		head, _ := e.do(e.request("HEAD", "/", hdr))
		if cl := head.Header.Get("Content-Length"); cl != "" {
			t.Errorf("%q: HEAD announces Content-Length %s; GET sends %d bytes", dest, cl, len(body))
		}
		if cl := get.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("%q: GET of a page that arrived whole: Content-Length %q, want %d", dest, cl, len(body))
		}
		for _, h := range []string{"ETag", "Vary", "Content-Encoding", "Content-Type"} {
			if g, h2 := strings.Join(get.Header.Values(h), ","), strings.Join(head.Header.Values(h), ","); g != h2 {
				t.Errorf("%q: %s: GET %q, HEAD %q", dest, h, g, h2)
			}
		}
	}
	// A response GET would not inject keeps the upstream's length on HEAD.
	head, _ := e.do(e.request("HEAD", "/", map[string]string{"Sec-Fetch-Dest": "empty"}))
	if cl := head.Header.Get("Content-Length"); cl != strconv.Itoa(len(doc)) {
		t.Errorf("HEAD for a fetch: Content-Length %q, want the upstream's %d", cl, len(doc))
	}
}

// TestHTTP10NotInjected: an HTTP/1.0 client cannot be sent chunked
// encoding, so an injected page (whose length is not known in advance)
// would reach it close-delimited, and an upstream that dies mid-page would
// look like a complete page. It gets the upstream's bytes and
// Content-Length instead.
func TestHTTP10NotInjected(t *testing.T) {
	doc := page(2000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		w.Write(doc)
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, nil)
	res, body, err := rawExchange(t, e, "GET / HTTP/1.0\r\nHost: "+siteHost+"\r\nSec-Fetch-Dest: document\r\n\r\n", "GET")
	if err != nil {
		t.Fatal(err)
	}
	if res.ContentLength != int64(len(doc)) || string(body) != string(doc) {
		t.Errorf("HTTP/1.0: Content-Length %d, %d bytes (equal to the page: %v); want the page unchanged with its length",
			res.ContentLength, len(body), string(body) == string(doc))
	}
	// HTTP/1.1 clients still get the loader.
	if _, got := e.do(e.request("GET", "/", map[string]string{"Sec-Fetch-Dest": "document"})); !tagRE.Match(got) {
		t.Error("HTTP/1.1: not injected")
	}
}

// TestMalformedRequestBodyIsAClientError: a request body whose chunked
// encoding is broken is the client's fault: 400, counted as client_body,
// not as an upstream error.
func TestMalformedRequestBodyIsAClientError(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, up.URL, nil)
	req := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\nzz\r\n\r\n", siteHost)
	res, _, _ := rawExchange(t, e, req, "POST")
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", res.StatusCode)
	}
	eventually(t, "client_body counted", func() bool {
		return labelValue(t, e.reg, "cobrowse_proxy_client_errors_total", map[string]string{"site": "shop", "kind": "client_body"}) == 1
	})
	if n := seriesCount(t, e.reg, "cobrowse_proxy_upstream_errors_total"); n != 0 {
		t.Errorf("%d upstream_errors_total series, want none", n)
	}
}
