package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without -config, run takes $COBROWSE_PROXY_CONFIG, else the image's
// default path when it exists, else says all three ways (a usage error).
func TestDefaultConfig(t *testing.T) {
	env := func(v string, set bool) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k != configEnv {
				t.Errorf("looked up %q, want %q", k, configEnv)
			}
			return v, set
		}
	}
	exists := func(string) (os.FileInfo, error) { return nil, nil }
	missing := func(string) (os.FileInfo, error) { return nil, fs.ErrNotExist }
	denied := func(string) (os.FileInfo, error) { return nil, fs.ErrPermission }
	for _, tc := range []struct {
		name    string
		env     func(string) (string, bool)
		stat    func(string) (os.FileInfo, error)
		want    string
		wantErr bool
	}{
		{"env wins over the default file", env("/cfg/x.yaml", true), exists, "/cfg/x.yaml", false},
		{"env wins even when its file is missing", env("/cfg/x.yaml", true), missing, "/cfg/x.yaml", false},
		{"default file", env("", false), exists, defaultConfigPath, false},
		{"empty env is unset", env("", true), exists, defaultConfigPath, false},
		{"unreadable default is load's error", env("", false), denied, defaultConfigPath, false},
		{"nothing", env("", false), missing, "", true},
	} {
		got, err := defaultConfig(tc.env, tc.stat)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: got %q, %v; want %q, error %v", tc.name, got, err, tc.want, tc.wantErr)
		}
		var ue usageError
		if tc.wantErr && (!errors.As(err, &ue) || !strings.Contains(ue.msg, configEnv) || !strings.Contains(ue.msg, defaultConfigPath)) {
			t.Errorf("%s: error %v should be a usage error naming %s and %s", tc.name, err, configEnv, defaultConfigPath)
		}
	}
}

// run without -config loads the file $COBROWSE_PROXY_CONFIG names: a bad
// one is reported under that path (exit 1), not as a missing flag.
func TestRunConfigFromEnv(t *testing.T) {
	bad, err := filepath.Abs("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(configEnv, bad)
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"run"}, &stdout, &stderr); code != 1 {
		t.Errorf("run with %s set: exit %d, want 1; stderr %q", configEnv, code, stderr.String())
	}
	if !strings.Contains(stderr.String(), bad) {
		t.Errorf("stderr %q does not name %s", stderr.String(), bad)
	}
}
