package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

func newTestBootstrap(t *testing.T, settings map[string]any) *Bootstrap {
	t.Helper()
	b, err := NewBootstrap(BootstrapConfig{
		SDKURL:   "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0",
		Prefix:   "/__cobrowse",
		Settings: settings,
	}, encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Settings cannot break out of the script: json.Marshal escapes < > & and
// the line separators that are not valid in JavaScript strings before ES2019.
func TestBootstrapEscapesSettings(t *testing.T) {
	b := newTestBootstrap(t, map[string]any{"x": "</script><script>alert(1)</script>\u2028"})
	if bytes.Contains(b.body, []byte("</script>")) || bytes.Contains(b.body, []byte("\u2028")) {
		t.Fatalf("settings not escaped:\n%s", b.body)
	}
	if !bytes.Contains(b.body, []byte(`\u003c/script\u003e`)) {
		t.Fatalf("escaped settings missing:\n%s", b.body)
	}
	other := newTestBootstrap(t, map[string]any{"x": "y"})
	if b.Version() == other.Version() {
		t.Errorf("different settings, same version %s", b.Version())
	}
}

func TestBootstrapServe(t *testing.T) {
	b := newTestBootstrap(t, map[string]any{"allowAgentAnnotation": true})
	srv := httptest.NewServer(b)
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	tests := []struct {
		name, method, query, accept, inm string
		code                             int
		coding, cache                    string
	}{
		{"plain", "GET", "", "", "", 200, "", "public, max-age=300"},
		{"versioned", "GET", "?v=" + b.Version(), "", "", 200, "", "public, max-age=31536000, immutable"},
		{"stale version", "GET", "?v=old", "", "", 200, "", "public, max-age=300"},
		{"gzip", "GET", "", "gzip", "", 200, "gzip", ""},
		{"prefers zstd", "GET", "", "gzip, br, zstd", "", 200, "zstd", ""},
		{"head", "HEAD", "", "", "", 200, "", ""},
		{"not modified", "GET", "", "", `"` + b.Version() + `"`, 304, "", ""},
		{"post", "POST", "", "", "", 405, "", ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+"/__cobrowse/bootstrap.js"+tc.query, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Encoding", tc.accept)
		}
		if tc.inm != "" {
			req.Header.Set("If-None-Match", tc.inm)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.code {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.code)
			continue
		}
		if tc.code != 200 {
			continue
		}
		if got := res.Header.Get("Content-Encoding"); got != tc.coding {
			t.Errorf("%s: Content-Encoding %q, want %q", tc.name, got, tc.coding)
		}
		if tc.cache != "" && res.Header.Get("Cache-Control") != tc.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, res.Header.Get("Cache-Control"), tc.cache)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
		if tc.method == "HEAD" {
			continue
		}
		if tc.coding == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			body, _ = io.ReadAll(zr)
		}
		if tc.coding == "" && !bytes.Equal(body, b.body) {
			t.Errorf("%s: body differs from the rendered script", tc.name)
		}
		if tc.coding == "gzip" && !bytes.Equal(body, b.body) {
			t.Errorf("%s: gzip body does not decode to the script", tc.name)
		}
	}
}

// fakeDOM runs bootstrap.js in Node with a minimal window/document and
// prints what the script did, as JSON. argv: script, nonce, script URL.
// The widget's DOM is faked just enough to count what it attaches; the
// browser tests (internal/browsertest) drive the real thing.
const fakeDOM = `
const fs = require("fs");
const inserted = [];
const events = [];
class El {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.className = ""; this.hidden = false; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  removeAttribute(k) { delete this.attrs[k]; }
  appendChild(c) { this.children.push(c); c.parentNode = this; return c; }
  get isConnected() { return this === body || !!(this.parentNode && this.parentNode.isConnected); }
  addEventListener() {}
  attachShadow() { return (this.shadowRoot = new El("#shadow-root")); }
  contains() { return false; }
  focus() {}
}
const first = { parentNode: { insertBefore(s, ref) { inserted.push({src: s.src, async: s.async, nonce: s.nonce || "", before: ref.id}); } }, id: "page-script" };
const body = new El("body");
const document = {
  currentScript: { nonce: process.argv[3] || "", src: process.argv[4] || "" },
  baseURI: "https://shop.example/",
  body,
  createElement(tag) { return new El(tag); },
  getElementsByTagName(tag) { return tag === "script" ? [first] : []; },
  addEventListener() {},
  dispatchEvent(e) { events.push(e.type); },
};
global.CustomEvent = class { constructor(type, o) { this.type = type; this.detail = o && o.detail; } };
const window = {};
const src = fs.readFileSync(process.argv[2], "utf8");
new Function("window", "document", src)(window, document);
// Loaded twice: the second copy must change nothing.
new Function("window", "document", src)(window, document);
const args = window.ZoomCobrowseSDKInitArgs;
// The SDK would call the callback when it is ready.
args[1]({ success: true, session: { id: "s" } });
const widgets = body.children.filter(c => c.attrs["data-cobrowse-proxy"] === "widget").map(c => c.className);
console.log(JSON.stringify({ inserted, settings: args[0], ready: window.CobrowseProxy.ready, frame: window.CobrowseProxy.frame, events, widgets }));
`

type nodeRun struct {
	Inserted []struct {
		Src, Nonce, Before string
		Async              bool
	}
	Settings map[string]any
	Ready    bool
	Frame    bool
	Events   []string
	Widgets  []string
}

// runInNode runs the rendered script in the fake DOM.
func runInNode(t *testing.T, b *Bootstrap, nonce, src string) nodeRun {
	t.Helper()
	node := nodePath(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "bootstrap.js")
	if err := os.WriteFile(script, b.body, 0o600); err != nil {
		t.Fatal(err)
	}
	harness := filepath.Join(dir, "harness.js")
	if err := os.WriteFile(harness, []byte(fakeDOM), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, harness, script, nonce, src).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got nodeRun
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("harness output %q: %v", out, err)
	}
	return got
}

func TestBootstrapRunsInNode(t *testing.T) {
	settings := map[string]any{"allowAgentAnnotation": true, "piiMask": map[string]any{"maskType": "custom_input", "maskCssSelectors": ".pii-mask, #ssn"}}
	b := newTestBootstrap(t, settings)
	for _, nonce := range []string{"", "r4nd0m"} {
		got := runInNode(t, b, nonce, "")
		if len(got.Inserted) != 1 {
			t.Fatalf("SDK script inserted %d times, want 1", len(got.Inserted))
		}
		s := got.Inserted[0]
		if s.Src != "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0" || s.Async || s.Before != "page-script" || s.Nonce != nonce {
			t.Errorf("nonce %q: SDK script %+v", nonce, s)
		}
		want, _ := json.Marshal(settings)
		have, _ := json.Marshal(got.Settings)
		if !bytes.Equal(want, have) {
			t.Errorf("init settings %s, want %s", have, want)
		}
		if !got.Ready || len(got.Events) != 1 || got.Events[0] != "cobrowse-proxy:ready" {
			t.Errorf("after the init callback: ready=%v events=%v", got.Ready, got.Events)
		}
		if len(got.Widgets) != 0 {
			t.Errorf("widget disabled, but %d drawn", len(got.Widgets))
		}
	}
}

// With the widget on, its root carries the mask class and the class is
// added to the masking selectors (without changing the caller's map); the
// iframe variant loads the SDK but draws no widget.
func TestBootstrapWidgetInNode(t *testing.T) {
	settings := map[string]any{"piiMask": map[string]any{"maskType": "custom_input", "maskCssSelectors": ".pii-mask"}}
	b, err := NewBootstrap(BootstrapConfig{
		SDKURL:   "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0",
		Prefix:   "/__cobrowse",
		Settings: settings,
		Widget:   Widget{Enabled: true, Position: "bottom-left", Label: "Need help?"},
	}, encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if settings["piiMask"].(map[string]any)["maskCssSelectors"] != ".pii-mask" {
		t.Errorf("NewBootstrap changed the caller's settings: %v", settings)
	}
	page := runInNode(t, b, "", "https://shop.example/__cobrowse/bootstrap.js?v="+b.Version())
	mask, _ := page.Settings["piiMask"].(map[string]any)
	if mask["maskCssSelectors"] != ".pii-mask, ."+WidgetMaskClass || mask["maskType"] != "custom_input" {
		t.Errorf("piiMask %v, want the widget's class added", mask)
	}
	if page.Frame || len(page.Widgets) != 1 || page.Widgets[0] != WidgetMaskClass {
		t.Errorf("page: frame=%v widgets=%v, want one %q", page.Frame, page.Widgets, WidgetMaskClass)
	}
	frame := runInNode(t, b, "", "https://shop.example/__cobrowse/bootstrap.js?v="+b.Version()+"&frame=1")
	if !frame.Frame || len(frame.Widgets) != 0 || len(frame.Inserted) != 1 || !frame.Ready {
		t.Errorf("iframe variant: frame=%v widgets=%v inserted=%d ready=%v, want the loader only", frame.Frame, frame.Widgets, len(frame.Inserted), frame.Ready)
	}

	// Without selectors of its own, piiMask is created for the widget.
	plain := withMask(map[string]any{"x": 1}, ".w")
	if m := plain["piiMask"].(map[string]any); m["maskCssSelectors"] != ".w" || m["maskType"] != "custom_input" || plain["x"] != 1 {
		t.Errorf("withMask on empty settings: %v", plain)
	}
}

// nodePath finds Node.js. Without it the test skips with how to install
// it, except under CI (CI set), where a missing tool must fail the run.
func nodePath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"node", "nodejs"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "node is not installed: apt-get install -y nodejs (CI installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
