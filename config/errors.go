package config

import (
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem with one key.
type FieldError struct {
	// Path names the key as written in YAML: "sites[1].masking.selectors[0]".
	Path string
	// Value is the offending value, quoted in Error; empty when it is not
	// useful or must not be shown (secrets are never put here).
	Value string
	// Message says what is wrong and what is allowed.
	Message string
}

// Error formats the problem as `path: "value" message`.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Value != "" {
		b.WriteString(strconv.Quote(e.Value))
		b.WriteString(" ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found, in document order.
type Errors []FieldError

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// err returns es as an error, or nil if there are none (never a typed nil).
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// add records a problem.
func (es *Errors) add(path, value, msg string, args ...any) {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	*es = append(*es, FieldError{Path: path, Value: value, Message: msg})
}
