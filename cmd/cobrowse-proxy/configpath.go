package main

import (
	"errors"
	"io/fs"
	"os"
)

// configEnv names the config file when run has no -config: a container
// image sets it (or mounts the file at defaultConfigPath) instead of
// repeating the path in every pod's args.
const (
	configEnv         = "COBROWSE_PROXY_CONFIG"
	defaultConfigPath = "/etc/cobrowse-proxy/config.yaml"
)

// defaultConfig is run's config path without -config: $COBROWSE_PROXY_CONFIG
// when set (used as given: a missing file is then load's clear error), else
// defaultConfigPath when it exists. Neither is a usage error naming all
// three ways, so that "run" alone on a laptop says what to do rather than
// complaining about a file under /etc.
func defaultConfig(lookupEnv func(string) (string, bool), stat func(string) (os.FileInfo, error)) (string, error) {
	if p, ok := lookupEnv(configEnv); ok && p != "" {
		return p, nil
	}
	if _, err := stat(defaultConfigPath); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return defaultConfigPath, nil
	}
	return "", usageError{"-config FILE is required, or set " + configEnv + ", or mount the config at " + defaultConfigPath + " (see config.example.yaml)"}
}
