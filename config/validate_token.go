package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	agentNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	// headerNameRE is an RFC 9110 token, the syntax of a field name.
	headerNameRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
)

const minSessionKeyBytes = 32

// MaxDisplayNameLen is the longest agent display name, in characters: the
// length the proxy allows for every user_name it puts in a token.
const MaxDisplayNameLen = 80

// isSHA256Hex reports whether h is 64 lower-case hex digits, the form
// "cobrowse-proxy hash-key" prints.
func isSHA256Hex(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (c *Config) validateToken(es *Errors) {
	t := c.Token
	p := t.Prefix
	switch {
	case !strings.HasPrefix(p, "/"):
		es.add("token.prefix", p, "must start with /, e.g. %s", DefaultTokenPrefix)
	case p == "/":
		es.add("token.prefix", p, "must not be / (it would hide the whole site); use e.g. %s", DefaultTokenPrefix)
	case strings.HasSuffix(p, "/"):
		es.add("token.prefix", p, "must not end with /")
	case !prefixRE.MatchString(p):
		es.add("token.prefix", p, "may contain only letters, digits and . _ ~ / -")
	case strings.Contains(p, "//"):
		es.add("token.prefix", p, "must not contain an empty segment (//)")
	}
	if d := t.TTL; d < 30*time.Minute || d > 48*time.Hour {
		es.add("token.ttl", d.String(), "must be between 30m and 48h (Zoom's limits); default 2h")
	}
	if n := t.MaxBodyBytes; n < 256 || n > 1<<20 {
		es.add("token.maxBodyBytes", strconv.Itoa(n), "must be between 256 and 1048576 (1 MiB); default %d", DefaultTokenMaxBodyBytes)
	}
	validateRate(es, "token.customer.rate", t.Customer.Rate, DefaultCustomerRateBurst)
	c.validateAgent(es)
}

func validateRate(es *Errors, p string, r RateLimit, defaultBurst int) {
	positive(es, p+".every", r.Every)
	if r.Burst < 1 {
		es.add(p+".burst", strconv.Itoa(r.Burst), "must be at least 1 (default %d)", defaultBurst)
	}
	if r.MaxClients < 1 {
		es.add(p+".maxClients", strconv.Itoa(r.MaxClients), "must be at least 1 (default %d)", DefaultRateMaxClients)
	}
}

func (c *Config) validateAgent(es *Errors) {
	const p = "token.agent"
	a := c.Token.Agent
	names := map[string]int{}
	hashes := map[string]int{}
	for i, k := range a.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", p, i)
		switch {
		case k.Name == "":
			es.add(kp+".name", "", "is required: the agent's id, e.g. alice or alice@example.com")
		case !agentNameRE.MatchString(k.Name):
			es.add(kp+".name", k.Name, "must be 1..64 lower-case letters, digits or . _ @ -, starting with a letter or digit")
		default:
			if j, ok := names[k.Name]; ok {
				es.add(kp+".name", k.Name, "is already used by %s.keys[%d]; names must be unique", p, j)
			} else {
				names[k.Name] = i
			}
		}
		if n := utf8.RuneCountInString(k.DisplayName); n > MaxDisplayNameLen || !utf8.ValidString(k.DisplayName) || hasControl(k.DisplayName) {
			es.add(kp+".displayName", k.DisplayName, "must be at most %d characters of text without control characters (it is the name Zoom shows the customer), e.g. \"Alice from Support\"", MaxDisplayNameLen)
		}
		// The value is never shown: what is written here may be the key.
		switch {
		case k.Hash == "":
			es.add(kp+".hash", "", "is required: the key's SHA-256 hash, printed by \"cobrowse-proxy hash-key\"")
		case !isSHA256Hex(k.Hash):
			es.add(kp+".hash", "", "must be the key's SHA-256 hash (64 lower-case hex digits), not the key itself: store only the hash, printed by \"cobrowse-proxy hash-key\"")
		default:
			if j, ok := hashes[k.Hash]; ok {
				es.add(kp+".hash", "", "is the same as %s.keys[%d].hash; give every agent a key of their own", p, j)
			} else {
				hashes[k.Hash] = i
			}
		}
	}

	id := a.Identity
	ip := p + ".identity"
	for _, h := range []struct{ path, name string }{{ip + ".header", id.Header}, {ip + ".nameHeader", id.NameHeader}} {
		if h.name != "" && !headerNameRE.MatchString(h.name) {
			es.add(h.path, h.name, "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or colon), e.g. X-Forwarded-Email")
		}
	}
	switch {
	case id.Header == "" && (id.NameHeader != "" || len(id.From) > 0):
		es.add(ip+".header", "", "is required when %s.nameHeader or %s.from is set: the header your auth proxy sets, e.g. X-Forwarded-Email", ip, ip)
	case id.Header != "" && len(id.From) == 0:
		es.add(ip+".from", "", "is required with %s.header: list the auth proxy's addresses (CIDR prefixes or IPs), since any client can send the header", ip)
	}
	for i, s := range id.From {
		fp := fmt.Sprintf("%s.from[%d]", ip, i)
		pfx, ok := parseTrusted(s)
		switch {
		case strings.Contains(s, "%"):
			es.add(fp, s, "must not have an IPv6 zone")
		case !ok:
			es.add(fp, s, "must be an IP address or CIDR prefix, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32")
		case pfx.Bits() == 0:
			es.add(fp, s, "would trust every client; list only the auth proxy's addresses")
		}
	}

	if t := a.SessionTTL; t < time.Minute || t > 7*24*time.Hour {
		es.add(p+".sessionTTL", t.String(), "must be between 1m and 168h (7 days); default 8h")
	}
	// Like zoom.sdkSecret, the session key is never shown; a key read from
	// a file is reported under the file's key, with the file's name.
	kp, kv := p+".sessionKey", ""
	if a.sessionKeyFromFile {
		kp, kv = p+".sessionKeyFile", a.SessionKeyFile
	}
	switch {
	case a.SessionKey != "" && a.SessionKeyFile != "" && !a.sessionKeyFromFile:
		es.add(p+".sessionKeyFile", "", "set only one of %s.sessionKey and %s.sessionKeyFile", p, p)
	case a.SessionKey == "" && a.SessionKeyFile != "":
		es.add(p+".sessionKeyFile", a.SessionKeyFile, "has not been read: Load and Parse read *File keys")
	case hasControl(a.SessionKey):
		es.add(kp, kv, "must not contain control characters (check for a stray newline)")
	case a.SessionKey != "" && len(a.SessionKey) < minSessionKeyBytes:
		es.add(kp, kv, "must be at least %d bytes; generate one with: openssl rand -base64 48", minSessionKeyBytes)
	}
	validateRate(es, p+".rate", a.Rate, DefaultAgentRateBurst)
	validateRate(es, p+".identityRate", a.IdentityRate, DefaultAgentIdentityRateBurst)
}
