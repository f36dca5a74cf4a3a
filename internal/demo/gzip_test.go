package demo

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestGzipPage(t *testing.T) {
	srv := newTestShop(t)
	// DisableCompression keeps the client from asking for and undoing gzip
	// itself, so the test sees exactly what the shop sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	tests := []struct {
		accept   string
		wantGzip bool
	}{
		{"gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"*", true},
		{"", false},
		{"identity", false},
		{"br", false},
		{"gzip;q=0", false},
		{"*;q=0.1, gzip;q=0", false},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			h := http.Header{}
			if tt.accept != "" {
				h.Set("Accept-Encoding", tt.accept)
			}
			res, body := get(t, client, srv.URL+"/gzip", h)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", res.StatusCode)
			}
			if v := res.Header.Get("Vary"); v != "Accept-Encoding" {
				t.Errorf("Vary = %q", v)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			ce := res.Header.Get("Content-Encoding")
			if tt.wantGzip {
				if ce != "gzip" {
					t.Fatalf("Content-Encoding = %q, want gzip", ce)
				}
				zr, err := gzip.NewReader(bytes.NewReader([]byte(body)))
				if err != nil {
					t.Fatalf("not gzip: %v", err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil {
					t.Fatalf("decode gzip: %v", err)
				}
				body = string(plain)
			} else if ce != "" {
				t.Fatalf("Content-Encoding = %q, want none", ce)
			}
			if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, "</html>") {
				t.Errorf("not a full document: %q", head(body))
			}
			if got := strings.Contains(body, "gzip-compressed"); got != tt.wantGzip {
				t.Errorf("page says gzip-compressed = %v, want %v", got, tt.wantGzip)
			}
		})
	}
}
