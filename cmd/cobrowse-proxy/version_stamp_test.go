package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// The commit and build date stamped in by -ldflags (make build, make
// image) win over Go's vcs settings, which a build from a copied source
// tree lacks or which may say "modified" for the stamped commit.
func TestStampedVersionLine(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "aaaa"},
		{Key: "vcs.time", Value: "2026-01-01T00:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		commit, date string
		bi           *debug.BuildInfo
		want         string
	}{
		{"bbbb", "2026-12-03T07:00:00Z", vcs, "v1.2.3 (commit bbbb, 2026-12-03T07:00:00Z) go1.99.1 " + platform},
		{"bbbb", "2026-12-03T07:00:00Z", nil, "v1.2.3 (commit bbbb, 2026-12-03T07:00:00Z) " + runtime.Version() + " " + platform},
		{"", "2026-12-03T07:00:00Z", vcs, "v1.2.3 (commit aaaa, modified, 2026-12-03T07:00:00Z) go1.99.1 " + platform},
		{"", "", vcs, "v1.2.3 (commit aaaa, modified, 2026-01-01T00:00:00Z) go1.99.1 " + platform},
	} {
		if got := stampedVersionLine("v1.2.3", tc.commit, tc.date, tc.bi); got != tc.want {
			t.Errorf("stampedVersionLine(%q, %q) = %q, want %q", tc.commit, tc.date, got, tc.want)
		}
	}
}
