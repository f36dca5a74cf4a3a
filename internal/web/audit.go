package web

import (
	_ "embed"
	"net/http"
)

// auditSource is the masking audit (assets/audit.js). It is a script of
// its own, not part of bootstrap.js, so that the page views not sampled
// (masking.audit.sampleRate) do not download it, and bootstrap.js stays
// small. It reads the site's settings from window.CobrowseProxy.config.
//
//go:embed assets/audit.js
var auditSource []byte

// AuditScriptPath is where a site serves the audit script, under the
// reserved prefix (AuditScript).
const AuditScriptPath = "/mask-audit.js"

// AuditScript returns the handler of the site's audit script, to mount at
// AuditScriptPath; nil when the audit is off. Its URL, with a ?v= that
// changes with the script, is in bootstrap.js's config (audit.scriptUrl).
func (b *Bootstrap) AuditScript() http.Handler {
	if b == nil || b.audit == nil {
		return nil
	}
	return b.audit
}
