package reload

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// siteYAML is a config serving the named sites, each on NAME.test.
func siteYAML(extra string, names ...string) string {
	var b strings.Builder
	b.WriteString("zoom: {sdkKey: k, sdkSecret: 0123456789abcdef0123}\n" + extra + "sites:\n")
	for _, n := range names {
		b.WriteString("  - {name: " + n + ", hosts: [" + n + ".test], upstream: \"http://127.0.0.1:1\"}\n")
	}
	return b.String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	r    *Reloader
	live *server.Live
	reg  *prometheus.Registry
	logs *syncBuf
	path string
}

// newFixture loads path as run does and returns a Reloader serving it.
func newFixture(t *testing.T, path string) *fixture {
	t.Helper()
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	sh := server.NewShared(log, metrics.New(reg, "test"), encoding.New(encoding.Options{}))
	rt, err := sh.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	live := server.NewLive(rt, nil)
	r, err := New(Options{Path: path, Current: cfg, Build: sh.Build, Live: live, Registerer: reg, Logger: log, Debounce: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{r: r, live: live, reg: reg, logs: logs, path: path}
}

// status is the code the live handler answers for a request to host.
func (f *fixture) status(host string) int {
	rec := httptest.NewRecorder()
	f.live.ServeHTTP(rec, httptest.NewRequest("GET", "http://"+host+"/__cobrowse/none", nil))
	return rec.Code
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A site added and removed by Reload is served and refused at once; the
// metrics say the reload succeeded.
func TestReloadAddsAndRemovesSites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write(t, path, siteYAML("", "shop"))
	f := newFixture(t, path)
	if got := f.status("blog.test"); got != http.StatusMisdirectedRequest {
		t.Fatalf("blog.test before reload: %d, want 421", got)
	}
	write(t, path, siteYAML("", "shop", "blog"))
	if err := f.r.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	if got := f.status("blog.test"); got != http.StatusNotFound { // served: reserved prefix, no such endpoint
		t.Errorf("blog.test after adding it: %d, want 404 from the site", got)
	}
	write(t, path, siteYAML("", "blog"))
	if err := f.r.Reload(TriggerAPI); err != nil {
		t.Fatal(err)
	}
	if got := f.status("shop.test"); got != http.StatusMisdirectedRequest {
		t.Errorf("shop.test after removing it: %d, want 421", got)
	}
	if got := gauge(t, f.reg, "cobrowse_proxy_config_last_reload_successful"); got != 1 {
		t.Errorf("last_reload_successful = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.r.reloads.WithLabelValues("api", "success")); got != 1 {
		t.Errorf("reloads_total{api,success} = %v, want 1", got)
	}
	for _, want := range []string{`msg="config reloaded" trigger=signal`, `sites_added=[blog]`, `sites_removed=[shop]`} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, f.logs.String())
		}
	}
}

// A broken config is refused with every problem logged by field path; the
// last good config keeps serving and the gauge says 0 until a good one.
func TestReloadRefusesBrokenConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write(t, path, siteYAML("", "shop"))
	f := newFixture(t, path)
	before := gauge(t, f.reg, "cobrowse_proxy_config_last_reload_success_timestamp_seconds")
	write(t, path, siteYAML("proxy: {unknownHostStatus: 500}\nmasking: {selectors: [\"#a[\"]}\n", "shop", "blog"))
	err := f.r.Reload(TriggerFile)
	var es config.Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("Reload() = %v, want 2 config.Errors", err)
	}
	if got := f.status("blog.test"); got != http.StatusMisdirectedRequest {
		t.Errorf("blog.test from a refused config: %d, want 421 (old config)", got)
	}
	if got := gauge(t, f.reg, "cobrowse_proxy_config_last_reload_successful"); got != 0 {
		t.Errorf("last_reload_successful = %v, want 0", got)
	}
	if got := gauge(t, f.reg, "cobrowse_proxy_config_last_reload_success_timestamp_seconds"); got != before {
		t.Errorf("success timestamp moved on a failure: %v -> %v", before, got)
	}
	for _, want := range []string{"proxy.unknownHostStatus", "masking.selectors[0]", "the last good config keeps serving"} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if f.r.Current().Hash == "" || len(f.r.Current().Sites) != 1 {
		t.Errorf("Current() changed by a refused reload")
	}
	write(t, path, siteYAML("", "shop", "blog"))
	if err := f.r.Reload(TriggerFile); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, f.reg, "cobrowse_proxy_config_last_reload_successful"); got != 1 {
		t.Errorf("last_reload_successful after a good reload = %v, want 1", got)
	}
}

// Listen, tls, server and log need a restart: a reload that changes them
// applies the rest, says so, and sets restart_required until they are
// back to the values the process started with.
func TestReloadReportsRestartNeeded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write(t, path, siteYAML("", "shop"))
	f := newFixture(t, path)
	write(t, path, siteYAML("listen: {http: \"127.0.0.1:9999\"}\nlog: {level: debug}\n", "shop", "blog"))
	if err := f.r.Reload(TriggerAPI); err != nil {
		t.Fatal(err)
	}
	if got := f.r.NeedsRestart(); strings.Join(got, ",") != "listen,log" {
		t.Errorf("NeedsRestart() = %v, want [listen log]", got)
	}
	if got := gauge(t, f.reg, "cobrowse_proxy_config_restart_required"); got != 1 {
		t.Errorf("restart_required = %v, want 1", got)
	}
	if !strings.Contains(f.logs.String(), "need a restart") || f.status("blog.test") != http.StatusNotFound {
		t.Errorf("the rest of the config must apply and the log must say what needs a restart:\n%s", f.logs.String())
	}
	write(t, path, siteYAML("", "shop"))
	if err := f.r.Reload(TriggerAPI); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, f.reg, "cobrowse_proxy_config_restart_required"); got != 0 {
		t.Errorf("restart_required back at the start values = %v, want 0", got)
	}
}

func TestNeedsRestart(t *testing.T) {
	base := func() *config.Config {
		c := &config.Config{}
		c.ApplyDefaults()
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"nothing", func(*config.Config) {}, ""},
		{"sites, masking, token apply live", func(c *config.Config) {
			c.Sites = []config.Site{{Name: "x"}}
			c.Masking.Selectors = []string{".x"}
			c.Token.TTL = time.Hour
		}, ""},
		{"admin address", func(c *config.Config) { c.Listen.Admin = ":1" }, "listen"},
		{"tls mode", func(c *config.Config) { c.TLS.Mode = config.TLSModeFiles }, "tls"},
		{"server timeout", func(c *config.Config) { c.Server.IdleTimeout = time.Second }, "server"},
		{"compression level", func(c *config.Config) { c.Server.Compression.GzipLevel = 9 }, "server"},
		{"log format", func(c *config.Config) { c.Log.Format = "json" }, "log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := base()
			tc.change(next)
			if got := strings.Join(NeedsRestart(base(), next), ","); got != tc.want {
				t.Errorf("NeedsRestart = %q, want %q", got, tc.want)
			}
		})
	}
}

// POST /-/reload: 200 with the hash, 400 with every problem, 409 while a
// reload runs.
func TestReloadHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write(t, path, siteYAML("", "shop"))
	f := newFixture(t, path)
	h := f.r.Handler()
	post := func() (int, reloadResult) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
		var res reloadResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return rec.Code, res
	}
	if code, res := post(); code != 200 || res.Status != "reloaded" || len(res.ConfigHash) != 64 {
		t.Errorf("good config: %d %+v", code, res)
	}
	write(t, path, siteYAML("token: {ttl: 1s}\n", "shop"))
	if code, res := post(); code != 400 || res.Status != "refused" || len(res.Problems) != 1 || !strings.HasPrefix(res.Problems[0], "token.ttl") {
		t.Errorf("broken config: %d %+v", code, res)
	}
	f.r.mu.Lock()
	code, res := post()
	f.r.mu.Unlock()
	if code != http.StatusConflict || res.Status != "busy" {
		t.Errorf("during a reload: %d %+v, want 409 busy", code, res)
	}
}

// The watch sees a Kubernetes ConfigMap update: the kubelet writes the new
// files into a fresh timestamped directory, points ..data_tmp at it and
// renames that over ..data; config.yaml is a symlink through ..data and
// never changes itself.
func TestWatchSeesConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "..2026_12_03_1"), 0o755))
	write(t, filepath.Join(dir, "..2026_12_03_1", "config.yaml"), siteYAML("", "shop"))
	must(os.Symlink("..2026_12_03_1", filepath.Join(dir, "..data")))
	must(os.Symlink("..data/config.yaml", filepath.Join(dir, "config.yaml")))
	f := newFixture(t, filepath.Join(dir, "config.yaml"))

	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- f.r.Watch(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return f.r.watching.Load() })

	// An unrelated file in the same directory changes nothing.
	write(t, filepath.Join(dir, "other.txt"), "x")
	must(os.Mkdir(filepath.Join(dir, "..2026_12_03_2"), 0o755))
	write(t, filepath.Join(dir, "..2026_12_03_2", "config.yaml"), siteYAML("", "shop", "blog"))
	must(os.Symlink("..2026_12_03_2", filepath.Join(dir, "..data_tmp")))
	must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(os.RemoveAll(filepath.Join(dir, "..2026_12_03_1")))

	waitFor(t, func() bool { return f.status("blog.test") == http.StatusNotFound })
	if got := testutil.ToFloat64(f.r.reloads.WithLabelValues("file", "success")); got != 1 {
		t.Errorf("reloads_total{file,success} = %v, want exactly 1 (debounced, and none for other.txt)", got)
	}
}

// The policy file is watched too, and a broken one is refused.
func TestWatchPolicyFile(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy", "masking.yaml")
	if err := os.Mkdir(filepath.Dir(policy), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, policy, "version: v1\nselectors: [\"#ssn\"]\n")
	path := filepath.Join(dir, "config.yaml")
	write(t, path, siteYAML("masking: {policyFile: policy/masking.yaml}\n", "shop"))
	f := newFixture(t, path)
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- f.r.Watch(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return f.r.watching.Load() })

	v1 := f.live.Router().Policy().Sites[0].Bootstrap
	write(t, policy, "version: v2\nselectors: [\"#ssn\", \".card\"]\n")
	waitFor(t, func() bool { return f.r.Current().Masking.Policy.Version == "v2" })
	// Browsers pick the new policy up on their next page: the loader's ?v= changes.
	if v2 := f.live.Router().Policy().Sites[0].Bootstrap; v2 == v1 || len(v2) != 12 {
		t.Errorf("bootstrap.js version %q -> %q: must change with the policy", v1, v2)
	}
	if got := f.live.Router().Policy().Sites[0].Selectors; strings.Join(got, " ") != "#ssn .card" {
		t.Errorf("policy in force: %v", got)
	}
	write(t, policy, "version: v3\nselectors: [\"#ssn\"]\nautoMaskSensitiveInputs: maybe\n")
	waitFor(t, func() bool { return testutil.ToFloat64(f.r.reloads.WithLabelValues("file", "failure")) == 1 })
	if v := f.r.Current().Masking.Policy.Version; v != "v2" {
		t.Errorf("after a broken policy file, version %q is in force, want v2", v)
	}
	if !strings.Contains(f.logs.String(), "autoMaskSensitiveInputs") {
		t.Errorf("the refusal does not name the key:\n%s", f.logs.String())
	}
}

func TestNewACMEHosts(t *testing.T) {
	cfg := func(mode string, hosts ...string) *config.Config {
		return &config.Config{TLS: config.TLS{Mode: mode}, Sites: []config.Site{{Name: "s", Hosts: hosts}}}
	}
	for _, tc := range []struct {
		name          string
		started, next *config.Config
		want          string
	}{
		{"acme, host added", cfg(config.TLSModeACME, "a.test"), cfg(config.TLSModeACME, "a.test", "b.test"), "b.test"},
		{"acme, host removed", cfg(config.TLSModeACME, "a.test", "b.test"), cfg(config.TLSModeACME, "a.test"), ""},
		{"files: the certificate covers what it covers", cfg(config.TLSModeFiles, "a.test"), cfg(config.TLSModeFiles, "b.test"), ""},
		{"off", cfg(config.TLSModeOff, "a.test"), cfg(config.TLSModeOff, "b.test"), ""},
	} {
		if got := strings.Join(newACMEHosts(tc.started, tc.next), ","); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
