package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

// TestCompressionLevelsReachTheEncoders: server.compression's levels are
// the ones run encodes injected pages with. The same compressed upstream
// page, injected and re-encoded by a proxy configured with the fastest
// level and by one configured with a high level, reaches the client
// smaller from the second, for every coding; both decode to the page with
// the loader in it.
func TestCompressionLevelsReachTheEncoders(t *testing.T) {
	var page bytes.Buffer
	page.WriteString("<!doctype html><html><head><title>shop</title></head><body>\n")
	for i := 0; page.Len() < 64<<10; i++ {
		fmt.Fprintf(&page, "<div class=\"row r%d\"><a href=\"/p/%d\">item %d</a> <span>%d.%02d</span> %s</div>\n",
			i%7, i*7919%100003, i, i*31%500, i%100, strings.Repeat("ab", i%13))
	}
	page.WriteString("</body></html>\n")
	codecs := encoding.New(encoding.Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		coding := r.URL.Query().Get("coding")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", coding)
		enc, err := codecs.NewWriter(coding, w)
		if err != nil {
			t.Errorf("upstream: %v", err)
			return
		}
		enc.Write(page.Bytes())
		enc.Close()
	}))
	defer up.Close()

	start := func(compression string) string {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.yaml")
		cfg := reloadConfig(up.URL, "server:\n  compression: "+compression+"\n", "shop")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		base, _ := startServe(t, path, false, io.Discard)
		return base
	}
	fast := start("{gzipLevel: 1, brotliQuality: 1, zstdLevel: 1}")
	small := start("{gzipLevel: 9, brotliQuality: 9, zstdLevel: 19}")

	// The client sends Accept-Encoding itself, so the transport hands the
	// body over as it came.
	client := &http.Client{}
	fetch := func(base, coding string) []byte {
		t.Helper()
		req, err := http.NewRequest("GET", base+"/?coding="+coding, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.test"
		req.Header.Set("Accept-Encoding", coding)
		req.Header.Set("Sec-Fetch-Dest", "document")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Content-Encoding"); resp.StatusCode != 200 || got != coding {
			t.Fatalf("%s: status %d, Content-Encoding %q", coding, resp.StatusCode, got)
		}
		dec, err := codecs.NewReader(coding, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		plain, err := io.ReadAll(dec)
		if err != nil {
			t.Fatalf("%s: decode: %v", coding, err)
		}
		if !bytes.Contains(plain, []byte("/__cobrowse/bootstrap.js")) {
			t.Fatalf("%s: page not injected:\n%.300s", coding, plain)
		}
		return body
	}
	for _, coding := range []string{"gzip", "br", "zstd"} {
		lo, hi := len(fetch(fast, coding)), len(fetch(small, coding))
		if hi >= lo {
			t.Errorf("%s: %d bytes at the high level, %d at the fastest: the configured levels did not reach the encoder", coding, hi, lo)
		}
	}
}
