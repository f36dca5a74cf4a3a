package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

func (c *Config) validateTLS(es *Errors) {
	t := c.TLS
	if t.RedirectPort < 0 || t.RedirectPort > 65535 {
		es.add("tls.redirectPort", fmt.Sprint(t.RedirectPort), "must be a port number 1..65535, or 0 for listen.https's port")
	}
	switch t.Mode {
	case TLSModeOff:
	case TLSModeFiles:
		checkReadable(es, "tls.files.certFile", t.Files.CertFile, "the PEM certificate chain")
		checkReadable(es, "tls.files.keyFile", t.Files.KeyFile, "the PEM private key")
		if t.Files.ReloadInterval < time.Second {
			es.add("tls.files.reloadInterval", t.Files.ReloadInterval.String(), "must be at least 1s (default %s)", DefaultTLSReloadInterval)
		}
	case TLSModeACME:
		c.validateACME(es)
	default:
		es.add("tls.mode", t.Mode, "must be off, files or acme")
	}
}

// validateACME checks tls.acme. It does not contact the CA or create the
// storage directory: "cobrowse-proxy validate" may run on another machine;
// tlsconf.New checks that the storage is writable at start-up.
func (c *Config) validateACME(es *Errors) {
	a := c.TLS.ACME
	if a.Email != "" {
		local, domain, ok := strings.Cut(a.Email, "@")
		if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(a.Email, " \t<>,;") || hasControl(a.Email) || strings.HasSuffix(domain, ".") {
			es.add("tls.acme.email", a.Email, "must be an e-mail address such as ops@example.com (or empty)")
		}
	}
	validateACMECA(es, a.CA)
	if a.CARoots != "" {
		if err := regularFile(a.CARoots); err != nil {
			es.add("tls.acme.caRoots", a.CARoots, "%v", err)
		}
	}
	if len(a.Challenges) == 0 {
		es.add("tls.acme.challenges", "", "must enable at least one of %s and %s", ChallengeHTTP01, ChallengeTLSALPN01)
	}
	seen := map[string]bool{}
	for i, ch := range a.Challenges {
		p := fmt.Sprintf("tls.acme.challenges[%d]", i)
		switch {
		case ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01:
			es.add(p, ch, "must be %s or %s (DNS-01 is not supported)", ChallengeHTTP01, ChallengeTLSALPN01)
		case seen[ch]:
			es.add(p, ch, "is listed twice")
		}
		seen[ch] = true
	}
	if a.Storage == "" {
		es.add("tls.acme.storage", "", "is required: a directory for the ACME account and certificates, default %s", DefaultACMEStorage)
	} else if fi, err := os.Stat(a.Storage); err == nil && !fi.IsDir() {
		es.add("tls.acme.storage", a.Storage, "is not a directory")
	}
	for i, d := range a.Domains {
		p := fmt.Sprintf("tls.acme.domains[%d]", i)
		if msg := hostProblem(d); msg != "" {
			es.add(p, d, "%s", msg)
		} else if strings.HasPrefix(d, "*.") {
			es.add(p, d, "wildcard certificates need the DNS-01 challenge, which is not supported; list the names, or use onDemand.allow")
		}
	}
	od := a.OnDemand
	if !od.Enabled {
		return
	}
	if len(od.Allow) == 0 && od.Ask == "" {
		es.add("tls.acme.onDemand", "", "enabled needs allow or ask: without them anyone could make the proxy request certificates for any name pointed at it")
	}
	for i, h := range od.Allow {
		if msg := hostProblem(h); msg != "" {
			es.add(fmt.Sprintf("tls.acme.onDemand.allow[%d]", i), h, "%s", msg)
		}
	}
	if od.Ask != "" {
		u, err := url.Parse(od.Ask)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" || u.User != nil {
			es.add("tls.acme.onDemand.ask", od.Ask, "must be an http or https URL without user or fragment, e.g. http://127.0.0.1:5555/check")
		}
	}
	if od.RatePerMinute < 1 {
		es.add("tls.acme.onDemand.ratePerMinute", fmt.Sprint(od.RatePerMinute), "must be at least 1 (default %d)", DefaultOnDemandRatePerMinute)
	}
}

func validateACMECA(es *Errors, ca string) {
	const p = "tls.acme.ca"
	u, err := url.Parse(ca)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		es.add(p, ca, "must be an ACME directory URL such as %s", DefaultACMECA)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		es.add(p, ca, "must use https; http is allowed only for loopback hosts (localhost, 127.0.0.1, ::1)")
	case u.User != nil:
		es.add(p, ca, "must not contain user:password@")
	}
}

// validateHSTS checks sites[].hsts. HSTS is sent only on the proxy's own
// HTTPS, so asking for it with tls.mode off would silently do nothing.
func (c *Config) validateHSTS(es *Errors, p string, h HSTS) {
	switch {
	case h.MaxAge < 0:
		es.add(p+".maxAge", h.MaxAge.String(), "must not be negative; 0s sends no header")
	case h.MaxAge > 0 && h.MaxAge < time.Second:
		es.add(p+".maxAge", h.MaxAge.String(), "must be 0s (off) or at least 1s; browsers count it in seconds")
	case h.MaxAge == 0 && h.IncludeSubDomains:
		es.add(p+".includeSubDomains", "", "needs maxAge > 0, e.g. maxAge: 8760h")
	case h.MaxAge > 0 && c.TLS.Mode == TLSModeOff:
		es.add(p+".maxAge", h.MaxAge.String(), "has no effect with tls.mode off (HSTS is sent only over the proxy's own HTTPS); set it at the ingress that ends TLS, or set 0s")
	}
}
