package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const examplePath = "../config.example.yaml"

func TestExampleConfigValid(t *testing.T) {
	c, err := Load(examplePath, envMap(map[string]string{"ZOOM_SDK_KEY": "example-key"}))
	if err != nil {
		t.Fatalf("config.example.yaml does not load:\n%v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("config.example.yaml does not validate:\n%v", err)
	}
	if len(c.Sites) < 2 || c.Sites[0].Upstream != "http://127.0.0.1:3000" {
		t.Errorf("example should have the shop site first and a second site, got %d sites", len(c.Sites))
	}
	// Without the key the example must say exactly what to do.
	_, err = Load(examplePath, envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "zoom.sdkKey: environment variable ZOOM_SDK_KEY is not set") {
		t.Errorf("Load without ZOOM_SDK_KEY = %v", err)
	}
}

// TestExampleDocumentsEveryKey makes sure no key of the schema goes
// undocumented: every YAML key of every struct must appear in the example,
// as a key (possibly commented out) preceded by a comment line.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)
	keys := map[string]bool{}
	collectKeys(reflect.TypeFor[Config](), "", keys)
	if len(keys) < 60 {
		t.Fatalf("found only %d keys; the reflection walk is broken", len(keys))
	}
	for path := range keys {
		name := path[strings.LastIndex(path, ".")+1:]
		re := regexp.MustCompile(`(?m)^[ \t]*(#[ \t]*)?(- )?` + regexp.QuoteMeta(name) + `:`)
		if !re.MatchString(example) {
			t.Errorf("config.example.yaml does not document %s (no line %q)", path, name+":")
		}
	}
}

func collectKeys(t reflect.Type, prefix string, keys map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == durationType {
		return
	}
	fields, names, _ := structFields(t)
	for _, name := range names {
		p := joinPath(prefix, name)
		keys[p] = true
		collectKeys(fields[name], p, keys)
	}
}
