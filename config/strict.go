package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The strict decode walks the yaml.Node tree beside the Go types instead of
// using yaml.Decoder.KnownFields: that way every unknown key and every
// wrongly typed value is reported (not just the first), each with its field
// path and line, and settings can pass unknown keys through. Offending
// nodes are removed or nulled so the final Decode succeeds and Validate can
// still report problems elsewhere in the file.

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[time.Duration]()
	anyType      = reflect.TypeFor[any]()
)

type visitKey struct {
	n *yaml.Node
	t reflect.Type
}

type shapeState struct {
	es Errors
	// expanded holds the scalars changed by environment expansion: they
	// were typed as strings by the parser and must be re-resolved when the
	// target is a bool or number.
	expanded map[*yaml.Node]bool
	// visited makes each (node, type) pair checked once, so aliases cannot
	// multiply the work.
	visited map[visitKey]bool
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func nullify(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a single value"
}

func (st *shapeState) shape(n *yaml.Node, t reflect.Type, p string) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := visitKey{n, t}
	if st.visited[k] {
		return
	}
	st.visited[k] = true

	switch {
	case t.Kind() == reflect.Map && t.Elem().Kind() != reflect.Interface:
		// A typed map (csp.extraSources): any key, but typed values.
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			st.es.add(p, "", "must be a mapping of keys (line %d), not %s", n.Line, kindName(n))
			nullify(n)
			return
		}
		st.typedMap(n, t, p)
		return
	case t.Kind() == reflect.Map || t.Kind() == reflect.Interface:
		st.loose(n)
		return
	case isNull(n):
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			st.es.add(p, "", "must be a mapping of keys (line %d), not %s", n.Line, kindName(n))
			nullify(n)
			return
		}
		st.mapping(n, t, p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			st.es.add(p, "", "must be a list (line %d), not %s; write [a, b] or one \"- item\" per line", n.Line, kindName(n))
			nullify(n)
			return
		}
		for i, c := range n.Content {
			st.shape(c, t.Elem(), fmt.Sprintf("%s[%d]", p, i))
		}
	default:
		st.leaf(n, t, p)
	}
}

// leaf checks a scalar by decoding it alone into the target type. A string
// never fails to decode, so a secret is never quoted back.
func (st *shapeState) leaf(n *yaml.Node, t reflect.Type, p string) {
	want := "a string"
	switch {
	case t == durationType:
		want = "a duration with a unit, such as 30s, 5m or 2h (0s for none)"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		want = "a whole number"
	}
	if n.Kind != yaml.ScalarNode {
		st.es.add(p, "", "must be %s (line %d), not %s", want, n.Line, kindName(n))
		nullify(n)
		return
	}
	if t.Kind() != reflect.String {
		st.reresolve(n)
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		value := ""
		if t.Kind() != reflect.String {
			value = n.Value
		}
		st.es.add(p, value, "must be %s (line %d)", want, n.Line)
		nullify(n)
	}
}

// loose prepares pass-through values: expanded scalars are re-resolved so
// "${FLAG:-true}" becomes a boolean, as the literal would have.
func (st *shapeState) loose(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		return
	}
	st.reresolve(n)
	for _, c := range n.Content {
		st.loose(c)
	}
}

// reresolve clears the tag of an expanded plain scalar, so the expanded
// text is typed as YAML would have typed it written literally.
func (st *shapeState) reresolve(n *yaml.Node) {
	if st.expanded[n] && n.Kind == yaml.ScalarNode && n.Style&yaml.TaggedStyle == 0 &&
		n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		n.Tag = ""
	}
}

// mapping checks the keys of n against the struct type t, dropping unknown
// and repeated keys after reporting them.
func (st *shapeState) mapping(n *yaml.Node, t reflect.Type, p string) {
	fields, names, inline := structFields(t)
	st.keys(n, t, p, func(key, val *yaml.Node, kp string) bool {
		ft, ok := fields[key.Value]
		switch {
		case ok:
			st.shape(val, ft, kp)
		case inline:
			st.shape(val, anyType, kp)
		default:
			st.es.add(kp, "", "unknown key at line %d; valid keys here: %s", key.Line, strings.Join(names, ", "))
			return false
		}
		return true
	})
}

// typedMap checks the values of n against the map type t's element type,
// dropping repeated keys and keys that are not scalars after reporting them.
func (st *shapeState) typedMap(n *yaml.Node, t reflect.Type, p string) {
	st.keys(n, t, p, func(key, val *yaml.Node, kp string) bool {
		st.shape(val, t.Elem(), kp)
		return true
	})
}

// keys walks the entries of mapping n (of type t at path p): merge keys
// are checked against t, keys that are not scalars and repeated keys are
// reported and dropped, and every other entry goes to visit, which says
// whether to keep it.
func (st *shapeState) keys(n *yaml.Node, t reflect.Type, p string, visit func(key, val *yaml.Node, kp string) bool) {
	seen := map[string]int{}
	// Iterate over a copy of the slice header: an alias can make n reachable
	// from its own value (a cycle), and the inner visit replaces n.Content.
	content := n.Content
	kept := content[:0:0]
	for i := 0; i+1 < len(content); i += 2 {
		origKey, val := content[i], content[i+1]
		key := origKey
		if key.Kind == yaml.AliasNode && key.Alias != nil {
			key = key.Alias
		}
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			st.merge(val, t, p)
			kept = append(kept, origKey, val)
			continue
		}
		if key.Kind != yaml.ScalarNode {
			st.es.add(p, "", "has a key at line %d that is %s; keys must be plain names", key.Line, kindName(key))
			continue
		}
		kp := joinPath(p, key.Value)
		if line, dup := seen[key.Value]; dup {
			st.es.add(kp, "", "is set twice (lines %d and %d); keep one", line, key.Line)
			continue
		}
		seen[key.Value] = key.Line
		if visit(key, val, kp) {
			kept = append(kept, origKey, val)
		}
	}
	n.Content = kept
}

// merge checks the value of a "<<" merge key: a mapping, or a list of them.
func (st *shapeState) merge(n *yaml.Node, t reflect.Type, p string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		st.shape(n, t, p)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			st.merge(c, t, p)
		}
	}
}

// structFields maps t's YAML keys to their types, lists them in order for
// messages, and says whether an inline map accepts any other key.
func structFields(t reflect.Type) (map[string]reflect.Type, []string, bool) {
	fields := map[string]reflect.Type{}
	var names []string
	inline := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			inline = inline || f.Type.Kind() == reflect.Map
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names, inline
}
