package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
)

// `policy` prints what bootstrap.js really carries: the piiMask of the
// JSON it prints equals the one in the script the running proxy serves,
// and the admin listener's GET /policy says the same.
func TestPolicyCommandMatchesBootstrap(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "masking.yaml"), []byte("version: sec-42\nselectors: [\"#ssn\"]\nattributes: [data-secret]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	yaml := "zoom: {sdkKey: k, sdkSecret: 0123456789abcdef0123}\nmasking: {policyFile: masking.yaml, selectors: [\".central\"]}\nsites:\n" +
		"  - {name: shop, hosts: [shop.test], upstream: \"http://127.0.0.1:1\", masking: {selectors: [\".basket\"]}}\n" +
		"  - {name: blog, hosts: [blog.test], upstream: \"http://127.0.0.1:1\"}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"policy", "-config", path, "-site", "shop"}, &stdout, &stderr); code != 0 {
		t.Fatalf("policy exit %d: %s", code, stderr.String())
	}
	var printed server.PolicyView
	if err := json.Unmarshal(stdout.Bytes(), &printed); err != nil {
		t.Fatal(err)
	}
	if len(printed.Sites) != 1 || printed.Sites[0].Site != "shop" || printed.Policy == nil || printed.Policy.Version != "sec-42" {
		t.Fatalf("policy -site shop printed %+v", printed)
	}
	if got := strings.Join(printed.Sites[0].Selectors, " "); got != "#ssn .central .basket" {
		t.Errorf("selectors %q, want the policy file's, the config's, the site's", got)
	}

	base, admin := startServe(t, path, true, io.Discard)

	req, _ := http.NewRequest("GET", base+"/__cobrowse/bootstrap.js?v="+printed.Sites[0].Bootstrap, nil)
	req.Host = "shop.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, after, ok := strings.Cut(string(js), "var cfg = ")
	if !ok {
		t.Fatalf("no config in bootstrap.js")
	}
	var served struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.NewDecoder(strings.NewReader(after)).Decode(&served); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served.Settings["piiMask"], printed.Sites[0].PIIMask) {
		t.Errorf("bootstrap.js carries piiMask %v,\nbut policy printed %v", served.Settings["piiMask"], printed.Sites[0].PIIMask)
	}

	resp, err = http.Get(admin + "/policy?site=shop")
	if err != nil {
		t.Fatal(err)
	}
	var fromAdmin server.PolicyView
	json.NewDecoder(resp.Body).Decode(&fromAdmin)
	resp.Body.Close()
	if !reflect.DeepEqual(fromAdmin, printed) {
		t.Errorf("GET /policy = %+v,\nwant what the command printed %+v", fromAdmin, printed)
	}
}

func TestPolicyAndValidatePolicyErrors(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("version: v7\nselectors: [\"#ssn\", \".card\"]\n"), 0o600)
	os.WriteFile(bad, []byte("selectors: [\"#ssn[\"]\nfoo: 1\n"), 0o600)
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte("zoom: {sdkKey: k}\nsites: [{name: shop, hosts: [shop.test], upstream: \"http://127.0.0.1:1\"}]\n"), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"good policy", []string{"validate", "-policy", good}, 0, good + ": OK (policy version v7, 2 selectors, 0 attributes)", ""},
		{"bad policy", []string{"validate", "-policy", bad}, 1, "", bad + ": 2 problem(s):\n  foo: unknown key"},
		{"both flags", []string{"validate", "-policy", good, "-config", cfgPath}, 2, "", "not both"},
		{"no site", []string{"policy", "-config", cfgPath, "-site", "nope"}, 1, "", `-site "nope": no such site (sites: shop)`},
		{"no config", []string{"policy"}, 2, "", "-config FILE is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
		})
	}
}
