package proxy_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/proxy"
)

// pageUpstream serves body, gzip-compressed when coding is "gzip", with
// its length, in one write.
func pageUpstream(t *testing.T, body []byte, coding string) *httptest.Server {
	t.Helper()
	sent := body
	if coding == "gzip" {
		var b bytes.Buffer
		zw := stdgzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		sent = b.Bytes()
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(sent)))
		if coding != "" {
			w.Header().Set("Content-Encoding", coding)
		}
		w.Write(sent)
	}))
	t.Cleanup(up.Close)
	return up
}

// gunzip decodes a whole gzip body.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := stdgzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	return out
}

// writeCounter counts the Write calls on the connections it accepts: each
// is one write(2) of the proxy to the client.
type writeCounter struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, n: &l.writes}, nil
}

type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// TestInjectedPageWrites: an injected page that the upstream sends at once
// leaves in a few writes, not one or two per piece the rewriter or the
// compressor produced (ReverseProxy flushed after each; before the change
// 5, 4, 13, 7 and 104 writes): the head is flushed, and the rest goes in
// pieces of 32 KiB. Chunked, a piece of more than 4 KiB is two writes
// (net/http buffers 4 KiB of a connection, and the chunk's header goes
// there first); with the length known (TestKnownLength) it is one: 4, 9 and
// 67 writes before that, for the plain pages. The head that overflows the
// connection's 4 KiB buffer leaves in one write, its overflow with the
// next bytes (TestHeadSplit): 3 writes for 10 KB before that.
func TestInjectedPageWrites(t *testing.T) {
	for _, tc := range []struct {
		size      int
		coding    string // upstream and client
		maxWrites int64
	}{
		{10 << 10, "", 2},
		{10 << 10, "gzip", 2},
		{100 << 10, "", 6},
		{100 << 10, "gzip", 2},
		{1 << 20, "", 35},
	} {
		t.Run(fmt.Sprintf("%dKiB %q", tc.size>>10, tc.coding), func(t *testing.T) {
			body := page(tc.size)
			up := pageUpstream(t, body, tc.coding)
			// A flush delay longer than the test: only the flushes the
			// page's structure asks for happen, however slow the machine.
			d := newDirect(t, up.URL, proxy.Options{FlushDelay: time.Hour}, nil)
			lc := &writeCounter{}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.p.ServeSite(d.site, w, r) }))
			lc.Listener = srv.Listener
			srv.Listener = lc
			srv.Start()
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = siteHost
			req.Header.Set("Sec-Fetch-Dest", "document")
			if tc.coding != "" {
				req.Header.Set("Accept-Encoding", tc.coding)
			}
			res, err := d.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if tc.coding == "gzip" {
				got = gunzip(t, got)
			}
			if want := bytes.Replace(body, []byte("<head>"), []byte("<head>"+directTag), 1); res.StatusCode != 200 || !bytes.Equal(got, want) {
				t.Fatalf("status %d; the page is not the upstream's with the tag after <head>", res.StatusCode)
			}
			if n := lc.writes.Load(); n > tc.maxWrites || n < 1 {
				t.Errorf("%d writes to the client, want 1..%d", n, tc.maxWrites)
			} else {
				t.Logf("%d writes", n)
			}
		})
	}
}

// TestHeldBackBytesLeave: bytes that follow the head are held back for
// more, but not for long: while the upstream pauses they reach the client
// after the flush delay, compressed or not.
func TestHeldBackBytesLeave(t *testing.T) {
	const head = "<!doctype html><html><head><title>Slow</title></head><body><p>first part</p>"
	for _, coding := range []string{"", "gzip"} {
		t.Run(fmt.Sprintf("%q", coding), func(t *testing.T) {
			headSeen, release := make(chan struct{}), make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				var out io.Writer = w
				var zw *stdgzip.Writer
				if coding != "" {
					w.Header().Set("Content-Encoding", coding)
					zw = stdgzip.NewWriter(w)
					out = zw
				}
				flush := func() {
					if zw != nil {
						zw.Flush()
					}
					w.(http.Flusher).Flush()
				}
				io.WriteString(out, "<!doctype html><html><head>")
				flush()
				select {
				case <-headSeen:
				case <-r.Context().Done():
					return
				}
				io.WriteString(out, head[len("<!doctype html><html><head>"):])
				flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(out, "<p>late</p></body></html>")
				if zw != nil {
					zw.Close()
				}
			}))
			defer up.Close()
			defer close(release)
			d := newDirect(t, up.URL, proxy.Options{FlushDelay: 20 * time.Millisecond}, nil)
			hdr := map[string]string{"Sec-Fetch-Dest": "document"}
			if coding != "" {
				hdr["Accept-Encoding"] = coding
			}
			res, err := d.client().Do(d.request(t.Context(), "GET", "/", hdr))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var r io.Reader = res.Body
			if coding != "" {
				zr, err := stdgzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			}
			got := make(chan string, 2)
			go func() {
				var b []byte
				buf := make([]byte, 1024)
				sentHead := false
				for {
					n, err := r.Read(buf)
					b = append(b, buf[:n]...)
					if !sentHead && bytes.Contains(b, []byte(directTag)) {
						sentHead = true
						close(headSeen)
					}
					if bytes.Contains(b, []byte("first part")) || err != nil {
						got <- string(b)
						return
					}
				}
			}()
			select {
			case b := <-got:
				if want := "<!doctype html><html><head>" + directTag + head[len("<!doctype html><html><head>"):]; b != want {
					t.Fatalf("got %q, want %q", b, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the bytes after the head did not reach the client while the upstream paused")
			}
		})
	}
}

// TestInjectedOverHTTP2: with TLS, clients speak HTTP/2, and an injected
// page arrives whole there too, compressed or not.
func TestInjectedOverHTTP2(t *testing.T) {
	for _, tc := range []struct {
		size   int
		coding string
	}{{10 << 10, ""}, {10 << 10, "gzip"}, {300 << 10, ""}, {300 << 10, "gzip"}} {
		t.Run(fmt.Sprintf("%dKiB %q", tc.size>>10, tc.coding), func(t *testing.T) {
			body := page(tc.size)
			up := pageUpstream(t, body, tc.coding)
			d := newDirect(t, up.URL, proxy.Options{}, nil)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.p.ServeSite(d.site, w, r) }))
			srv.EnableHTTP2 = true
			srv.StartTLS()
			defer srv.Close()
			c := srv.Client()
			c.Transport.(*http.Transport).DisableCompression = true
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = siteHost
			req.Header.Set("Sec-Fetch-Dest", "document")
			if tc.coding != "" {
				req.Header.Set("Accept-Encoding", tc.coding)
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.ProtoMajor != 2 {
				t.Fatalf("protocol %s, want HTTP/2", res.Proto)
			}
			if tc.coding == "gzip" {
				got = gunzip(t, got)
			}
			if want := bytes.Replace(body, []byte("<head>"), []byte("<head>"+directTag), 1); !bytes.Equal(got, want) {
				t.Fatal("the page is not the upstream's with the tag after <head>")
			}
		})
	}
}

// TestHeadAtOnceRestHeld: with a long flush delay, the head reaches the
// client at once while the upstream pauses, and the bytes after it are
// held back (for the delay, which has not passed) until more come.
func TestHeadAtOnceRestHeld(t *testing.T) {
	const head = "<!doctype html><html><head>"
	const part = "<title>Slow</title></head><body><p>first part</p>"
	release, headSeen, partSent := make(chan struct{}), make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, head)
		w.(http.Flusher).Flush()
		select {
		case <-headSeen:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, part)
		w.(http.Flusher).Flush()
		close(partSent)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "<p>late</p></body></html>")
	}))
	defer up.Close()
	d := newDirect(t, up.URL, proxy.Options{FlushDelay: time.Hour}, nil)
	res, err := d.client().Do(d.request(t.Context(), "GET", "/", map[string]string{"Sec-Fetch-Dest": "document"}))
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer res.Body.Close()
	got := make(chan []byte, 8)
	go func() {
		for {
			buf := make([]byte, 4096)
			n, err := res.Body.Read(buf)
			if n > 0 {
				got <- buf[:n]
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	var b []byte
	for !bytes.Contains(b, []byte(directTag)) {
		select {
		case p := <-got:
			b = append(b, p...)
		case <-time.After(5 * time.Second):
			close(release)
			t.Fatalf("the head did not come while the upstream paused (got %q)", b)
		}
	}
	close(headSeen)
	<-partSent
	// The upstream has sent the part and pauses; the proxy holds it back
	// (the delay is an hour). 300 ms of nothing proves little alone, but
	// with the 5 ms default delay it would have come.
	select {
	case p := <-got:
		close(release)
		t.Fatalf("bytes after the head were sent before the delay: %q", p)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	for p := range got {
		b = append(b, p...)
	}
	if want := head + directTag + part + "<p>late</p></body></html>"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}

// TestWholePageLength: a page that has all arrived before any of it is sent
// (its end came with its first read) leaves whole, with its Content-Length;
// with trailers, announced or not, it stays chunked and the trailers come
// after the body, never among the headers.
func TestWholePageLength(t *testing.T) {
	body := page(2000)
	want := string(bytes.Replace(body, []byte("<head>"), []byte("<head>"+directTag), 1))
	for _, tc := range []struct {
		name     string
		trailers func(w http.ResponseWriter) // before the body
		late     func(w http.ResponseWriter) // after it
		wantTr   map[string]string
	}{
		{name: "plain"},
		{
			name:     "announced trailer",
			trailers: func(w http.ResponseWriter) { w.Header().Set("Trailer", "X-Sum") },
			late:     func(w http.ResponseWriter) { w.Header().Set("X-Sum", "abc") },
			wantTr:   map[string]string{"X-Sum": "abc"},
		},
		{
			name:   "unannounced trailer",
			late:   func(w http.ResponseWriter) { w.Header().Set(http.TrailerPrefix+"X-Late", "v") },
			wantTr: map[string]string{"X-Late": "v"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if tc.trailers != nil {
					tc.trailers(w)
				}
				w.Write(body)
				if tc.late != nil {
					tc.late(w)
				}
			}))
			t.Cleanup(up.Close)
			d := newDirect(t, up.URL, proxy.Options{FlushDelay: time.Hour}, nil)
			res, got := d.get("/", map[string]string{"Sec-Fetch-Dest": "document"})
			if got != want {
				t.Fatalf("body is not the page with the tag after <head>: %q", got[:min(len(got), 120)])
			}
			if tc.wantTr == nil {
				if res.ContentLength != int64(len(want)) || len(res.TransferEncoding) != 0 {
					t.Errorf("Content-Length %d, Transfer-Encoding %v; want %d, none", res.ContentLength, res.TransferEncoding, len(want))
				}
				return
			}
			if res.ContentLength != -1 {
				t.Errorf("Content-Length %d with trailers; want chunked", res.ContentLength)
			}
			for k, v := range tc.wantTr {
				if g := res.Trailer.Get(k); g != v {
					t.Errorf("trailer %s = %q, want %q", k, g, v)
				}
				if g := res.Header.Get(k); g != "" {
					t.Errorf("trailer %s also sent as a header (%q)", k, g)
				}
			}
		})
	}
}

// TestKnownLength: a plain page whose upstream gave its length is sent with
// the injected length (the upstream's plus what the rewriter added: the
// tag, a merged meta policy) as soon as the head has passed, before the
// rest of the page has even left the upstream; net/http then writes the
// body without chunks. A page re-encoded for the client, or whose upstream
// sent no length, stays chunked.
func TestKnownLength(t *testing.T) {
	head := "<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"img-src 'self'\"><title>t</title></head>\n"
	rest := page(100 << 10)
	for _, tc := range []struct {
		name    string
		coding  string // upstream and client
		length  bool   // the upstream sends a Content-Length
		want    bool   // Content-Length expected
		metaCSP bool
	}{
		{"plain", "", true, true, false},
		{"meta policy merged", "", true, true, true},
		{"no upstream length", "", false, false, true},
		{"gzip", "gzip", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, second := []byte(head), rest
			if tc.coding == "gzip" { // one stream, cut after its first flush
				var b bytes.Buffer
				zw := stdgzip.NewWriter(&b)
				zw.Write(first)
				zw.Flush()
				n := b.Len()
				zw.Write(second)
				zw.Close()
				first, second = b.Bytes()[:n], b.Bytes()[n:]
			}
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if tc.coding != "" {
					w.Header().Set("Content-Encoding", tc.coding)
				}
				if tc.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(first)+len(second)))
				}
				w.Write(first)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				w.Write(second)
			}))
			t.Cleanup(up.Close)
			var released bool
			defer func() {
				if !released {
					close(release)
				}
			}()
			d := newDirect(t, up.URL, proxy.Options{FlushDelay: time.Hour}, func(s *proxy.Site) {
				if tc.metaCSP {
					s.CSP = &proxy.CSP{Merger: csp.NewMerger(csp.MergeOptions{Sources: csp.DefaultSources(), Prefix: "/__cobrowse"})}
				}
			})
			req := d.request(context.Background(), "GET", "/", map[string]string{"Sec-Fetch-Dest": "document"})
			if tc.coding != "" {
				req.Header.Set("Accept-Encoding", tc.coding)
			}
			res, err := d.client().Do(req) // returns with the headers, while the upstream holds the rest
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			close(release)
			released = true
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("reading the page: %v", err)
			}
			if tc.coding == "gzip" {
				body = gunzip(t, body)
			}
			if !bytes.Contains(body, []byte(directTag)) || !bytes.HasSuffix(body, rest) {
				t.Fatalf("not the injected page: %q", body[:min(len(body), 200)])
			}
			if tc.metaCSP && tc.coding == "" && !bytes.Contains(body, []byte("https://*.zoom.us")) {
				t.Fatalf("meta policy not merged: %q", body[:min(len(body), 300)])
			}
			switch {
			case tc.want && res.ContentLength != int64(len(body)):
				t.Errorf("Content-Length %d, want %d (the injected page's)", res.ContentLength, len(body))
			case !tc.want && res.ContentLength != -1:
				t.Errorf("Content-Length %d, want none (chunked)", res.ContentLength)
			}
		})
	}
}

// TestHeadSplit: the head is flushed at once (as much of it as the
// rewriter has read: 4 KiB and the tag), but what of it overflows
// net/http's 4 KiB connection buffer on HTTP/1 waits for the next bytes
// (here: the flush delay, an hour) instead of taking a write of its own,
// as long as the loader tag is in what goes. A tag beyond that buffer, or
// HTTP/2 (no such buffer), sends all the rewriter gave.
func TestHeadSplit(t *testing.T) {
	filler := "<link rel=stylesheet href=/a.css>\n"
	bigHead := "<!doctype html><html><head><title>t</title>" + strings.Repeat(filler, 5000/len(filler))
	lateTag := "<!doctype html><!--" + strings.Repeat("x", 5000) + "--><html><head><title>t</title>"
	for _, tc := range []struct {
		name      string
		first     string
		h2        bool
		wantSplit bool // less than the connection buffer arrives while the upstream pauses
	}{
		{"HTTP/1, tag early", bigHead, false, true},
		{"HTTP/1, tag late", lateTag, false, false},
		{"HTTP/2, tag early", bigHead, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The head in one write(2), so that it arrives whole (net/http
				// would cut it at 4 KiB).
				conn, bw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(tc.first), tc.first)
				bw.Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				rest := "</head><body>x</body></html>"
				fmt.Fprintf(bw, "%x\r\n%s\r\n0\r\n\r\n", len(rest), rest)
				bw.Flush()
			}))
			defer up.Close()
			defer close(release)
			d := newDirect(t, up.URL, proxy.Options{FlushDelay: time.Hour}, nil)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.p.ServeSite(d.site, w, r) }))
			srv.EnableHTTP2 = tc.h2
			srv.StartTLS()
			defer srv.Close()
			c := srv.Client()
			c.Transport.(*http.Transport).DisableCompression = true
			req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/", nil)
			req.Host = siteHost
			req.Header.Set("Sec-Fetch-Dest", "document")
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if (res.ProtoMajor == 2) != tc.h2 {
				t.Fatalf("protocol %s", res.Proto)
			}
			want := strings.Replace(tc.first, "<head>", "<head>"+directTag, 1)
			got := make(chan []byte, 64)
			go func() {
				for {
					buf := make([]byte, 1024)
					n, err := res.Body.Read(buf)
					if n > 0 {
						got <- buf[:n]
					}
					if err != nil {
						return
					}
				}
			}()
			// What arrives while the upstream pauses: the tag at least, then
			// nothing more for 300 ms (or the whole head).
			var b []byte
			quiet := time.After(5 * time.Second)
			for len(b) < len(want) {
				select {
				case p := <-got:
					b = append(b, p...)
					if bytes.Contains(b, []byte(directTag)) {
						quiet = time.After(300 * time.Millisecond)
					}
					continue
				case <-quiet:
				}
				break
			}
			if !bytes.Contains(b, []byte(directTag)) {
				t.Fatalf("the loader tag did not come while the upstream paused (%d bytes)", len(b))
			}
			if split := len(b) < 4096; split != tc.wantSplit {
				t.Errorf("%d of the head's %d bytes came while the upstream paused; want fewer than 4096: %v", len(b), len(want), tc.wantSplit)
			}
			if !bytes.HasPrefix([]byte(want), b) {
				t.Errorf("the bytes that came are not the head's")
			}
		})
	}
}
