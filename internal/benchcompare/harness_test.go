package benchcompare

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSelectWorkloads(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", []string{"html-10k", "html-100k", "html-1m", "gzip-10k", "gzip-100k", "gzip-100k-script", "br-100k", "br-100k-browser", "zstd-100k", "binary-1m", "html-100k-c1000"}, false},
		{"binary-1m, html-10k", []string{"html-10k", "binary-1m"}, false}, // table order
		{"html-10k,,html-10k", []string{"html-10k"}, false},
		{"html-10k,html-2k", nil, true},
	}
	for _, tt := range tests {
		ws, err := SelectWorkloads(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("SelectWorkloads(%q) error = %v", tt.in, err)
			continue
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.Name)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("SelectWorkloads(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func compress(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	out, err := Compress(coding, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckResponse(t *testing.T) {
	page := Page(10 << 10)
	inject := func(tag string) []byte {
		return bytes.Replace(page, []byte("<head>"), []byte("<head>"+tag), 1)
	}
	proxyPage := inject(ProxyLoaderMarker + `?v=1"></script>`)
	nginxPage := inject(NginxLoaderTag)
	html := Workload{Name: "html-10k", Path: PathHTML10K}
	gzw := Workload{Name: "gzip-10k", Path: PathHTML10K, Coding: "gzip"}
	brw := Workload{Name: "br-10k", Path: PathHTML10K, Coding: "br"}
	zw := Workload{Name: "zstd-10k", Path: PathHTML10K, Coding: "zstd"}
	browser := Workload{Name: "br-10k-browser", Path: PathHTML10K, Coding: "br", Accept: "gzip, deflate, br", ProxyCoding: "gzip"}
	gz := func(b []byte) []byte { return compress(t, "gzip", b) }
	bin := Workload{Name: "binary-1m", Path: PathBinary1M, Binary: true}
	tests := []struct {
		name    string
		target  Target
		w       Workload
		status  int
		enc     string
		body    []byte
		wantErr string
	}{
		{"direct as is", Direct, html, 200, "", page, ""},
		{"bare gzip", Bare, gzw, 200, "gzip", gz(page), ""},
		{"direct br", Direct, brw, 200, "br", compress(t, "br", page), ""},
		{"bare zstd", Bare, zw, 200, "zstd", compress(t, "zstd", page), ""},
		{"bare changed the page", Bare, html, 200, "", proxyPage, "differs"},
		{"pooled gzip", Pooled, gzw, 200, "gzip", gz(page), ""},
		{"pooled changed the page", Pooled, html, 200, "", proxyPage, "differs"},
		{"proxy injects", Proxy, html, 200, "", proxyPage, ""},
		{"proxy injects gzip", Proxy, gzw, 200, "gzip", gz(proxyPage), ""},
		{"proxy injects br", Proxy, brw, 200, "br", compress(t, "br", proxyPage), ""},
		{"proxy injects zstd", Proxy, zw, 200, "zstd", compress(t, "zstd", proxyPage), ""},
		{"proxy br without the loader", Proxy, brw, 200, "br", compress(t, "br", page), "does not inject"},
		{"proxy zstd without the loader", Proxy, zw, 200, "zstd", compress(t, "zstd", page), "does not inject"},
		{"proxy answers br uncompressed", Proxy, brw, 200, "", proxyPage, `Content-Encoding "", want "br"`},
		{"proxy answers zstd with gzip", Proxy, zw, 200, "gzip", gz(proxyPage), `Content-Encoding "gzip", want "zstd"`},
		{"nginx br asked, identity sent", Nginx, brw, 200, "", nginxPage, ""},
		{"proxy re-encodes br as gzip", Proxy, browser, 200, "gzip", gz(proxyPage), ""},
		{"proxy keeps br for a browser", Proxy, browser, 200, "br", compress(t, "br", proxyPage), `Content-Encoding "br", want "gzip"`},
		{"direct br for a browser", Direct, browser, 200, "br", compress(t, "br", page), ""},
		{"nginx compressed", Nginx, zw, 200, "zstd", compress(t, "zstd", nginxPage), `want ""`},
		{"direct identity spelled out", Direct, html, 200, "identity", page, ""},
		{"proxy does not inject", Proxy, html, 200, "", page, "does not inject"},
		{"proxy with nginx's tag", Proxy, html, 200, "", nginxPage, "does not inject"},
		{"nginx injects", Nginx, gzw, 200, "", nginxPage, ""},
		{"nginx does not inject", Nginx, html, 200, "", page, "does not inject"},
		{"truncated page", Nginx, html, 200, "", nginxPage[:len(nginxPage)-100], "not the whole"},
		{"binary passed through", Proxy, bin, 200, "", page, ""},
		{"binary changed", Nginx, bin, 200, "", nginxPage, "differs"},
		{"status", Proxy, html, 502, "", proxyPage, "status 502"},
		{"bad gzip", Proxy, gzw, 200, "gzip", proxyPage, "gzip body"},
		{"bad br", Proxy, brw, 200, "br", proxyPage, "br body"},
		{"bad zstd", Proxy, zw, 200, "zstd", proxyPage, "zstd body"},
		{"brotli for gzip", Proxy, gzw, 200, "br", proxyPage, "Content-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckResponse(tt.target, tt.w, tt.status, tt.enc, tt.body, page)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckResponse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckResponse error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRunEndToEnd runs the whole harness briefly: two workloads, the
// identity page and the brotli one (the upstream's pre-compressed variant,
// the proxy's decode and re-encode, nginx asking for identity), one
// one-second round per target. It asserts that every target was measured,
// never how fast.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the end-to-end harness run")
	}
	for _, tool := range []string{"nginx", "wrk"} {
		if _, err := findTool(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed, and CI must run this test: .ci/run installs nginx-light and wrk", tool)
			}
			t.Skipf("%s not installed: apt-get install -y nginx-light wrk", tool)
		}
	}
	repo, err := FindRepoDir(".")
	if err != nil {
		t.Fatal(err)
	}
	// br-100k-browser: the proxy must answer a browser's br page in gzip.
	ws, err := SelectWorkloads("html-10k,br-100k-browser")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Duration: time.Second, Rounds: 1, Workloads: ws, RepoDir: repo, Log: t.Output()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Workload != "html-10k" || rep.Rows[1].Workload != "br-100k-browser" {
		t.Fatalf("rows = %+v", rep.Rows)
	}
	for _, row := range rep.Rows {
		for _, tgt := range Targets {
			s := row.Stats[tgt]
			if s.Rounds != 1 || s.ReqPerSec <= 0 || s.P99 <= 0 {
				t.Errorf("%s %s: %+v, want one measured round", row.Workload, tgt, s)
			}
		}
	}
	if rep.ProxyPeakRSS <= 0 {
		t.Errorf("proxy peak RSS = %d", rep.ProxyPeakRSS)
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"html-10k", "br-100k-browser"} {
		if !strings.Contains(b.String(), "| "+name+" |") {
			t.Errorf("table has no %s row:\n%s", name, b.String())
		}
	}
}

// TestWorkloadHeaders: a workload's requests carry its Accept-Encoding and,
// when it navigates, the headers a browser's navigation carries.
func TestWorkloadHeaders(t *testing.T) {
	for _, tt := range []struct {
		w    Workload
		want []string
	}{
		{Workload{Name: "html"}, nil},
		{Workload{Name: "gzip", Coding: "gzip"}, []string{"Accept-Encoding: gzip"}},
		{Workload{Name: "browser", Coding: "br", Accept: "gzip, br", Navigate: true}, []string{
			"Accept-Encoding: gzip, br", "Sec-Fetch-Dest: document",
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}},
	} {
		var got []string
		for _, h := range tt.w.headers() {
			got = append(got, h[0]+": "+h[1])
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: headers %q, want %q", tt.w.Name, got, tt.want)
		}
	}
	for _, w := range Workloads {
		if compressed := w.Coding != ""; compressed && w.Name != "gzip-100k-script" && !w.Navigate {
			t.Errorf("%s: a compressed workload that does not navigate", w.Name)
		}
	}
}
