package opscheck

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/reload"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/tlsconf"
)

// deployDir is the repository's deploy/ folder.
const deployDir = "../../deploy"

// recorder is a Registerer that also remembers the name of every metric
// described to it: a registry's Gather omits vectors without children, so
// the names come from the collectors' descriptions instead.
type recorder struct {
	prometheus.Registerer
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// standaloneConfig loads deploy/standalone/config.yaml as mounted in the pod.
func standaloneConfig(t *testing.T) (string, *config.Config) {
	t.Helper()
	return podConfig(t, "standalone/config.yaml", nil)
}

// podConfig writes deploy/rel into a temporary directory laid out as the
// pod's /etc/cobrowse-proxy (config.yaml, secret/sdk-secret,
// tls/tls.{crt,key}, redis/password) and loads it as run does, with env as
// the environment.
func podConfig(t *testing.T, rel string, env map[string]string) (string, *config.Config) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"secret", "tls", "redis"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secret", "sdk-secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "redis", "password"), []byte("redis-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testcert.New(t, time.Now().Add(30*24*time.Hour), 1, "shop.example.com", "www.shop.example.com", "docs.example.com").
		Write(t, filepath.Join(dir, "tls", "tls.crt"), filepath.Join(dir, "tls", "tls.key"))
	body := strings.ReplaceAll(string(data), "/etc/cobrowse-proxy/", dir+"/")
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("deploy/%s does not load as mounted in the pod: %v", rel, err)
	}
	return path, cfg
}

// The standalone overlay's config loads and validates with its files where
// the Deployment mounts them, and listens where the manifests probe.
func TestStandaloneConfigLoads(t *testing.T) {
	_, cfg := standaloneConfig(t)
	for key, got := range map[string]string{
		"listen.http": cfg.Listen.HTTP, "listen.https": cfg.Listen.HTTPS, "listen.admin": cfg.Listen.Admin,
	} {
		want := map[string]string{"listen.http": ":8480", "listen.https": ":8443", "listen.admin": ":9480"}[key]
		if got != want {
			t.Errorf("%s = %q, want %q (the ports deployment.yaml and the probes use)", key, got, want)
		}
	}
	if cfg.Server.DrainDelay <= 0 {
		t.Errorf("server.drainDelay = %s: the standalone pods rely on it instead of a preStop hook", cfg.Server.DrainDelay)
	}
}

// The fleet overlay's config loads with the Redis URL from $REDIS_URL and
// the password from the file its Secret is mounted as, and is the
// standalone config plus storage.redis, nothing else.
func TestFleetConfigLoads(t *testing.T) {
	const url = "rediss://proxy@redis.example.com:6380/0"
	_, cfg := podConfig(t, "fleet/config.yaml", map[string]string{"REDIS_URL": url})
	if r := cfg.Storage.Redis; r.URL != url || r.Password != "redis-password" {
		t.Errorf("storage.redis url %q password set %v; want $REDIS_URL and the mounted file", r.URL, r.Password != "")
	}
	body := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(deployDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		_, s, _ = strings.Cut(s, "# Every key and its default") // the headers differ
		if start := strings.Index(s, "# Fleet mode (docs/fleet.md)"); start >= 0 {
			end := strings.Index(s[start:], "\n\n")
			s = s[:start] + s[start+end+2:]
		}
		return s
	}
	if fleet, standalone := body("fleet/config.yaml"), body("standalone/config.yaml"); fleet != standalone {
		t.Errorf("deploy/fleet/config.yaml is not deploy/standalone/config.yaml plus storage: keep the two in step")
	}
}

// The example app's sidecar config loads with the upstream the webhook and
// the component set, serves any Host (the catch-all) and listens on the
// sidecar's ports.
func TestExampleSidecarConfigLoads(t *testing.T) {
	_, cfg := podConfig(t, "examples/shop/config.yaml", map[string]string{"COBROWSE_PROXY_UPSTREAM": "http://127.0.0.1:8080"})
	if cfg.Listen.HTTP != ":8480" || cfg.Listen.Admin != ":9480" {
		t.Errorf("listen http %q admin %q, want :8480 and :9480 (the sidecar's ports)", cfg.Listen.HTTP, cfg.Listen.Admin)
	}
	if len(cfg.Sites) != 1 || len(cfg.Sites[0].Hosts) != 1 || cfg.Sites[0].Hosts[0] != "*" {
		t.Errorf("sites = %+v, want one catch-all site", cfg.Sites)
	}
}

// registeredNames builds the proxy's collectors as run does (metrics, the
// shared state with token, csp and masking-audit metrics, the reloader and
// the TLS manager in files mode) and returns every metric name.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	path, cfg := standaloneConfig(t)
	rec := &recorder{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	m := metrics.New(rec, "test")
	shared := server.NewShared(nil, m, encoding.New(encoding.Options{}))
	rt, err := shared.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reload.New(reload.Options{Path: path, Current: cfg, Build: shared.Build,
		Live: server.NewLive(rt, nil), Registerer: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconf.New(context.Background(), tlsconf.Options{TLS: cfg.TLS, Registerer: rec}); err != nil {
		t.Fatal(err)
	}
	return rec.names
}

var metricName = regexp.MustCompile(`\bcobrowse_proxy_[a-z0-9_]+`)

// Every cobrowse_proxy_* name in deploy/monitoring (alert rules, the
// dashboard) is registered by the code; histogram series (_bucket, _sum,
// _count) count as their histogram. And the rules cover the signals the
// issue asks for.
func TestMonitoringUsesRealMetrics(t *testing.T) {
	names := registeredNames(t)
	for _, must := range []string{"cobrowse_proxy_requests_total", "cobrowse_proxy_token_refusals_total",
		"cobrowse_proxy_csp_policies_total", "cobrowse_proxy_tls_certificate_expiry_timestamp_seconds",
		"cobrowse_proxy_config_last_reload_successful", "cobrowse_proxy_unmasked_fields_total"} {
		if !names[must] {
			t.Fatalf("the recorder missed %s: registeredNames no longer builds what run builds", must)
		}
	}
	used := map[string][]string{}
	err := filepath.WalkDir(filepath.Join(deployDir, "monitoring"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range metricName.FindAllString(string(data), -1) {
			used[n] = append(used[n], filepath.Base(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 10 {
		t.Fatalf("found only %d metric names in deploy/monitoring: is the folder there?", len(used))
	}
	var unknown []string
	for n, files := range used {
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && names[b] {
				base = b
			}
		}
		if !names[base] {
			unknown = append(unknown, n+" (in "+strings.Join(dedupe(files), ", ")+")")
		}
	}
	sort.Strings(unknown)
	for _, u := range unknown {
		t.Errorf("deploy/monitoring uses %s, which the proxy does not register", u)
	}
	rules, err := os.ReadFile(filepath.Join(deployDir, "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, signal := range []string{
		"cobrowse_proxy_tls_certificate_expiry_timestamp_seconds",
		"cobrowse_proxy_config_last_reload_successful",
		"cobrowse_proxy_upstream_errors_total",
		"cobrowse_proxy_html_responses_total",
		"cobrowse_proxy_token_refusals_total",
	} {
		if !strings.Contains(string(rules), signal) {
			t.Errorf("prometheusrule.yaml has no alert on %s", signal)
		}
	}
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
