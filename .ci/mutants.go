//go:build ignore

// mutants reads gremlins' JSON results (gremlins unleash -o FILE) for one
// package, drops the mutants its equivalents file lists as equivalent (the
// mutation changes no behaviour, with a reason per line), and fails when the
// efficacy left — killed (timed out counts as killed: the tests noticed) over
// killed plus lived — is under the goal. It prints every surviving mutant,
// so the next test to write is obvious.
//
//	go run .ci/mutants.go -results out.json -equivalent internal/inject/testdata/mutants-equivalent.txt -goal 90
//
// An equivalents file has one mutant per line, "file:line:column TYPE reason",
// e.g. "rewriter.go:441:11 CONDITIONALS_BOUNDARY n is never negative here";
// "#" starts a comment.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type results struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

func main() {
	resultsPath := flag.String("results", "", "gremlins JSON output (required)")
	equivPath := flag.String("equivalent", "", "equivalent-mutant list (may be absent)")
	goal := flag.Float64("goal", 90, "minimum efficacy in percent")
	name := flag.String("name", "", "package name for the report")
	flag.Parse()
	if err := run(*resultsPath, *equivPath, *goal, *name); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run(resultsPath, equivPath string, goal float64, name string) error {
	if resultsPath == "" {
		return errors.New("-results FILE is required")
	}
	b, err := os.ReadFile(resultsPath)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", resultsPath, err)
	}
	equiv, err := readEquivalents(equivPath)
	if err != nil {
		return err
	}
	killed, lived, timedOut, notCovered, equivalent := 0, 0, 0, 0, 0
	var survivors []string
	used := map[string]bool{}
	for _, f := range r.Files {
		for _, m := range f.Mutations {
			key := fmt.Sprintf("%s:%d:%d %s", f.FileName, m.Line, m.Column, m.Type)
			switch m.Status {
			case "KILLED":
				killed++
			case "TIMED OUT", "TIMED_OUT":
				timedOut++
			case "LIVED":
				if equiv[key] {
					equivalent++
					used[key] = true
					continue
				}
				lived++
				survivors = append(survivors, key)
			case "NOT COVERED", "NOT_COVERED":
				notCovered++
			}
		}
	}
	sort.Strings(survivors)
	for _, s := range survivors {
		fmt.Printf("  LIVED %s\n", s)
	}
	var stale []string
	for k := range equiv {
		if !used[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, s := range stale {
		fmt.Printf("  note: %s is listed as equivalent but did not live (killed now, or the line moved)\n", s)
	}
	detected := killed + timedOut
	eff := 100.0
	if detected+lived > 0 {
		eff = 100 * float64(detected) / float64(detected+lived)
	}
	fmt.Printf("%s: efficacy %.1f%% (killed %d, timed out %d, lived %d, equivalent %d, not covered %d), goal %.0f%%\n",
		name, eff, killed, timedOut, lived, equivalent, notCovered, goal)
	if eff < goal {
		return fmt.Errorf("%s: efficacy %.1f%% is under the goal of %.0f%%: kill the mutants listed above with a test, or list a truly equivalent one in %s with its reason", name, eff, goal, equivPath)
	}
	return nil
}

func readEquivalents(path string) (map[string]bool, error) {
	out := map[string]bool{}
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want \"file:line:column TYPE reason\", got %q", path, n, line)
		}
		out[fields[0]+" "+fields[1]] = true
	}
	return out, sc.Err()
}
