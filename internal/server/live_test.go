package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/metrics"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// A reload builds a new token service; a desk cookie signed out before it
// must stay refused after it, and one still signed in stays valid.
func TestReloadKeepsSignOuts(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := tokenConfig(up.URL)
	withAgentKey(cfg)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sh := server.NewShared(slog.New(slog.DiscardHandler), metrics.New(prometheus.NewRegistry(), "test"), encoding.New(encoding.Options{}))
	rt, err := sh.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	live := server.NewLive(rt, nil)
	ps := httptest.NewServer(live)
	defer ps.Close()

	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin, "Sec-Fetch-Site": "same-origin"}
	signIn := func() string {
		res, _ := send(t, ps.URL, "POST", cspHost, "/__cobrowse/agent/login", formHdr, url.Values{"key": {agentKey}}.Encode())
		return "cobrowse_agent=" + deskCookie(t, res).Value
	}
	signedIn := func(cookie string) bool {
		_, body := send(t, ps.URL, "GET", cspHost, "/__cobrowse/agent", map[string]string{"Cookie": cookie}, "")
		return !isSignInForm(body)
	}
	out, kept := signIn(), signIn()
	res, _ := send(t, ps.URL, "POST", cspHost, "/__cobrowse/agent/logout", withHeaders(formHdr, "Cookie", out), "")
	if res.StatusCode != http.StatusSeeOther || signedIn(out) || !signedIn(kept) {
		t.Fatalf("before the reload: logout %d, signed-out cookie valid %v, other cookie valid %v", res.StatusCode, signedIn(out), signedIn(kept))
	}

	next := tokenConfig(up.URL)
	withAgentKey(next)
	next.Sites = append(next.Sites, config.Site{Name: "other", Hosts: []string{"other.test"}, Upstream: up.URL})
	next.ApplyDefaults()
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}
	rt2, err := sh.Build(next)
	if err != nil {
		t.Fatal(err) // also: collectors registered twice would fail here
	}
	live.Swap(rt2)
	if signedIn(out) {
		t.Error("a cookie signed out before the reload is valid again after it")
	}
	if !signedIn(kept) {
		t.Error("a signed-in agent was signed out by the reload")
	}
	if res, _ := send(t, ps.URL, "GET", "other.test", "/__cobrowse/none", nil, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("the new site's reserved prefix: %d, want 404 (served)", res.StatusCode)
	}
}
