package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validateSites checks each site and the rules across sites: names are
// unique and a host belongs to one site only, so routing by Host is never
// ambiguous.
func (c *Config) validateSites(es *Errors) {
	if len(c.Sites) == 0 {
		es.add("sites", "", "no sites configured; add at least one site with name, hosts and upstream")
		return
	}
	names := map[string]int{}
	hosts := map[string]string{}
	for i := range c.Sites {
		s := &c.Sites[i]
		sp := fmt.Sprintf("sites[%d]", i)
		switch {
		case s.Name == "":
			es.add(sp+".name", "", "is required: a short id of lower-case letters, digits and -")
		case !siteNameRE.MatchString(s.Name):
			es.add(sp+".name", s.Name, "must be 1..63 lower-case letters, digits or -, starting with a letter or digit")
		default:
			if j, ok := names[s.Name]; ok {
				es.add(sp+".name", s.Name, "is already used by sites[%d]; names must be unique", j)
			} else {
				names[s.Name] = i
			}
		}
		if len(s.Hosts) == 0 {
			es.add(sp+".hosts", "", "is required: list at least one host name, e.g. [shop.example.com]")
		}
		for j, h := range s.Hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", sp, j)
			msg := hostProblem(h)
			if h == "*" {
				msg = catchAllProblem(s.Upstream)
			}
			if msg != "" {
				es.add(hp, h, "%s", msg)
				continue
			}
			if prev, ok := hosts[h]; ok {
				es.add(hp, h, "is already used by %s; a host may belong to only one site", prev)
				continue
			}
			hosts[h] = hp
		}
		validateUpstream(es, sp+".upstream", s.Upstream)
		validatePatterns(es, sp+".inject.include", s.Inject.Include)
		validatePatterns(es, sp+".inject.exclude", s.Inject.Exclude)
		validateSettings(es, sp+".settings", s.Settings)
		validateWidget(es, sp+".widget", s.Widget)
		validateMasking(es, sp+".masking", s.Masking.Selectors, s.Masking.Attributes)
		validateCSP(es, sp+".csp", s.CSP)
		validateCrossOriginAssets(es, sp+".crossOriginAssets", s.CrossOriginAssets)
		c.validateHSTS(es, sp+".hsts", s.HSTS)
	}
}

// catchAllProblem returns why a site with upstream may not serve every
// Host ("*"), or "". A catch-all is for a sidecar, whose one upstream is
// the app beside it on loopback: whatever the Host, requests only reach
// that app. In front of a remote upstream, list the host names, so that an
// unknown Host gets 421.
func catchAllProblem(upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil || !isLoopback(u.Hostname()) {
		return "a catch-all host is only allowed for a sidecar whose upstream is on loopback (e.g. http://127.0.0.1:8080); in front of other upstreams list the host names, so unknown hosts get 421"
	}
	return ""
}

// hostProblem returns why h is not an acceptable site host, or "". h has
// already been lower-cased and stripped of trailing dots by ApplyDefaults.
func hostProblem(h string) string {
	switch {
	case h == "":
		return "must not be empty"
	case strings.Contains(h, "://"):
		return "must be a host name without a scheme, e.g. shop.example.com"
	case strings.ContainsAny(h, "/?#@"):
		return "must be a host name only, without path, query or user"
	case h == "*":
		return "a catch-all host is not allowed (the proxy must not be open); list the host names"
	}
	if strings.HasPrefix(h, "[") {
		return "write IPv6 addresses without brackets, e.g. ::1"
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "must not have an IPv6 zone"
		}
		return ""
	}
	if strings.Contains(h, ":") {
		return "must not include a port; the listener's port is not part of site matching"
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return "may use * only as a whole leading label, as in *.example.com"
	}
	if name != h {
		if _, err := netip.ParseAddr(name); err == nil {
			return "a wildcard cannot be combined with an IP address"
		}
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return r > unicode.MaxASCII }) >= 0 {
		return "must be ASCII; write international names in punycode (xn--…)"
	}
	if len(name) > 253 {
		return "is longer than 253 characters"
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabelRE.MatchString(label) {
			return "is not a valid host name: labels are 1..63 letters, digits, - or _, not starting or ending with -"
		}
	}
	return ""
}

func validateUpstream(es *Errors, p, up string) {
	if up == "" {
		es.add(p, "", "is required: the URL of the site behind the proxy, e.g. http://127.0.0.1:3000")
		return
	}
	u, err := url.Parse(up)
	switch {
	case err != nil:
		es.add(p, up, "is not a valid URL: %v", unwrapURLErr(err))
	case u.Scheme != "http" && u.Scheme != "https":
		es.add(p, up, "must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		es.add(p, up, "must include a host, e.g. http://127.0.0.1:3000")
	case u.User != nil:
		es.add(p, up, "must not contain user:password@")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(up, "#"):
		es.add(p, up, "must not have a query or fragment (a path is allowed and becomes a prefix)")
	case !validPort(u.Port()):
		es.add(p, up, "has an invalid port; use 1..65535")
	}
}

func unwrapURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// validatePatterns checks inject patterns against MatchPath's rules.
func validatePatterns(es *Errors, p string, patterns []string) {
	for i, pat := range patterns {
		fp := fmt.Sprintf("%s[%d]", p, i)
		if msg := patternProblem(pat); msg != "" {
			es.add(fp, pat, "%s", msg)
		}
	}
}

func patternProblem(pat string) string {
	if !strings.HasPrefix(pat, "/") {
		return "must be a URL path pattern starting with /, e.g. /checkout/** or /*.html"
	}
	body := strings.TrimSuffix(pat, "/**")
	if strings.Contains(body, "**") {
		return "may use ** only as the last segment, as in /account/**"
	}
	if _, err := path.Match(body, ""); err != nil {
		return "is not a valid pattern (see Go's path.Match: *, ?, [a-z], \\ escapes)"
	}
	return ""
}

func validateSettings(es *Errors, p string, s Settings) {
	if _, ok := s.Extra["piiMask"]; ok {
		es.add(p+".piiMask", "", "masking is configured under masking: (central) and sites[i].masking; it cannot be set in settings")
	}
	checkJSONMap(es, p, s.Extra)
	if s.Annotation != nil {
		checkJSONMap(es, p+".annotation", s.Annotation.Extra)
	}
	if ra := s.RemoteAssist; ra != nil {
		for i, t := range ra.RemoteAssistTypes {
			if t == "" {
				es.add(fmt.Sprintf("%s.remoteAssist.remoteAssistTypes[%d]", p, i), "", "must not be empty, e.g. scroll_page")
			}
		}
		checkJSONMap(es, p+".remoteAssist", ra.Extra)
	}
	if mt := s.MultiTabSessionPersistence; mt != nil {
		if mt.StateCookieKey != "" && !cookieNameRE.MatchString(mt.StateCookieKey) {
			es.add(p+".multiTabSessionPersistence.stateCookieKey", mt.StateCookieKey, "must be a valid cookie name (no spaces, quotes, commas, semicolons or = )")
		}
		checkJSONMap(es, p+".multiTabSessionPersistence", mt.Extra)
	}
}

func checkJSONMap(es *Errors, p string, m map[string]any) {
	for _, k := range sortedKeys(m) {
		checkJSON(es, p+"."+k, m[k])
	}
}

// checkJSON reports pass-through values that encoding/json cannot encode:
// maps with non-string keys (yaml.v3 decodes those as map[any]any) and NaN
// or infinite numbers.
func checkJSON(es *Errors, p string, v any) {
	switch v := v.(type) {
	case map[string]any:
		checkJSONMap(es, p, v)
	case map[any]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			ks, ok := k.(string)
			if !ok {
				es.add(p, "", "has a non-string key; init settings are JSON, whose object keys are strings (quote the key)")
				return
			}
			keys = append(keys, ks)
		}
		slices.Sort(keys)
		for _, k := range keys {
			checkJSON(es, p+"."+k, v[k])
		}
	case []any:
		for i, e := range v {
			checkJSON(es, fmt.Sprintf("%s[%d]", p, i), e)
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			es.add(p, "", "must be a finite number; NaN and infinity have no JSON form")
		}
	}
}

func validateWidget(es *Errors, p string, w Widget) {
	switch w.Position {
	case "bottom-right", "bottom-left", "top-right", "top-left":
	default:
		es.add(p+".position", w.Position, "must be bottom-right, bottom-left, top-right or top-left")
	}
	if n := utf8.RuneCountInString(w.Label); n > 40 {
		es.add(p+".label", w.Label, "is %d characters; at most 40 are allowed", n)
	} else if hasControl(w.Label) || !utf8.ValidString(w.Label) {
		es.add(p+".label", w.Label, "must be valid text without control characters")
	}
}
