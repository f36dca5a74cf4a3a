package benchcompare

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPageSize(t *testing.T) {
	for _, size := range []int{2 << 10, 10 << 10, 100 << 10, 1 << 20} {
		p := Page(size)
		if len(p) != size {
			t.Errorf("Page(%d) has %d bytes", size, len(p))
		}
		if bytes.Count(p, []byte("<head>")) != 1 || !bytes.HasSuffix(p, []byte("</html>\n")) {
			t.Errorf("Page(%d) is not one <head> ... </html> page", size)
		}
	}
}

func TestAcceptedCoding(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""}, {"gzip", "gzip"}, {"GZIP", "gzip"}, {"br, gzip", "br"}, {"gzip, deflate, br", "br"}, {"gzip, deflate, br, zstd", "br"}, {"gzip, zstd", "zstd"}, {"gzip;q=0.5", "gzip"},
		{"gzip;q=0", ""}, {"gzip; q=0", ""}, {"deflate", ""}, {"x-gzip", ""},
		{"br", "br"}, {"zstd", "zstd"}, {"zstd, br", "br"}, {"Zstd;q=0.1", "zstd"}, {"br;q=0, zstd", "zstd"},
	}
	for _, tt := range tests {
		if got := acceptedCoding(tt.in); got != tt.want {
			t.Errorf("acceptedCoding(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUpstream(t *testing.T) {
	up, err := NewUpstream()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(up)
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	tests := []struct {
		path, ae, wantType, wantEnc string
	}{
		{PathHTML10K, "", "text/html; charset=utf-8", ""},
		{PathHTML100K, "gzip", "text/html; charset=utf-8", "gzip"},
		{PathHTML100K, "br", "text/html; charset=utf-8", "br"},
		{PathHTML100K, "zstd", "text/html; charset=utf-8", "zstd"},
		{PathHTML1M, "br", "text/html; charset=utf-8", "br"},
		{PathHTML10K, "deflate", "text/html; charset=utf-8", ""},
		{PathBinary1M, "gzip", "application/octet-stream", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.ae, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if tt.ae != "" {
				req.Header.Set("Accept-Encoding", tt.ae)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEnc {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.wantEnc)
			}
			if tt.wantEnc != "" {
				if body, err = Decompress(tt.wantEnc, body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, up.Body(tt.path)) {
				t.Errorf("body of %d bytes is not the page (%d bytes)", len(body), len(up.Body(tt.path)))
			}
		})
	}
	resp, err := c.Get(srv.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nope: status %d, want 404", resp.StatusCode)
	}
}
