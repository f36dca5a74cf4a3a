package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const policySite = "zoom: {sdkKey: k}\nsites: [{name: shop, hosts: [shop.test], upstream: \"http://127.0.0.1:1\", masking: {selectors: [\".site\"]}}]\n"

// The policy file's selectors come first in every site's mask, the config's
// central ones and the site's only add to them, and nothing in the config
// can take a policy selector away or switch auto-masking off.
func TestPolicyFileIsCentral(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policy.yaml"), "version: \"2026-12-01\"\nselectors: [\"#ssn\", \".site\"]\nattributes: [data-secret]\nautoMaskSensitiveInputs: true\n")
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "masking: {policyFile: policy.yaml, selectors: [\".extra\"]}\n"+policySite)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel, attrs := c.SiteMask(0)
	if got := strings.Join(sel, " "); got != "#ssn .site .extra" {
		t.Errorf("selectors = %q, want %q", got, "#ssn .site .extra")
	}
	if got := strings.Join(attrs, " "); got != "data-secret" {
		t.Errorf("attributes = %q", got)
	}
	p := c.Masking.Policy
	if p.Version != "2026-12-01" || len(p.Hash) != 64 || c.Masking.PolicyFile != filepath.Join(dir, "policy.yaml") {
		t.Errorf("policy = %+v, file %q", p, c.Masking.PolicyFile)
	}
	if a := c.Masking.AutoMaskSensitiveInputs; a == nil || !*a {
		t.Errorf("autoMaskSensitiveInputs = %v, want the policy's true", a)
	}

	// The config may not set autoMaskSensitiveInputs beside a policy file.
	writeFile(t, path, "masking: {policyFile: policy.yaml, autoMaskSensitiveInputs: false}\n"+policySite)
	_, err = Load(path, nil)
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Path != "masking.autoMaskSensitiveInputs" || !strings.Contains(es[0].Message, "set it in "+filepath.Join(dir, "policy.yaml")) {
		t.Errorf("Load() = %v, want one error on masking.autoMaskSensitiveInputs naming the policy file", err)
	}
}

// A policy file without a version is named by its hash's first 12 digits.
func TestPolicyVersionDefaultsToHash(t *testing.T) {
	p, err := ParsePolicy([]byte("selectors: [\"#a\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	// printf 'selectors: ["#a"]\n' | sha256sum
	if p.Hash != "769f0c52ce4121853b1f6579877c99866c18d412ff8a7b6e4df3c7a0e6ec24d1" {
		t.Errorf("hash %q", p.Hash)
	}
	if p.Version != "769f0c52ce41" {
		t.Errorf("version %q, want the hash's first 12 digits", p.Version)
	}
}

// Broken policy files are refused with every problem by key, alone (validate
// -policy) and through the config (with the file named in the path).
func TestPolicyFileProblems(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          []string // paths of the problems, in order
	}{
		{"unknown key", "selector: [\"#a\"]\n", []string{"selector"}},
		{"bad selector and attribute", "selectors: [\"#ok\", \"#a[\"]\nattributes: [\"=x\"]\n", []string{"selectors[1]", "attributes[0]"}},
		{"wrong type", "autoMaskSensitiveInputs: maybe\n", []string{"autoMaskSensitiveInputs"}},
		{"version too long", "version: " + strings.Repeat("v", 65) + "\n", []string{"version"}},
		{"not a mapping", "- a\n", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "p.yaml")
			writeFile(t, file, tc.content)
			_, err := LoadPolicy(file)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("LoadPolicy() = %v, want Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("problem paths %q, want %q (%v)", got, tc.want, err)
			}
			cfgPath := filepath.Join(dir, "config.yaml")
			writeFile(t, cfgPath, "masking: {policyFile: p.yaml}\n"+policySite)
			_, err = Load(cfgPath, nil)
			if err == nil || !strings.Contains(err.Error(), "masking.policyFile("+file+")") {
				t.Errorf("Load() = %v, want the problem under masking.policyFile(%s)", err, file)
			}
		})
	}
	_, err := Load(filepath.Join(dir, "missing-config.yaml"), nil)
	if err == nil {
		t.Fatal("missing config loaded")
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, "masking: {policyFile: nowhere.yaml}\n"+policySite)
	_, err = Load(cfgPath, nil)
	var es Errors
	if !errors.As(err, &es) || es[0].Path != "masking.policyFile" {
		t.Errorf("missing policy file: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("version: v1\nselectors: [\"#ssn\", \".card\"]\nattributes: [data-pii=true]\nautoMaskSensitiveInputs: false\n"))
	f.Add([]byte("selectors: [\"#a[\"]\n"))
	f.Add([]byte("- x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		// An accepted policy is valid as a config's central policy too.
		c := &Config{Masking: Masking{Selectors: p.Selectors, Attributes: p.Attributes}}
		c.ApplyDefaults()
		var es Errors
		validateMasking(&es, "masking", c.Masking.Selectors, c.Masking.Attributes)
		if len(es) > 0 {
			t.Fatalf("accepted policy fails config validation: %v", es)
		}
		if len(p.Hash) != 64 || p.Version == "" || len(p.Version) > 64 {
			t.Fatalf("hash %q version %q", p.Hash, p.Version)
		}
	})
}
