package benchcompare

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// TestProxyConfigLoads checks the generated config with the proxy's own
// loader, so a config change that the harness's config no longer meets
// fails here rather than in a benchmark run.
func TestProxyConfigLoads(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(dummySDKSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(ProxyConfig("127.0.0.1:18080", "127.0.0.1:19090", "http://127.0.0.1:13000", "secret.txt")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("generated config does not load: %v", err)
	}
	if cfg.Listen.HTTP != "127.0.0.1:18080" || cfg.Listen.Admin != "127.0.0.1:19090" {
		t.Errorf("listen = %+v", cfg.Listen)
	}
	if cfg.TLS.Mode != config.TLSModeOff {
		t.Errorf("tls.mode = %v, want off", cfg.TLS.Mode)
	}
	if cfg.Zoom.SDKSecret != dummySDKSecret {
		t.Errorf("sdk secret not read from the file: %q", cfg.Zoom.SDKSecret)
	}
	if len(cfg.Sites) != 1 || cfg.Sites[0].Upstream != "http://127.0.0.1:13000" {
		t.Fatalf("sites = %+v", cfg.Sites)
	}
}

func TestProxyConfigNeedsSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(ProxyConfig("127.0.0.1:18080", "127.0.0.1:19090", "http://127.0.0.1:13000", "missing.txt")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, nil); err == nil || !strings.Contains(err.Error(), "sdkSecretFile") {
		t.Fatalf("config.Load without the secret file: %v, want an sdkSecretFile error", err)
	}
}

func TestNginxConfig(t *testing.T) {
	dir := t.TempDir()
	conf := NginxConfig(dir+"/", "127.0.0.1:18081", "127.0.0.1:13000", false)
	for _, want := range []string{
		"worker_processes auto;",
		"daemon off;",
		"pid " + dir + "/nginx.pid;",
		"server 127.0.0.1:13000;",
		"keepalive 64;",
		"listen 127.0.0.1:18081;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		`proxy_set_header Accept-Encoding "";`,
		"sub_filter '<head>' '<head>" + NginxLoaderTag + "';",
		"sub_filter_once on;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "user ") || strings.Contains(conf, "/var/") || strings.Contains(conf, "/etc/") {
		t.Errorf("nginx config names a user or a system path:\n%s", conf)
	}
	if root := NginxConfig(dir, "127.0.0.1:1", "127.0.0.1:2", true); !strings.HasPrefix(strings.SplitN(root, "\n", 2)[1], "user root;") {
		t.Errorf("asRoot config does not start with user root:\n%s", root)
	}

	// nginx -t parses it for real where nginx is installed.
	nginx, err := findTool("nginx")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx not installed, and CI must run nginx -t: .ci/run installs nginx-light")
		}
		t.Skip("nginx not installed (apt-get install -y nginx-light): skipping nginx -t")
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(NginxConfig(dir, "127.0.0.1:18081", "127.0.0.1:13000", os.Geteuid() == 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-p", dir+"/", "-e", filepath.Join(dir, "error.log"), "-c", path).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}
