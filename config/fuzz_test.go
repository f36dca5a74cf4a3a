package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks Parse's contract on arbitrary input: it never panics,
// and whatever it accepts is valid and already fully defaulted (a second
// ApplyDefaults changes nothing and Validate still passes).
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"# only a comment\n",
		minimalSite,
		"zoom: {sdkKey: K}\n" + minimalSite,
		"zoom: {sdkKey: ${KEY}, sdkSecret: \"${SECRET:-x}\"}\n" + minimalSite,
		"zoom: {sdkKeyFile: secret.txt}\n" + minimalSite,
		"tls: {mode: off}\nzoom: {sdkKey: K}\n" + minimalSite,
		"zoom: {sdkKey: K}\nsites:\n  - &s {name: a, hosts: [A.example.com.], upstream: 'http://h'}\n  - <<: *s\n    name: b\n    hosts: ['*.b']\n",
		"zoom: {sdkKey: K}\nsites:\n  - name: s\n    hosts: [h]\n    upstream: https://u/p\n    settings: {x: {1: 2}, piiMask: {}, remoteAssist: {enable: true}}\n",
		"zoom: {sdkKey: K}\nserver: {idleTimeout: 5}\nsites: x\n",
		"zoom: {sdkKey: K}\ntoken: {byop: true, customer: {rate: {every: 1s}}, agent: {keys: [{name: a, hash: " + strings.Repeat("AB", 32) + "}], " +
			"identity: {header: X-Email, from: [10.0.0.1]}, sessionKeyFile: session-key.txt, rate: {burst: 1}}}\n" + minimalSite,
		"zoom: {sdkKey: K}\ntoken: {agent: {identity: {from: ['::/0']}, sessionKey: short}}\n" + minimalSite,
		"zoom: {sdkKey: K}\nsites:\n  - name: s\n    hosts: [h]\n    upstream: http://u\n    crossOriginAssets: any\n" +
			"    csp: {mode: merge, extraSources: {img-src: [data:], <<: {font-src: [data:]}, script-src: ['*']}, alwaysReport: true, baseline: \"default-src 'self'\"}\n",
		"a: 1\n---\nb: 2\n",
		"- x\n",
	}
	if data, err := os.ReadFile("testdata/good.yaml"); err == nil {
		seeds = append(seeds, string(data))
	}
	if data, err := os.ReadFile("../config.example.yaml"); err == nil {
		seeds = append(seeds, string(data))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	env := envMap(map[string]string{"KEY": "k", "ZOOM_SDK_KEY": "zk", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse([]byte(data), "testdata", env)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a Config with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects:\n%v", err)
		}
		again, err := Parse([]byte(data), "testdata", env)
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		again.ApplyDefaults()
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("ApplyDefaults is not idempotent:\n%+v\n%+v", c, again)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("Validate fails after a second ApplyDefaults:\n%v", err)
		}
	})
}
