package proxy_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// TestBrokenUpstreamAbortsResponse: when the upstream body is corrupt or
// cut short, the client must see a broken transfer, never a clean EOF that
// makes a partial page look complete.
func TestBrokenUpstreamAbortsResponse(t *testing.T) {
	doc := page(400 << 10)
	gz := encodeWith(t, "gzip", doc)

	corrupt := bytes.Clone(gz)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-8] ^= 0xff // CRC-32 in the gzip trailer

	type tc struct {
		name   string
		serve  func(w http.ResponseWriter) // writes the whole exchange
		accept string
		dest   string
	}
	plain := func(ce string, body []byte, declared int) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			if ce != "" {
				w.Header().Set("Content-Encoding", ce)
			}
			w.Header().Set("Content-Length", fmt.Sprint(declared))
			w.WriteHeader(200)
			w.Write(body)
			// Returning with fewer bytes than declared makes net/http close
			// the connection.
		}
	}
	// hijacked writes a raw response and closes the connection mid-body.
	hijacked := func(head string, body []byte) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			conn, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			bw.WriteString(head)
			bw.Write(body)
			bw.Flush()
		}
	}
	half := doc[:len(doc)/2]
	var cases []tc
	for _, accept := range []string{"", "gzip", "br"} {
		cases = append(cases,
			tc{"corrupt gzip middle/" + accept, plain("gzip", corrupt, len(corrupt)), accept, "document"},
			tc{"gzip bad CRC/" + accept, plain("gzip", badCRC, len(badCRC)), accept, "document"},
			tc{"gzip truncated, Content-Length/" + accept, plain("gzip", gz[:len(gz)/2], len(gz)), accept, "document"},
			tc{"gzip truncated, close-delimited/" + accept, hijacked("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n", gz[:len(gz)/2]), accept, "document"},
		)
	}
	cases = append(cases,
		tc{"identity, hijack and close under Content-Length", hijacked(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(doc)), half), "", "document"},
		tc{"identity, hijack and close mid chunk", hijacked("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"+fmt.Sprintf("%x\r\n", len(doc)), half), "", "document"},
		tc{"identity, short Content-Length", plain("", half, len(doc)), "", "document"},
		tc{"not injected (fetch), short Content-Length", plain("", half, len(doc)), "", "empty"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(w) }))
			defer up.Close()
			e := newEnv(t, up.URL, nil)
			hdr := map[string]string{"Sec-Fetch-Dest": c.dest}
			if c.accept != "" {
				hdr["Accept-Encoding"] = c.accept
			}
			// The upstream's 200 and headers arrive before its body breaks,
			// and the proxy streams: the client gets the 200, then a
			// transfer that fails (never a clean end, never a 502 page).
			res, err := e.client().Do(e.request("GET", "/", hdr))
			if err != nil {
				t.Fatalf("no response: %v; want the upstream's 200, then a broken transfer", err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("status %d; want the upstream's 200, then a broken transfer", res.StatusCode)
			}
			got, err := io.ReadAll(res.Body)
			if err == nil {
				t.Fatalf("client read %d bytes and a clean EOF; want a transfer error", len(got))
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
				t.Errorf("transfer error %v; want an unexpected EOF or a reset connection", err)
			}
			// Whatever arrived must still decode as a prefix of the page: an
			// error, never garbage passed off as content.
			if c.accept == "gzip" && len(got) > 0 {
				zr, err := stdgzip.NewReader(bytes.NewReader(got))
				if err == nil {
					dec, _ := io.ReadAll(zr)
					if rest, _ := stripTag(t, dec); !bytes.HasPrefix(doc, rest) && !strings.Contains(c.name, "corrupt") {
						t.Errorf("client got bytes that are not a prefix of the page")
					}
				}
			}
		})
	}
}

// TestAbortedResponseIsCounted: a response aborted because the upstream body
// broke must still show up in requests_total (and the log), like every other
// proxied request.
func TestAbortedResponseIsCounted(t *testing.T) {
	gz := encodeWith(t, "gzip", page(200<<10))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(len(gz)))
		w.Write(gz[:len(gz)/2])
	}))
	defer up.Close()
	e := newEnv(t, up.URL, nil)
	res, err := e.client().Do(e.request("GET", "/", map[string]string{"Sec-Fetch-Dest": "document", "Accept-Encoding": "gzip"}))
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	deadline := time.Now().Add(time.Second)
	for seriesCount(t, e.reg, "cobrowse_proxy_requests_total") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if seriesCount(t, e.reg, "cobrowse_proxy_requests_total") == 0 {
		t.Errorf("aborted response not counted in cobrowse_proxy_requests_total (upstream_errors series: %d); log:\n%s",
			seriesCount(t, e.reg, "cobrowse_proxy_upstream_errors_total"), e.logs.String())
	}
}

// TestFirstBytesBeforeUpstreamContinues: the loader tag reaches the client
// while the upstream is still paused after <head>.
func TestFirstBytesBeforeUpstreamContinues(t *testing.T) {
	const head = "<!doctype html><html><head>"
	const tail = "<title>Slow</title></head><body>late content</body></html>"
	type flushWriter interface {
		io.WriteCloser
		Flush() error
	}
	newEnc := func(coding string, w io.Writer) flushWriter {
		switch coding {
		case "gzip":
			return gzip.NewWriter(w)
		case "br":
			return brotli.NewWriter(w)
		case "zstd":
			zw, _ := zstd.NewWriter(w)
			return zw
		}
		return nil
	}
	for _, c := range []struct{ upstream, accept string }{
		{"", ""}, {"gzip", "gzip"}, {"gzip", ""}, {"br", "br"}, {"zstd", "zstd"}, {"gzip", "br"},
	} {
		t.Run(fmt.Sprintf("upstream %q client %q", c.upstream, c.accept), func(t *testing.T) {
			release := make(chan struct{})
			var once bool
			defer func() {
				if !once {
					close(release)
				}
			}()
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				var out io.Writer = w
				enc := newEnc(c.upstream, w)
				if enc != nil {
					w.Header().Set("Content-Encoding", c.upstream)
					out = enc
				}
				io.WriteString(out, head)
				if enc != nil {
					enc.Flush()
				}
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(5 * time.Second):
				}
				io.WriteString(out, tail)
				if enc != nil {
					enc.Close()
				}
			}))
			defer up.Close()
			e := newEnv(t, up.URL, nil)
			hdr := map[string]string{"Sec-Fetch-Dest": "document"}
			if c.accept != "" {
				hdr["Accept-Encoding"] = c.accept
			}
			res, err := e.client().Do(e.request("GET", "/", hdr))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if got := res.Header.Get("Content-Encoding"); got != c.accept {
				t.Fatalf("Content-Encoding %q, want %q", got, c.accept)
			}
			var r io.Reader = res.Body
			switch c.accept {
			case "gzip":
				zr, err := stdgzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			case "br":
				r = brotli.NewReader(res.Body)
			case "zstd":
				zr, err := zstd.NewReader(res.Body, zstd.WithDecoderConcurrency(1))
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				r = zr
			}
			// Read until the tag shows up, with the upstream still paused.
			got := make(chan []byte, 1)
			go func() {
				var acc []byte
				buf := make([]byte, 4096)
				for {
					n, err := r.Read(buf)
					acc = append(acc, buf[:n]...)
					if tagRE.Match(acc) || err != nil {
						got <- acc
						return
					}
				}
			}()
			var first []byte
			select {
			case first = <-got:
			case <-time.After(3 * time.Second):
				once = true
				close(release)
				<-got
				t.Fatal("loader tag not received while the upstream was paused after <head>")
			}
			if !tagRE.Match(first) || !strings.HasPrefix(string(first), head) {
				t.Fatalf("first bytes %q", first)
			}
			once = true
			close(release)
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			all, _ := stripTag(t, append(first, rest...))
			if string(all) != head+tail {
				t.Fatalf("page %q", all)
			}
		})
	}
}
