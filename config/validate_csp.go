package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/csp"
)

// cspExtraDirectives are the directives sites[].csp.extraSources may add
// to. default-src is not among them: csp.ValidateExtra refuses it, because
// widening it widens every directive that falls back to it.
var cspExtraDirectives = []string{
	"script-src", "script-src-elem", "style-src", "style-src-elem", "connect-src",
	"img-src", "font-src", "frame-src", "worker-src", "media-src", "child-src",
}

func validateCSP(es *Errors, p string, c CSP) {
	switch c.Mode {
	case CSPModeMerge, CSPModeOff:
	default:
		es.add(p+".mode", c.Mode, "must be merge or off")
	}
	dirs := make([]string, 0, len(c.ExtraSources))
	for d := range c.ExtraSources {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		dp := p + ".extraSources." + d
		switch {
		case d == "default-src":
			es.add(dp, "", "cannot be widened: every directive without a list of its own falls back to it; add the sources to the directive that needs them, e.g. script-src or connect-src")
			continue
		case !slices.Contains(cspExtraDirectives, d):
			es.add(dp, "", "is not a directive extra sources can be added to; use one of %s (lower case)", strings.Join(cspExtraDirectives, ", "))
			continue
		}
		for i, src := range c.ExtraSources[d] {
			validateCSPExtra(es, fmt.Sprintf("%s[%d]", dp, i), d, src)
		}
	}
	if c.AlwaysReport && c.ReportURI != nil && !*c.ReportURI {
		es.add(p+".alwaysReport", "", "needs reportUri: true; alwaysReport adds the proxy's report-uri even to policies that report elsewhere")
	}
	if b := c.Baseline; b != "" {
		switch {
		case hasControl(b) || strings.IndexFunc(b, func(r rune) bool { return r > 0x7e }) >= 0:
			es.add(p+".baseline", b, "must be printable ASCII on one line (it is sent as a header)")
		case len(csp.ParseHeader(b)) == 0:
			es.add(p+".baseline", b, "has no directives; write a policy such as \"default-src 'self'\", or leave it empty for none")
		case c.Mode == CSPModeOff:
			es.add(p+".baseline", "", "is set but csp.mode is off, which adds no policy; use mode merge or remove the baseline")
		}
	}
}

// validateCSPExtra checks one configured source with csp.ValidateExtra, the
// rule the merge itself applies (it skips what that refuses, so config must
// refuse it loudly first). The error's "source %q in %s: " lead is replaced
// by the FieldError's own path and value.
func validateCSPExtra(es *Errors, p, directive, src string) {
	err := csp.ValidateExtra(directive, src)
	if err == nil {
		return
	}
	msg := err.Error()
	for _, lead := range []string{fmt.Sprintf("source %q in %s: ", src, directive), fmt.Sprintf("source %q: ", src)} {
		if rest, ok := strings.CutPrefix(msg, lead); ok {
			es.add(p, src, "%s", rest)
			return
		}
	}
	if src == "" {
		es.add(p, "", "must not be empty")
		return
	}
	es.add(p, src, "%s", msg)
}

func validateCrossOriginAssets(es *Errors, p, v string) {
	switch v {
	case CrossOriginZoom, CrossOriginAny, CrossOriginOff:
	default:
		es.add(p, v, "must be zoom, any or off")
	}
}
