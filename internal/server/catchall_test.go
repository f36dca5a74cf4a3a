package server_test

import (
	"net/http"
	"testing"
)

// A sidecar's catch-all site ("*") answers every Host:
// the one upstream is the app beside it.
func TestCatchAllSite(t *testing.T) {
	up := newCountingUpstream(t)
	cfg := cspConfig(up.URL)
	cfg.Sites[0].Hosts = []string{"*"}
	ps := newProxy(t, cfg)
	for _, host := range []string{"shop.test", "10.0.0.7:8480", "anything.example.com"} {
		if res, _ := get(t, ps.URL, host, "/__cobrowse/none", nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("Host %q: %d, want 404 from the catch-all site's reserved prefix", host, res.StatusCode)
		}
	}
}
