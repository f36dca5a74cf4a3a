package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// maxSecretFileBytes bounds a *File read: such a file holds one key, and the
// limit keeps a mistaken path (a log, /dev/zero) from filling memory.
const maxSecretFileBytes = 64 << 10

// Load reads the config file at path and Parses it. Relative *File paths
// are resolved against the directory of path, so a config and the secrets
// mounted beside it can move together.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data, filepath.Dir(path), lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	c.Hash = hex.EncodeToString(sum[:])
	return c, nil
}

// LoadAllowingMissingEnv is Load for checking a config's structure where
// the secrets' environment variables are not set (a CI job validating a
// config repository): an unset ${NAME} expands to "" and is returned as a
// warning instead of an error, and so are the complaints it causes about
// the same key (an empty zoom.sdkKey). Every other problem is still an
// error. The Config it returns is for inspection only: never run with it.
func LoadAllowingMissingEnv(path string, lookupEnv func(string) (string, bool)) (*Config, Errors, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	c, unset, err := parse(data, filepath.Dir(path), lookupEnv, true)
	if err != nil {
		return nil, unset, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, unset, nil
}

// Parse turns YAML into a validated Config:
//
//  1. decode into a yaml.Node (a syntax error names the line);
//  2. expand ${NAME} and ${NAME:-default} in scalar values, never in keys
//     ($$ is a literal $); a lone $ not followed by { or $ is kept as is;
//  3. check the document's shape against the schema: unknown keys (except
//     the pass-through keys of settings), duplicate keys and values of the
//     wrong type are reported with their line;
//  4. read the *File keys (relative paths against baseDir), trimming
//     trailing white space;
//  5. ApplyDefaults and Validate.
//
// All problems from steps 2 to 5 are returned together as Errors; a problem
// found early suppresses later reports about the same key. lookupEnv is the
// environment (os.LookupEnv in production); nil means no variable is set.
func Parse(data []byte, baseDir string, lookupEnv func(string) (string, bool)) (*Config, error) {
	c, _, err := parse(data, baseDir, lookupEnv, false)
	return c, err
}

// parse is Parse; with allowUnset, unset variables are returned apart, as
// warnings, instead of among the errors.
func parse(data []byte, baseDir string, lookupEnv func(string) (string, bool), allowUnset bool) (*Config, Errors, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, fmt.Errorf("line %d: a second YAML document (---) starts here; the config must be one document", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}

	st := &shapeState{expanded: map[*yaml.Node]bool{}, visited: map[visitKey]bool{}}
	var c Config
	if len(doc.Content) > 0 && !isNull(doc.Content[0]) {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("line %d: the top level must be a mapping of keys such as zoom and sites", root.Line)
		}
		expandNode(root, "", lookupEnv, &st.es, st.expanded)
		st.shape(root, configType, "")
		if err := root.Decode(&c); err != nil {
			st.es.add("", "", "%v", err)
		}
	}
	readFiles(&c, baseDir, &st.es)
	applyDefaults(&c)
	var verrs Errors
	if err := c.Validate(); err != nil {
		verrs = err.(Errors)
	}
	all := mergeErrors(st.es, verrs)
	var unset Errors
	if allowUnset {
		kept := all[:0:0]
		for _, e := range all {
			if strings.HasPrefix(e.Message, unsetEnvPrefix) {
				unset = append(unset, e)
			} else {
				kept = append(kept, e)
			}
		}
		all = kept
	}
	if len(all) > 0 {
		return nil, unset, all
	}
	return &c, unset, nil
}

// unsetEnvPrefix starts the message about an unset ${NAME}.
const unsetEnvPrefix = "environment variable "

// mergeErrors appends later to first, dropping any later error about a key
// already reported (or one inside it): when a variable is unset or a value
// has the wrong type, "is required" about the same key would only be noise.
func mergeErrors(first, later Errors) Errors {
	out := first
	for _, e := range later {
		dup := false
		for _, f := range first {
			if f.Path != "" && (e.Path == f.Path || strings.HasPrefix(e.Path, f.Path+".") || strings.HasPrefix(e.Path, f.Path+"[")) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// expandNode expands environment references in every scalar value under n,
// recording the nodes it changed. Keys are left alone, and aliases are
// skipped because their anchor is expanded where it is defined.
func expandNode(n *yaml.Node, p string, lookup func(string) (string, bool), es *Errors, expanded map[*yaml.Node]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], joinPath(p, n.Content[i].Value), lookup, es, expanded)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, fmt.Sprintf("%s[%d]", p, i), lookup, es, expanded)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		out, problems := expandString(n.Value, lookup)
		for _, msg := range problems {
			es.add(p, "", "%s", msg)
		}
		n.Value = out
		expanded[n] = true
	}
}

// expandString replaces ${NAME}, ${NAME:-default} and $$ in s. The
// problems never quote s itself, which may be a secret.
func expandString(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var problems []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i+1:], "${"):
			// $${ is a literal ${; any other $ (also $$) stays as it is, so
			// values such as the SDK's "$$ZCB_SESSION$$" need no escaping.
			b.WriteString("${")
			i += 2
		case s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				problems = append(problems, "has an unterminated ${; write $${ for a literal ${")
				b.WriteString(s[i:])
				return b.String(), problems
			}
			ref := s[i+2 : i+2+end]
			i += 2 + end
			name, def, hasDef := strings.Cut(ref, ":-")
			if !validEnvName(name) {
				problems = append(problems, "has an invalid ${...} reference: write ${NAME} or ${NAME:-default}, where NAME is letters, digits and _ (and $${ for a literal ${)")
				continue
			}
			v, ok := lookup(name)
			switch {
			case hasDef && (!ok || v == ""):
				b.WriteString(def)
			case ok:
				b.WriteString(v)
			default:
				problems = append(problems, fmt.Sprintf(unsetEnvPrefix+"%s is not set; export it or write ${%s:-default}", name, name))
			}
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), problems
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func joinPath(p, key string) string {
	if p == "" {
		return key
	}
	return p + "." + key
}

// readFiles resolves every *File path against baseDir and reads the Zoom
// ones and the agent session key. TLS files are only resolved: the TLS code
// reads them, and Validate checks they are readable.
func readFiles(c *Config, baseDir string, es *Errors) {
	z := &c.Zoom
	readSecretKey(&z.SDKKey, &z.SDKKeyFile, &z.keyFromFile, "zoom.sdkKeyFile", baseDir, es)
	readSecretKey(&z.SDKSecret, &z.SDKSecretFile, &z.secretFromFile, "zoom.sdkSecretFile", baseDir, es)
	a := &c.Token.Agent
	readSecretKey(&a.SessionKey, &a.SessionKeyFile, &a.sessionKeyFromFile, "token.agent.sessionKeyFile", baseDir, es)
	c.TLS.Files.CertFile = resolvePath(baseDir, c.TLS.Files.CertFile)
	c.TLS.Files.KeyFile = resolvePath(baseDir, c.TLS.Files.KeyFile)
	c.TLS.ACME.CARoots = resolvePath(baseDir, c.TLS.ACME.CARoots)
	c.TLS.ACME.Storage = resolvePath(baseDir, c.TLS.ACME.Storage)
	readStorageFiles(&c.Storage.Redis, baseDir, es)
	readPolicy(c, baseDir, es)
}

func readSecretKey(value, file *string, fromFile *bool, p, baseDir string, es *Errors) {
	if *file == "" {
		return
	}
	*file = resolvePath(baseDir, *file)
	if *value != "" {
		return // both set: Validate reports it
	}
	v, err := readSecretFile(*file)
	if err != nil {
		es.add(p, *file, "%v", err)
		return
	}
	if v == "" {
		es.add(p, *file, "is empty")
		return
	}
	*value, *fromFile = v, true
}

func resolvePath(baseDir, p string) string {
	if p == "" || baseDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}

// readSecretFile reads one key from a file, such as a mounted Kubernetes
// Secret, without trailing white space. Errors never include the content.
func readSecretFile(name string) (string, error) {
	if err := regularFile(name); err != nil {
		return "", err
	}
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	if len(data) > maxSecretFileBytes {
		return "", fmt.Errorf("is larger than %d bytes; it should hold just the key", maxSecretFileBytes)
	}
	return strings.TrimRightFunc(string(data), unicode.IsSpace), nil
}
