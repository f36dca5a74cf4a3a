package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// maxPolicyFileBytes bounds a policy file read: a policy is a list of
// selectors, and the limit keeps a mistaken path from filling memory.
const maxPolicyFileBytes = 1 << 20

// policyType is the schema the strict decode checks a policy file against.
var policyType = reflect.TypeFor[Policy]()

// LoadPolicy reads and validates a masking policy file on its own, as
// `cobrowse-proxy validate -policy FILE` does in the security team's CI.
// Problems are Errors whose paths are the file's own keys (selectors[2]).
func LoadPolicy(path string) (*Policy, error) {
	data, err := readPolicyFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	p, es := parsePolicy(data, "")
	if len(es) > 0 {
		return nil, es
	}
	return p, nil
}

// ParsePolicy decodes and validates a policy file's content.
func ParsePolicy(data []byte) (*Policy, error) {
	p, es := parsePolicy(data, "")
	if len(es) > 0 {
		return nil, es
	}
	return p, nil
}

func readPolicyFile(path string) ([]byte, error) {
	if err := regularFile(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	if len(data) > maxPolicyFileBytes {
		return nil, fmt.Errorf("is larger than %d bytes", maxPolicyFileBytes)
	}
	return data, nil
}

// parsePolicy is the strict decode of a policy file: unknown keys, wrong
// types, invalid selectors and attributes are all reported, each path
// prefixed with prefix. The hash is of the bytes as given, so two replicas
// with the same file report the same hash.
func parsePolicy(data []byte, prefix string) (*Policy, Errors) {
	sum := sha256.Sum256(data)
	p := &Policy{Hash: hex.EncodeToString(sum[:])}
	var es Errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		es.add(prefix, "", "%v", err)
		return nil, es
	}
	if len(doc.Content) > 0 && !isNull(doc.Content[0]) {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			es.add(prefix, "", "line %d: the top level must be a mapping of keys such as selectors and attributes", root.Line)
			return nil, es
		}
		st := &shapeState{expanded: map[*yaml.Node]bool{}, visited: map[visitKey]bool{}}
		st.shape(root, policyType, prefix)
		es = append(es, st.es...)
		if err := root.Decode(p); err != nil {
			es.add(prefix, "", "%v", err)
		}
	}
	if p.Version == "" {
		p.Version = p.Hash[:12]
	} else if len(p.Version) > 64 || hasControl(p.Version) {
		es.add(joinPath(prefix, "version"), p.Version, "must be at most 64 printable characters, e.g. 2026-12-01 or a git commit")
	}
	validateMasking(&es, prefix, p.Selectors, p.Attributes)
	if len(es) > 0 {
		return nil, es
	}
	return p, nil
}

// readPolicy loads masking.policyFile into c.Masking.Policy. Its
// autoMaskSensitiveInputs is the policy's alone: the config may not set it
// too, so that no config can switch off what the policy switched on.
func readPolicy(c *Config, baseDir string, es *Errors) {
	m := &c.Masking
	if m.PolicyFile == "" {
		return
	}
	m.PolicyFile = resolvePath(baseDir, m.PolicyFile)
	const field = "masking.policyFile"
	data, err := readPolicyFile(m.PolicyFile)
	if err != nil {
		es.add(field, m.PolicyFile, "%v", err)
		return
	}
	p, perrs := parsePolicy(data, field+"("+m.PolicyFile+")")
	if len(perrs) > 0 {
		*es = append(*es, perrs...)
		return
	}
	if m.AutoMaskSensitiveInputs != nil {
		es.add("masking.autoMaskSensitiveInputs", fmt.Sprint(*m.AutoMaskSensitiveInputs),
			"is set by the policy file when masking.policyFile is set; remove it here (set it in %s)", m.PolicyFile)
		return
	}
	m.Policy = *p
	m.AutoMaskSensitiveInputs = p.AutoMaskSensitiveInputs
}
