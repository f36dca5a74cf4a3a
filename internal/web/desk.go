package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"sync"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

//go:embed assets/desk.js
var deskJS string

// deskAllow is the iframe's allow attribute, as Zoom documents it.
const deskAllow = "autoplay *; camera *; microphone *; display-capture *; geolocation *;"

const deskCSS = `body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d1d1f}
header{padding:.75rem 1.25rem;background:#0b5cff;color:#fff;display:flex;gap:1rem;align-items:center;justify-content:space-between}
header span{display:flex;gap:.75rem;align-items:center}header form{margin:0}header button{background:transparent;color:#fff;border:1px solid #fff;border-radius:4px;padding:.25rem .75rem;cursor:pointer}
main{padding:1rem 1.25rem}#desk iframe{width:100%;height:calc(100vh - 9rem);border:0;background:#fff;border-radius:6px}
.error{color:#b00020}form.login{max-width:24rem;margin:3rem auto;background:#fff;padding:1.5rem;border-radius:8px}
form.login input{width:100%;box-sizing:border-box;padding:.5rem;margin:.5rem 0 1rem;font:inherit}
form.login button{padding:.5rem 1rem;font:inherit;background:#0b5cff;color:#fff;border:0;border-radius:4px;cursor:pointer}`

var deskTemplate = template.Must(template.New("desk").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>Cobrowse agent desk</title>
<style>{{.CSS}}</style></head>
<body>
<header><strong>Cobrowse agent desk</strong>{{if .Agent}}<span>{{.Agent}}
{{if .CanSignOut}}<form method="post" action="{{.Prefix}}/agent/logout"><button type="submit">Sign out</button></form>{{end}}</span>{{end}}</header>
<main>
{{- if .Disabled}}
<p class="error">The agent desk is not enabled: no agent authentication is configured.
Add <code>token.agent.keys</code> or <code>token.agent.identity</code> to the proxy's config.</p>
{{- else if .Agent}}
<p id="status" role="status" aria-live="polite">Getting an agent token…</p>
<div id="desk" data-token-url="{{.Prefix}}/token" data-desk-url="{{.DeskURL}}" data-allow="{{.Allow}}"></div>
<script>{{.JS}}</script>
{{- else}}
<form class="login" method="post" action="{{.Prefix}}/agent/login">
<h1>Sign in</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .KeyLogin}}<label for="key">Agent access key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
{{else}}<p>Sign in through your organisation's sign-in page; this desk trusts the identity it forwards.</p>{{end}}
</form>
{{- end}}
</main></body></html>
`))

// Desk serves the agent desk page at {prefix}/agent: a sign-in form for
// access-key agents, or, for an authenticated agent, a page that fetches an
// agent token and opens Zoom's desk in an iframe. Its script and style are
// inline and allowed by hash in the page's own strict CSP.
type Desk struct {
	Prefix string
	// DeskURL is Zoom's desk URL up to the token, e.g.
	// "https://us01-zcb.zoom.us/sdkapi/zcb/frame-templates/desk?access_token=".
	DeskURL string
	Auth    *token.AgentAuth
	// KeyLogin: access keys are configured, so offer the sign-in form.
	KeyLogin bool

	cspOnce sync.Once
	csp     string
}

// DeskURLFor returns Zoom's desk URL (without the token) on the host that
// serves the SDK.
func DeskURLFor(cdn string) string {
	host := "us01-zcb.zoom.us"
	if u, err := url.Parse(cdn); err == nil && u.Host != "" {
		host = u.Host
	}
	return "https://" + host + "/sdkapi/zcb/frame-templates/desk?access_token="
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func (d *Desk) policy() string {
	d.cspOnce.Do(func() {
		frame := "https://us01-zcb.zoom.us"
		if u, err := url.Parse(d.DeskURL); err == nil && u.Host != "" {
			frame = u.Scheme + "://" + u.Host
		}
		d.csp = "default-src 'none'; script-src " + hashSource(deskJS) + "; style-src " + hashSource(deskCSS) +
			"; connect-src 'self'; frame-src " + frame + "; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	})
	return d.csp
}

var loginErrors = map[string]string{
	"invalid_key":           "That access key is not valid.",
	token.ReasonRateLimited: "Too many attempts. Wait a minute and try again.",
	"session_expired":       "Your session has ended. Sign in again.",
	token.ReasonUnavailable: "Signing in is unavailable: the proxy has no Zoom SDK secret to sign sessions and tokens with. " +
		"Set zoom.sdkSecret or zoom.sdkSecretFile in its config (for the demo, the ZOOM_SDK_SECRET environment variable) and restart it.",
	token.ReasonUnauthenticated: "Sign in to continue.",
	"":                          "",
}

func (d *Desk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	data := struct {
		Prefix, DeskURL, Allow, Agent, Error string
		CSS                                  template.CSS
		JS                                   template.JS
		Disabled, KeyLogin, CanSignOut       bool
	}{Prefix: d.Prefix, DeskURL: d.DeskURL, Allow: deskAllow, CSS: template.CSS(deskCSS), JS: template.JS(deskJS), KeyLogin: d.KeyLogin}
	code := http.StatusOK
	switch {
	case d.Auth == nil || !d.Auth.Configured():
		data.Disabled, code = true, http.StatusForbidden
	default:
		if id, ok := d.Auth.Authenticate(r); ok {
			data.Agent = id.UserName
			data.CanSignOut = id.Method == token.MethodSession
		} else {
			data.Error = loginErrors[r.URL.Query().Get("error")]
		}
	}
	var buf bytes.Buffer
	if err := deskTemplate.Execute(&buf, data); err != nil {
		http.Error(w, "render agent desk", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", d.policy())
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" on the sign-in form's POST, and the CSRF check cannot
	// tell that from a sandboxed document's. Cross-origin, nothing is sent.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}
