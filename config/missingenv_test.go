package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LoadAllowingMissingEnv checks a config whose secrets' variables are not
// set: they come back as warnings, the complaints they cause about the same
// key are dropped, and every other problem is still an error. Load (what
// run uses) still refuses the same file.
func TestLoadAllowingMissingEnv(t *testing.T) {
	c, unset, err := LoadAllowingMissingEnv(examplePath, envMap(nil))
	if err != nil {
		t.Fatalf("example config without ZOOM_SDK_KEY: %v", err)
	}
	if len(c.Sites) == 0 || len(unset) != 1 || unset[0].Error() != "zoom.sdkKey: environment variable ZOOM_SDK_KEY is not set; export it or write ${ZOOM_SDK_KEY:-default}" {
		t.Errorf("warnings = %v", unset)
	}
	if _, err := Load(examplePath, envMap(nil)); err == nil {
		t.Error("Load accepts the example without ZOOM_SDK_KEY")
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	yml := `zoom: {sdkKey: "${ZOOM_SDK_KEY}", sdkSecret: "${ZOOM_SDK_SECRET}"}
token: {agent: {sessionKey: "${SESSION_KEY}"}}
sites:
  - {name: shop, hosts: ["${SHOP_HOST}"], upstream: "ftp://x"}
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, unset, err = LoadAllowingMissingEnv(path, envMap(nil))
	if err == nil || !strings.Contains(err.Error(), `sites[0].upstream: "ftp://x" must be an http or https URL`) {
		t.Fatalf("error = %v, want the upstream problem still reported", err)
	}
	if strings.Contains(err.Error(), "zoom.sdkKey") || strings.Contains(err.Error(), "hosts[0]") {
		t.Errorf("problems caused by unset variables are errors:\n%v", err)
	}
	var names []string
	for _, w := range unset {
		names = append(names, w.Path)
	}
	if got := strings.Join(names, " "); got != "zoom.sdkKey zoom.sdkSecret token.agent.sessionKey sites[0].hosts[0]" {
		t.Errorf("warnings for %s", got)
	}
}
