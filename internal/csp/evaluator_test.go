package csp

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// evaluatorDir holds the pinned npm package of Google's CSP Evaluator and
// the script that compares findings (testdata/cspeval/check.js).
const evaluatorDir = "testdata/cspeval"

type evalCase struct {
	Name     string `json:"name"`
	Original string `json:"original"`
	Merged   string `json:"merged"`
}

type evalResult struct {
	Name  string   `json:"name"`
	Added []string `json:"added"`
}

// evaluate runs Google's CSP Evaluator (a second, independent judge of
// policies) on each case and returns the HIGH and SYNTAX findings the
// merged policy has and the original had not. Without Node or the package
// it skips, except under CI, where a missing tool is a failure.
func evaluate(t *testing.T, cases []evalCase) map[string][]string {
	t.Helper()
	missing := func(what string) {
		msg := what + ": install Node.js (apt-get install -y nodejs npm) and run `npm ci --prefix internal/csp/testdata/cspeval` (CI does both)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if node, err = exec.LookPath("nodejs"); err != nil {
			missing("node is not installed")
		}
	}
	if _, err := os.Stat(filepath.Join(evaluatorDir, "node_modules", "csp_evaluator", "package.json")); err != nil {
		missing("the csp_evaluator package is not installed")
	}
	in := filepath.Join(t.TempDir(), "cases.json")
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "check.js", in)
	cmd.Dir = evaluatorDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("csp evaluator: %v\n%s", err, out)
	}
	var res []evalResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("csp evaluator output (%v, %d results for %d cases): %s", err, len(res), len(cases), out)
	}
	added := map[string][]string{}
	for i, r := range res {
		if r.Name != cases[i].Name {
			t.Fatalf("result %d is for %q, want %q", i, r.Name, cases[i].Name)
		}
		added[r.Name] = r.Added
	}
	return added
}

// TestMergedPoliciesPassEvaluator: no merge in the table adds a HIGH or
// SYNTAX finding of Google's CSP Evaluator that the site's policy did not
// have (for example "Missing base-uri" by making a hash-only policy
// nonce-based). The merged policies are the table's literal expectations,
// which TestMergeHeader checks the merge produces.
func TestMergedPoliciesPassEvaluator(t *testing.T) {
	var cases []evalCase
	for _, tt := range mergeHeaderCases() {
		cases = append(cases, evalCase{Name: tt.name, Original: tt.in, Merged: tt.want})
	}
	// Controls: the check must see what it is there to catch.
	controls := []evalCase{
		{Name: "control: a first nonce without base-uri", Original: "script-src 'sha256-AAAA'",
			Merged: "script-src 'sha256-AAAA' 'nonce-" + freshNonce + "'"},
		{Name: "control: a wildcard", Original: "script-src 'self'; object-src 'none'", Merged: "script-src 'self' *; object-src 'none'"},
	}
	added := evaluate(t, append(cases, controls...))
	for _, c := range controls {
		if len(added[c.Name]) == 0 {
			t.Errorf("%s: the evaluator found nothing added; the check is blind", c.Name)
		}
	}
	for _, c := range cases {
		for _, f := range added[c.Name] {
			t.Errorf("%s: the merge adds %s\n original: %s\n   merged: %s", c.Name, f, c.Original, c.Merged)
		}
	}
	if t.Failed() {
		t.Log("findings text: " + strings.Repeat("-", 20))
	}
}
