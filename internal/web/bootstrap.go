// Package web serves what cobrowse-proxy itself puts in front of the
// browser on the reserved prefix: bootstrap.js, which loads the Zoom
// Cobrowse SDK with a site's settings baked in and draws the "get help"
// widget (its styles are inside the script, applied as a constructed
// stylesheet in the widget's shadow root, so there is no widget.css).
package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

//go:embed assets/bootstrap.js
var bootstrapTemplate []byte

// BootstrapConfig is what bootstrap.js needs to know about a site.
type BootstrapConfig struct {
	// SDKURL is the Zoom SDK's CDN URL, key and version included.
	SDKURL string `json:"sdkUrl"`
	// Prefix is the reserved path prefix, for later calls to the proxy.
	Prefix string `json:"prefix"`
	// Settings are the init settings passed to ZoomCobrowseSDK.init,
	// masking included.
	Settings map[string]any `json:"settings"`
	// Widget configures the "get help" widget. The iframe variant
	// (bootstrap.js?frame=1) never draws it.
	Widget Widget `json:"widget"`
	// Audit configures the masking audit (see package maskaudit).
	Audit Audit `json:"audit"`
}

// Audit is the masking audit's per-site configuration: page views that
// run it (SampleRate of them) look for fields that seem sensitive and that
// the effective piiMask does not cover, and POST them to ReportURL.
type Audit struct {
	Enabled    bool    `json:"enabled"`
	SampleRate float64 `json:"sampleRate"`
	// ReportURL is {prefix}/mask-report.
	ReportURL string `json:"reportUrl"`
	// ScriptURL is set by NewBootstrap: the audit's own script, which
	// bootstrap.js loads only on the page views sampled (AuditScript).
	ScriptURL string `json:"scriptUrl,omitempty"`
}

// WidgetMaskClass is the class of the widget's root element. When the
// widget is enabled, NewBootstrap adds "."+WidgetMaskClass to
// piiMask.maskCssSelectors, so the agent does not see the widget.
const WidgetMaskClass = "cobrowse-proxy-widget"

// Widget is the widget's per-site configuration.
type Widget struct {
	Enabled bool `json:"enabled"`
	// Position is bottom-right, bottom-left, top-right or top-left.
	Position string `json:"position"`
	// Label is the floating button's text.
	Label string `json:"label"`
	// MaskClass is set by NewBootstrap to WidgetMaskClass.
	MaskClass string `json:"maskClass,omitempty"`
}

// Bootstrap is a site's bootstrap.js, rendered once at start-up.
type Bootstrap struct {
	body    []byte
	encoded map[string][]byte // by content coding
	version string
	piiMask any        // settings.piiMask as rendered, for the policy view
	audit   *Bootstrap // the masking audit's script; nil when the audit is off
}

// offered are the codings bootstrap.js is pre-encoded in.
var offered = []string{"zstd", "br", "gzip"}

// NewBootstrap renders bootstrap.js for one site and pre-encodes it.
func NewBootstrap(cfg BootstrapConfig, codecs *encoding.Codecs) (*Bootstrap, error) {
	if cfg.Settings == nil {
		cfg.Settings = map[string]any{}
	}
	if cfg.Widget.Enabled {
		cfg.Widget.MaskClass = WidgetMaskClass
		cfg.Settings = withMask(cfg.Settings, "."+WidgetMaskClass)
	}
	var audit *Bootstrap
	if cfg.Audit.Enabled {
		var err error
		if audit, err = newScript(auditSource, codecs); err != nil {
			return nil, err
		}
		cfg.Audit.ScriptURL = cfg.Prefix + AuditScriptPath + "?v=" + audit.version
	}
	// json.Marshal escapes <, > and & and U+2028/2029, so the result is a
	// valid JavaScript expression that cannot close a script element.
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render bootstrap.js settings: %w", err)
	}
	b, err := newScript(bytes.Replace(bootstrapTemplate, []byte("__CONFIG__"), js, 1), codecs)
	if err != nil {
		return nil, err
	}
	b.piiMask, b.audit = cfg.Settings["piiMask"], audit
	return b, nil
}

// newScript hashes a script for its version and pre-encodes it.
func newScript(body []byte, codecs *encoding.Codecs) (*Bootstrap, error) {
	sum := sha256.Sum256(body)
	b := &Bootstrap{body: body, encoded: map[string][]byte{}, version: hex.EncodeToString(sum[:6])}
	for _, coding := range offered {
		var buf bytes.Buffer
		// Encoded once per build and served on every page view: the
		// high levels of Codecs.Static, not the on-the-fly ones.
		enc, err := codecs.Static().NewWriter(coding, &buf)
		if err != nil {
			return nil, fmt.Errorf("encode script as %s: %w", coding, err)
		}
		if _, err := enc.Write(body); err != nil {
			return nil, fmt.Errorf("encode script as %s: %w", coding, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("encode script as %s: %w", coding, err)
		}
		b.encoded[coding] = buf.Bytes()
	}
	return b, nil
}

// withMask returns a copy of settings whose piiMask.maskCssSelectors also
// lists selector; settings itself is not changed. A piiMask without a
// maskType gets "custom_input", the type that honours selectors.
func withMask(settings map[string]any, selector string) map[string]any {
	out := make(map[string]any, len(settings)+1)
	for k, v := range settings {
		out[k] = v
	}
	mask := map[string]any{}
	if m, ok := settings["piiMask"].(map[string]any); ok {
		for k, v := range m {
			mask[k] = v
		}
	}
	if _, ok := mask["maskType"]; !ok {
		mask["maskType"] = "custom_input"
	}
	if sel, _ := mask["maskCssSelectors"].(string); strings.TrimSpace(sel) != "" {
		mask["maskCssSelectors"] = sel + ", " + selector
	} else {
		mask["maskCssSelectors"] = selector
	}
	out["piiMask"] = mask
	return out
}

// Version is a short hash of the script; the loader tag carries it as ?v=
// so browsers may cache the script for long and still see every change.
func (b *Bootstrap) Version() string { return b.version }

// PIIMask returns the piiMask setting the script passes to
// ZoomCobrowseSDK.init (nil: none), as rendered into it.
func (b *Bootstrap) PIIMask() any { return b.piiMask }

// Size returns the script's size, plain and gzipped.
func (b *Bootstrap) Size() (plain, gzipped int) { return len(b.body), len(b.encoded["gzip"]) }

// ServeHTTP serves the script (GET and HEAD), compressed as the client
// accepts, with an ETag so revalidation costs a 304.
func (b *Bootstrap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == b.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	body, etag := b.body, `"`+b.version+`"`
	if coding := encoding.Negotiate(r.Header.Values("Accept-Encoding"), ""); b.encoded[coding] != nil {
		body, etag = b.encoded[coding], `"`+b.version+`-`+coding+`"`
		h.Set("Content-Encoding", coding)
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
