package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

func TestDesk(t *testing.T) {
	const key = "cbpk_test-key"
	auth := token.NewAgentAuth([]token.AgentKey{{Name: "alice", Hash: token.HashKey(key)}}, token.IdentityHeader{}, nil, nil)
	desk := &Desk{Prefix: "/__cobrowse", DeskURL: DeskURLFor("https://us01-zcb.zoom.us/static/resource/sdk"), Auth: auth, KeyLogin: true}
	srv := httptest.NewServer(desk)
	defer srv.Close()
	off := httptest.NewServer(&Desk{Prefix: "/__cobrowse", DeskURL: desk.DeskURL, Auth: token.NewAgentAuth(nil, token.IdentityHeader{}, nil, nil)})
	defer off.Close()

	tests := []struct {
		name, url, bearer string
		code              int
		contains          []string
		lacks             []string
	}{
		{"sign-in form", srv.URL + "/__cobrowse/agent", "", 200,
			[]string{`action="/__cobrowse/agent/login"`, `name="key"`}, []string{"data-desk-url", "<script>"}},
		{"bad key message", srv.URL + "/__cobrowse/agent?error=invalid_key", "", 200,
			[]string{"That access key is not valid."}, nil},
		{"no SDK secret: says what to set", srv.URL + "/__cobrowse/agent?error=unavailable", "", 200,
			[]string{"no Zoom SDK secret", "zoom.sdkSecret", "ZOOM_SDK_SECRET", `name="key"`}, nil},
		{"unknown error value shows nothing odd", srv.URL + "/__cobrowse/agent?error=<b>x</b>", "", 200,
			nil, []string{"<b>x</b>"}},
		{"agent with key", srv.URL + "/__cobrowse/agent", key, 200,
			[]string{`data-desk-url="https://us01-zcb.zoom.us/sdkapi/zcb/frame-templates/desk?access_token="`,
				`data-token-url="/__cobrowse/token"`, "alice", "<script>"}, []string{`name="key"`}},
		{"wrong key", srv.URL + "/__cobrowse/agent", "nope", 200, []string{`name="key"`}, []string{"data-desk-url"}},
		{"agent auth not configured", off.URL + "/__cobrowse/agent", "", 403,
			[]string{"token.agent.keys"}, []string{`name="key"`}},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if tc.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		if res.StatusCode != tc.code {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.code)
		}
		for _, s := range tc.contains {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q", tc.name, s)
			}
		}
		for _, s := range tc.lacks {
			if strings.Contains(body, s) {
				t.Errorf("%s: page has %q", tc.name, s)
			}
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-src https://us01-zcb.zoom.us") || !strings.Contains(csp, "default-src 'none'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers CSP %q, Cache-Control %q", tc.name, csp, res.Header.Get("Cache-Control"))
		}
		// Every inline script and style is allowed by its hash, and only by it.
		for _, m := range regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`).FindAllStringSubmatch(body, -1) {
			sum := sha256.Sum256([]byte(m[2]))
			want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
			if !strings.Contains(csp, want) {
				t.Errorf("%s: inline <%s> not allowed by the page's CSP %q", tc.name, m[1], csp)
			}
		}
		// Under no-referrer, browsers send "Origin: null" on the sign-in
		// POST; same-origin keeps the real Origin for same-origin requests.
		if rp := res.Header.Get("Referrer-Policy"); rp != "same-origin" {
			t.Errorf("%s: Referrer-Policy %q, want same-origin", tc.name, rp)
		}
		if strings.Contains(body, `content="no-referrer"`) || !strings.Contains(body, `<meta name="referrer" content="same-origin">`) {
			t.Errorf("%s: the page's referrer meta is not same-origin", tc.name)
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows unsafe-inline", tc.name)
		}
	}
}
