package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/maskaudit"
)

func newAuditBootstrap(t *testing.T, a Audit) *Bootstrap {
	t.Helper()
	b, err := NewBootstrap(BootstrapConfig{
		SDKURL: "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0",
		Prefix: "/__cobrowse",
		Audit:  a,
	}, encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bootstrap.js loads the audit's script only when the audit is on and the
// page view is sampled, after the SDK, with the same nonce; the script's
// URL carries its version.
func TestAuditScriptLoadedWhenSampled(t *testing.T) {
	on := newAuditBootstrap(t, Audit{Enabled: true, SampleRate: 1, ReportURL: "/__cobrowse/mask-report"})
	want := "/__cobrowse" + AuditScriptPath + "?v=" + on.audit.version
	tests := []struct {
		name  string
		b     *Bootstrap
		src   string
		audit bool
	}{
		{"sampled", on, "", true},
		{"sampled, iframe variant", on, "https://shop.example/__cobrowse/bootstrap.js?frame=1", true},
		{"sample rate 0", newAuditBootstrap(t, Audit{Enabled: true, SampleRate: 0, ReportURL: "/r"}), "", false},
		{"audit off", newAuditBootstrap(t, Audit{Enabled: false, SampleRate: 1, ReportURL: "/r"}), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runInNode(t, tt.b, "n0nce", tt.src)
			var srcs []string
			for _, s := range got.Inserted {
				srcs = append(srcs, s.Src)
				if s.Nonce != "n0nce" || s.Async {
					t.Errorf("script %+v: want the nonce, not async", s)
				}
			}
			if len(srcs) == 0 || !strings.Contains(srcs[0], "/sdk/") {
				t.Fatalf("scripts %v: want the SDK first", srcs)
			}
			if tt.audit && (len(srcs) != 2 || srcs[1] != want) {
				t.Errorf("scripts %v, want the SDK then %s", srcs, want)
			}
			if !tt.audit && len(srcs) != 1 {
				t.Errorf("scripts %v, want the SDK only", srcs)
			}
			if (tt.b.AuditScript() == nil) != (tt.name == "audit off") {
				t.Errorf("AuditScript() = %v with the audit %s", tt.b.AuditScript(), tt.name)
			}
		})
	}
}

// The audit's script is served like bootstrap.js: JavaScript, cached for
// good under its version.
func TestAuditScriptServe(t *testing.T) {
	b := newAuditBootstrap(t, Audit{Enabled: true, SampleRate: 1, ReportURL: "/r"})
	srv := httptest.NewServer(b.AuditScript())
	defer srv.Close()
	res, err := http.Get(srv.URL + AuditScriptPath + "?v=" + b.audit.version)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") ||
		res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("status %d, headers %v", res.StatusCode, res.Header)
	}
	if string(body) != string(auditSource) {
		t.Errorf("body is not assets/audit.js")
	}
	// The audit never reads a field's value: no ".value" in the script.
	if strings.Contains(string(auditSource), ".value") {
		t.Errorf("audit.js mentions .value")
	}
}

// TestAuditScriptSize logs the audit script's size and keeps it small:
// sampled page views download it.
func TestAuditScriptSize(t *testing.T) {
	b := newAuditBootstrap(t, Audit{Enabled: true, SampleRate: 1, ReportURL: "/r"})
	plain, gz := b.audit.Size()
	t.Logf("mask-audit.js: %d bytes, %d gzipped", plain, gz)
	if gz > 4<<10 {
		t.Errorf("mask-audit.js is %d bytes gzipped; keep it under 4 KiB", gz)
	}
}

// The classifier's kinds are exactly those the report endpoint accepts: a
// kind only the script knew would have every report holding it refused.
func TestAuditKindsMatchEndpoint(t *testing.T) {
	var js []string
	for _, m := range regexp.MustCompile(`(?m)^\s*\["([a-z_]+)", `).FindAllStringSubmatch(string(auditSource), -1) {
		js = append(js, m[1])
	}
	want := maskaudit.Kinds()
	if !slices.Equal(js, want) {
		t.Errorf("audit.js kinds %q, maskaudit.Kinds() %q", js, want)
	}
}
