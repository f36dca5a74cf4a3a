package csp

import (
	"strings"
)

// Policy is one parsed policy. It keeps the text it was parsed from, split
// at the semicolons, so String returns exactly that text until a merge
// changes a directive; a change rewrites only that directive.
type Policy struct {
	segs []segment // the text between semicolons; String joins them with ";"
	tail string    // ASCII whitespace after the last directive
}

// segment is the text between two semicolons: lead + text + trail.
type segment struct {
	lead, text, trail string
	name              string   // lower case; "" for an empty or ignored segment
	values            []string // the source expressions, in order
	live              bool     // the first ASCII-only directive of its name: the one browsers use
}

// Directive is a directive as a browser sees it.
type Directive struct {
	// Name is the directive name in lower case.
	Name string
	// Values are the source expressions (or other tokens) in order.
	Values []string
	// Text is the directive as written, without surrounding whitespace.
	Text string
	// Ignored is true for a directive browsers ignore: a repeated name (only
	// the first counts) or a directive containing non-ASCII characters.
	Ignored bool
}

// isASCIIWhitespace is the CSP (Infra) notion: tab, LF, FF, CR, space.
func isASCIIWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\f' || r == '\r' || r == ' '
}

// ParsePolicy parses one serialized policy (CSP3 "parse a serialized CSP"):
// split at ";", names are case-insensitive, a repeated name and a directive
// with non-ASCII characters are ignored (but kept in the text).
func ParsePolicy(text string) Policy {
	body := strings.TrimRightFunc(text, isASCIIWhitespace)
	p := Policy{tail: text[len(body):]}
	seen := map[string]bool{}
	for raw := range strings.SplitSeq(body, ";") {
		t := strings.TrimLeftFunc(raw, isASCIIWhitespace)
		lead := raw[:len(raw)-len(t)]
		t2 := strings.TrimRightFunc(t, isASCIIWhitespace)
		s := segment{lead: lead, text: t2, trail: t[len(t2):]}
		if t2 != "" && isASCII(t2) {
			fields := strings.FieldsFunc(t2, isASCIIWhitespace)
			s.name = strings.ToLower(fields[0])
			s.values = fields[1:]
			s.live = !seen[s.name]
			seen[s.name] = true
		}
		p.segs = append(p.segs, s)
	}
	return p
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ParseHeader parses one Content-Security-Policy header value: a
// comma-separated list of policies, each enforced on its own (CSP3 "parse a
// serialized CSP list"). Empty policies are left out, as browsers do.
func ParseHeader(value string) []Policy {
	var out []Policy
	for part := range strings.SplitSeq(value, ",") {
		if p := ParsePolicy(part); !p.Empty() {
			out = append(out, p)
		}
	}
	return out
}

// String serialises the policy: the parsed text, byte for byte, with any
// changes a merge made.
func (p Policy) String() string {
	var b strings.Builder
	for i, s := range p.segs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(s.lead)
		b.WriteString(s.text)
		b.WriteString(s.trail)
	}
	b.WriteString(p.tail)
	return b.String()
}

// Empty reports whether the policy has no directive browsers would use.
func (p Policy) Empty() bool {
	for _, s := range p.segs {
		if s.live {
			return false
		}
	}
	return true
}

// Directives lists the directives in order, ignored ones included.
func (p Policy) Directives() []Directive {
	var out []Directive
	for _, s := range p.segs {
		if s.text == "" {
			continue
		}
		name := s.name
		if name == "" {
			name = strings.ToLower(strings.FieldsFunc(s.text, isASCIIWhitespace)[0])
		}
		out = append(out, Directive{Name: name, Values: s.values, Text: s.text, Ignored: !s.live})
	}
	return out
}

// Get returns the directive browsers use for name (lower case).
func (p Policy) Get(name string) (Directive, bool) {
	if i := p.index(name); i >= 0 {
		s := p.segs[i]
		return Directive{Name: s.name, Values: s.values, Text: s.text}, true
	}
	return Directive{}, false
}

// index returns the position of the live directive name, or -1.
func (p Policy) index(name string) int {
	for i, s := range p.segs {
		if s.live && s.name == name {
			return i
		}
	}
	return -1
}

// Effective returns the source list that governs name: the directive itself
// or the first present one of its fallbacks (CSP3 "directive fallback
// list"), with the name of the directive it came from; ok is false when no
// directive restricts name.
func (p Policy) Effective(name string) (values []string, from string, ok bool) {
	for _, n := range fallbackList(name) {
		if i := p.index(n); i >= 0 {
			return p.segs[i].values, n, true
		}
	}
	return nil, "", false
}

// fallbackList is CSP3's "directive fallback list": the directives a
// browser consults, in order, for a request governed by name.
func fallbackList(name string) []string {
	switch name {
	case "script-src-elem":
		return []string{"script-src-elem", "script-src", "default-src"}
	case "script-src-attr":
		return []string{"script-src-attr", "script-src", "default-src"}
	case "style-src-elem":
		return []string{"style-src-elem", "style-src", "default-src"}
	case "style-src-attr":
		return []string{"style-src-attr", "style-src", "default-src"}
	case "worker-src":
		return []string{"worker-src", "child-src", "script-src", "default-src"}
	case "frame-src":
		return []string{"frame-src", "child-src", "default-src"}
	case "fenced-frame-src":
		return []string{"fenced-frame-src", "frame-src", "child-src", "default-src"}
	case "default-src":
		return []string{"default-src"}
	case "script-src", "style-src", "connect-src", "img-src", "font-src", "media-src",
		"manifest-src", "object-src", "child-src":
		return []string{name, "default-src"}
	}
	return []string{name} // not a fetch directive: no fallback
}

// set replaces the values of the live directive at i, rewriting only that
// directive's text: appended sources go after the last one as written;
// when a source is removed ('none') the directive is re-joined with single
// spaces.
func (p *Policy) set(i int, values []string) {
	s := &p.segs[i]
	if len(values) >= len(s.values) && equalPrefix(values, s.values) {
		if len(values) > len(s.values) {
			s.text += " " + strings.Join(values[len(s.values):], " ")
		}
	} else {
		name := strings.FieldsFunc(s.text, isASCIIWhitespace)[0]
		s.text = strings.Join(append([]string{name}, values...), " ")
	}
	s.values = values
}

func equalPrefix(long, short []string) bool {
	for i := range short {
		if long[i] != short[i] {
			return false
		}
	}
	return true
}

// create adds the absent directive name with values, first pinning every
// absent directive whose fallback it would shadow: creating child-src would
// otherwise move an absent worker-src from script-src to child-src. A
// pinned directive is a copy of the list it used, so it means the same.
func (p *Policy) create(name string, values []string) {
	_, nameFrom, _ := p.Effective(name) // the list values were copied from
	var pins []string
	var pinVals [][]string
	for _, y := range []string{"script-src-elem", "script-src-attr", "style-src-elem", "style-src-attr", "worker-src", "frame-src", "fenced-frame-src"} {
		if y == name || p.index(y) >= 0 {
			continue
		}
		chain := fallbackList(y)
		vals, from, ok := p.Effective(y)
		if !ok || from == nameFrom || indexOf(chain, name) > indexOf(chain, from) {
			continue // y keeps its list, or gets a superset of it
		}
		pins, pinVals = append(pins, y), append(pinVals, vals)
	}
	p.add(name, values)
	for i, y := range pins {
		p.add(y, slicesClone(pinVals[i]))
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return len(list)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// add appends the directive "name values..." at the end of the policy and
// returns its index. Whitespace that ended the policy stays at the end.
func (p *Policy) add(name string, values []string) int {
	text := strings.Join(append([]string{name}, values...), " ")
	if last := &p.segs[len(p.segs)-1]; last.text == "" {
		// The policy ended with ";" (and maybe whitespace): fill that slot.
		last.lead, last.text, last.trail = " ", text, last.lead+last.trail
		last.name, last.values, last.live = name, values, true
		return len(p.segs) - 1
	}
	p.segs = append(p.segs, segment{lead: " ", text: text, name: name, values: values, live: true})
	return len(p.segs) - 1
}
