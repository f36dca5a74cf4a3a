package config

import (
	"strings"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

// TestCompressionRangesMatchEncoding: a level Validate accepts is one
// encoding.New accepts, and the other way round, at and around every
// boundary, so the config cannot let through a level that would make
// run panic, nor refuse one the encoders support.
func TestCompressionRangesMatchEncoding(t *testing.T) {
	for _, f := range []struct {
		key string
		set func(*Compression, int)
	}{
		{"gzipLevel", func(c *Compression, v int) { c.GzipLevel = v }},
		{"brotliQuality", func(c *Compression, v int) { c.BrotliQuality = v }},
		{"zstdLevel", func(c *Compression, v int) { c.ZstdLevel = v }},
	} {
		for v := -2; v <= 24; v++ {
			c := validConfig()
			f.set(&c.Server.Compression, v)
			cfgErr := c.Validate()
			encErr := c.Server.Compression.EncodingOptions().Validate()
			if (cfgErr == nil) != (encErr == nil) {
				t.Errorf("%s = %d: config.Validate() = %v, encoding.Options.Validate() = %v", f.key, v, cfgErr, encErr)
			}
			if cfgErr != nil && !strings.HasPrefix(cfgErr.Error(), "server.compression."+f.key+": ") {
				t.Errorf("%s = %d: error %q does not name server.compression.%s", f.key, v, cfgErr, f.key)
			}
		}
	}
}

// TestCompressionFromYAML: the keys are read from server.compression, and
// omitting them leaves 0 (the encoding package's default).
func TestCompressionFromYAML(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       encoding.Options
	}{
		{"omitted", "", encoding.Options{}},
		{"all set", "server:\n  compression: {gzipLevel: 6, brotliQuality: 4, zstdLevel: 3}\n",
			encoding.Options{GzipLevel: 6, BrotliQuality: 4, ZstdLevel: 3}},
		{"one set", "server:\n  compression:\n    brotliQuality: 11\n", encoding.Options{BrotliQuality: 11}},
		{"keep brotli", "server:\n  compression:\n    keepBrotli: true\n", encoding.Options{KeepBrotli: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("zoom: {sdkKey: K}\n"+tc.yaml+minimalSite), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Server.Compression.EncodingOptions(); got != tc.want {
				t.Errorf("EncodingOptions() = %+v, want %+v", got, tc.want)
			}
		})
	}
	_, err := Parse([]byte("server:\n  compression: {gzipLevel: 12}\nzoom: {sdkKey: K}\n"+minimalSite), "", nil)
	if err == nil || !strings.Contains(err.Error(), `server.compression.gzipLevel: "12" must be 1 (fastest) to 9 (smallest)`) {
		t.Errorf("Parse with gzipLevel 12: %v", err)
	}
}

// TestUpstreamPlainFromYAML: proxy.upstreamPlain is on unless set to false.
func TestUpstreamPlainFromYAML(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       bool
	}{
		{"omitted", "", true},
		{"true", "proxy:\n  upstreamPlain: true\n", true},
		{"false", "proxy:\n  upstreamPlain: false\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("zoom: {sdkKey: K}\n"+tc.yaml+minimalSite), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Proxy.AskUpstreamPlain(); got != tc.want {
				t.Errorf("AskUpstreamPlain() = %v, want %v", got, tc.want)
			}
		})
	}
}
