package browsertest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// The agent's side: the desk page at {prefix}/agent, signed in the way an
// agent does it, in Chromium, with the CDN stub standing in for Zoom's desk.
const (
	agentKey     = "cbpk_browser-test-agent-key-0123456789abcdef"
	agentName    = "alice"
	agentDisplay = "Alice from Support"
	// deskStubPath is Zoom's desk page (docs/zoom.md, "Agent side").
	deskStubPath = "/sdkapi/zcb/frame-templates/desk"
	// deskAllow is the iframe's allow list as Zoom documents it.
	deskAllow = "autoplay *; camera *; microphone *; display-capture *; geolocation *;"
	// authProxyAddr is where the trusted auth proxy connects from; the
	// browser connects from 127.0.0.1, which the identity header is not
	// believed from.
	authProxyAddr = "127.0.0.2"
)

// serveDeskStub stands in for Zoom's desk: it shows who the token says the
// agent is, and a PIN box whose Join asks {deskStubPath}/join?pin=…, which
// the CDN recorder keeps.
func serveDeskStub(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case deskStubPath:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, deskStubPage)
	case deskStubPath + "/join":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

const deskStubPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Zoom Cobrowse desk (test stub)</title>
<style>body{font-family:system-ui,sans-serif;margin:0;padding:1.25rem 1.5rem;color:#1d1d1f}
.note{color:#6e6e73;font-size:.85rem}input{font:inherit;padding:.4rem;width:9rem;text-transform:uppercase}
button{font:inherit;padding:.4rem 1rem;background:#0b5cff;color:#fff;border:0;border-radius:4px}</style></head>
<body><h2>Zoom Cobrowse agent desk</h2><p class="note">A test stub standing in for Zoom's desk iframe.</p>
<p>Signed in as <strong id="who"></strong></p>
<p><label for="pin">Customer's PIN</label> <input id="pin" maxlength="10"> <button id="join" type="button">Join</button></p>
<p id="status" role="status"></p>
<script>
var tok = new URLSearchParams(location.search).get("access_token") || "";
try {
  var c = JSON.parse(atob(tok.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  document.getElementById("who").textContent = c.user_name + " (role " + c.role_type + ")";
} catch (e) { document.getElementById("who").textContent = "no valid token"; }
document.getElementById("join").onclick = function () {
  var pin = document.getElementById("pin").value.toUpperCase();
  fetch("` + deskStubPath + `/join?pin=" + encodeURIComponent(pin) + "&access_token=" + encodeURIComponent(tok))
    .then(function () { document.getElementById("status").textContent = "Joined session " + pin; });
};
</script></body></html>`

// deskConfig serves desk.localhost and sso.localhost (the latter behind
// the auth proxy) with one access key and a trusted identity header.
func deskConfig(upstream string, byop bool) *config.Config {
	return &config.Config{
		Zoom: config.Zoom{SDKKey: sdkKey, SDKSecret: sdkSecret, SDKVersion: sdkVersion},
		Token: config.Token{BYOP: byop, Agent: config.TokenAgent{
			Keys: []config.AgentKey{{Name: agentName, DisplayName: agentDisplay, Hash: token.HashKey(agentKey)}},
			Identity: config.AgentIdentity{Header: "X-Forwarded-Email", NameHeader: "X-Forwarded-Preferred-Username",
				From: []string{authProxyAddr + "/32"}},
		}},
		Sites: []config.Site{{Name: "desk", Hosts: []string{"desk.localhost", "sso.localhost", "byop.localhost"}, Upstream: upstream}},
	}
}

// startDesk starts a proxy with cfg and returns its port.
func (e *env) startDesk(cfg *config.Config) string {
	ln := listen(e.t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	startProxy(e.t, cfg, ln, e.proxy)
	return port
}

// startAuthProxy starts a stand-in for oauth2-proxy in front of the desk
// proxy: it connects from authProxyAddr and sets the identity headers.
func (e *env) startAuthProxy(deskPort, email, name string) string {
	target, _ := url.Parse("http://127.0.0.1:" + deskPort)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set("X-Forwarded-Email", email)
			pr.Out.Header.Set("X-Forwarded-Preferred-Username", name)
		},
		Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(authProxyAddr)}, Timeout: 5 * time.Second}).DialContext},
	}
	s := serve(e.t, rp)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

// signIn types key into the desk's sign-in form and submits it.
func (e *env) signIn(key string) {
	e.t.Helper()
	e.waitVisible("the sign-in form", "form.login input#key")
	e.do(chromedp.SendKeys(chromedp.ID("key"), key),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)))
}

// waitVisible waits (10 s at most, across navigations) for an element, and
// on failure says what the page shows instead.
func (e *env) waitVisible(what, sel string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		shown, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string](`location.href + ": " + (document.body ? document.body.innerText.slice(0, 300) : "")`))
		e.t.Fatalf("waiting for %s (%s): %v; the page shows %s", what, sel, err, shown)
	}
}

// deskToken waits for Zoom's desk iframe and returns the agent token in its
// URL, having checked the URL's shape and the iframe's allow list.
func (e *env) deskToken() string {
	e.t.Helper()
	e.waitVisible("Zoom's desk iframe", "#desk iframe")
	src := eval[string](e, `document.querySelector("#desk iframe").src`)
	tok, ok := strings.CutPrefix(src, "https://"+cdnHost+deskStubPath+"?access_token=")
	if !ok || tok == "" {
		e.t.Fatalf("desk iframe src %q, want https://%s%s?access_token=JWT", src, cdnHost, deskStubPath)
	}
	if allow := eval[string](e, `document.querySelector("#desk iframe").getAttribute("allow")`); allow != deskAllow {
		e.t.Errorf("desk iframe allow %q, want %q", allow, deskAllow)
	}
	tok, err := url.QueryUnescape(tok)
	if err != nil {
		e.t.Fatal(err)
	}
	// The stub really was asked for the desk, with that token.
	e.wait("Zoom's desk loaded in the iframe", `document.getElementById("status").textContent.indexOf("PIN") >= 0`)
	deadline := time.Now().Add(5 * time.Second)
	for len(e.cdn.find(func(r request) bool { return r.URI == deskStubPath+"?access_token="+url.QueryEscape(tok) })) == 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("the CDN stub never served the desk for this token; requests: %v", e.cdn.find(func(request) bool { return true }))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return tok
}

// checkAgentClaims checks an agent token: role 2, the identity the proxy
// authenticated, a valid lifetime, no BYOP claim.
func checkAgentClaims(t *testing.T, claims map[string]any, userID, userName string) {
	t.Helper()
	num := func(k string) int64 {
		n, ok := claims[k].(json.Number)
		if !ok {
			t.Fatalf("claim %s = %#v, want a JSON number", k, claims[k])
		}
		v, _ := n.Int64()
		return v
	}
	if claims["app_key"] != sdkKey || num("role_type") != 2 {
		t.Errorf("app_key %v role_type %v, want %s and 2 (agent)", claims["app_key"], claims["role_type"], sdkKey)
	}
	if claims["user_id"] != userID || claims["user_name"] != userName {
		t.Errorf("user_id %v user_name %v, want %q %q", claims["user_id"], claims["user_name"], userID, userName)
	}
	iat, exp := num("iat"), num("exp")
	if now := time.Now().Unix(); iat < now-120 || iat > now+5 || exp-iat != int64(config.DefaultTokenTTL/time.Second) {
		t.Errorf("iat %d exp %d (now %d), want a lifetime of %s", iat, exp, now, config.DefaultTokenTTL)
	}
	if _, ok := claims["enable_byop"]; ok {
		t.Errorf("agent token has enable_byop")
	}
}

// sessionCookie returns the desk's session cookie in the browser, or nil.
func (e *env) sessionCookie(pageURL string) *network.Cookie {
	e.t.Helper()
	res, err := chromedp.Call(e.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{pageURL}})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == token.SessionCookie {
			return c
		}
	}
	return nil
}

// TestAgentDeskSignIn: an agent signs in with an access key the way an
// agent does, in Chromium: a wrong key shows an error and no desk, the
// right one opens Zoom's desk with an agent token; the session survives a
// reload and ends with Sign out.
func TestAgentDeskSignIn(t *testing.T) {
	e := newEnv(t)
	up := serve(t, http.NotFoundHandler())
	port := e.startDesk(deskConfig(up.URL, false))
	desk := "http://desk.localhost:" + port + "/__cobrowse/agent"
	e.do(chromedp.Navigate(desk))

	e.signIn("cbpk_not-the-key")
	e.waitVisible("the wrong key's message", `form.login p.error[role=alert]`)
	if msg := eval[string](e, `document.querySelector("[role=alert]").textContent`); msg != "That access key is not valid." {
		t.Errorf("wrong key: message %q", msg)
	}
	if eval[bool](e, `document.getElementById("desk") !== null`) || e.sessionCookie(desk) != nil {
		t.Fatal("wrong key: the desk or a session cookie appeared")
	}
	// The browser's own sign-in POST: Chromium sends its real Origin with
	// Sec-Fetch-Site: same-origin, and the proxy accepts it.
	if posts := e.proxy.find(func(r request) bool { return r.Method == "POST" && r.URI == "/__cobrowse/agent/login" }); len(posts) != 1 || posts[0].Site != "same-origin" {
		t.Errorf("sign-in POSTs seen: %+v", posts)
	}

	e.signIn(agentKey)
	checkAgentClaims(t, verifyJWT(t, e.deskToken()), agentName, agentDisplay)
	if who := eval[string](e, `document.querySelector("header span").textContent`); !strings.Contains(who, agentDisplay) {
		t.Errorf("header shows %q, want the display name %q", who, agentDisplay)
	}
	c := e.sessionCookie(desk)
	if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/__cobrowse/" {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=/__cobrowse/", c)
	}
	if eval[bool](e, `document.cookie.indexOf("`+token.SessionCookie+`") >= 0`) {
		t.Error("the session cookie is readable from script")
	}
	e.noViolations("agent desk")
	e.deskScreenshot("agent-desk")

	e.do(chromedp.Reload())
	checkAgentClaims(t, verifyJWT(t, e.deskToken()), agentName, agentDisplay)
	e.noViolations("agent desk after reload")

	e.do(chromedp.Click(chromedp.CSS(`header form button[type=submit]`)))
	e.waitVisible("the sign-in form after Sign out", "form.login input#key")
	if c := e.sessionCookie(desk); c != nil {
		t.Errorf("session cookie left after Sign out: %+v", c)
	}
	e.do(chromedp.Reload())
	e.waitVisible("the sign-in form after a reload", "form.login input#key")
	if status := eval[int](e, `fetch("/__cobrowse/token", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"role":2}'}).then(r => r.status)`); status != http.StatusUnauthorized {
		t.Errorf("agent token after Sign out: status %d, want 401", status)
	}
	e.noViolations("sign-in page")
}

// TestAgentDeskIdentityHeader: behind a trusted auth proxy the desk opens
// without a form, as the identity it forwards; the same header sent
// straight to the proxy by the browser is not believed.
func TestAgentDeskIdentityHeader(t *testing.T) {
	e := newEnv(t)
	up := serve(t, http.NotFoundHandler())
	port := e.startDesk(deskConfig(up.URL, false))
	sso := e.startAuthProxy(port, "bob@example.com", "  Bob \u200bBuilder ")

	e.do(chromedp.Navigate("http://sso.localhost:" + sso + "/__cobrowse/agent"))
	checkAgentClaims(t, verifyJWT(t, e.deskToken()), "bob@example.com", "Bob Builder")
	if n := eval[int](e, `document.querySelectorAll("header form").length`); n != 0 {
		t.Error("Sign out offered to an agent signed in by the auth proxy")
	}
	e.noViolations("agent desk behind the auth proxy")

	// Straight to the proxy, from an address the header is not trusted from.
	if _, err := chromedp.Call(e.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"X-Forwarded-Email": "mallory@example.com"}}); err != nil {
		t.Fatal(err)
	}
	e.do(chromedp.Navigate("http://desk.localhost:" + port + "/__cobrowse/agent"))
	e.waitVisible("the sign-in form", "form.login input#key")
	if eval[bool](e, `document.getElementById("desk") !== null`) {
		t.Error("an identity header from an untrusted peer opened the desk")
	}
}

// TestAgentDeskBYOP: with bring-your-own-PIN tokens, the customer reads the
// PIN the proxy chose, and the agent, signed in on the desk, joins with it.
func TestAgentDeskBYOP(t *testing.T) {
	e := newEnv(t)
	up := serve(t, apiUpstream())
	port := e.startDesk(deskConfig(up.URL, true))

	e.do(chromedp.Navigate("http://byop.localhost:" + port + "/own"))
	e.wait("the SDK's init callback", `window.CobrowseProxy && CobrowseProxy.ready`)
	e.do(chromedp.Click(chromedp.ID("help-text")))
	e.wait("the PIN event", `window.__pins.length === 1`)
	pin := eval[string](e, `window.__pins[0]`)
	if f := e.fake(); len(f.Starts) != 1 || strings.ToUpper(f.Starts[0].CustomPinCode) != pin {
		t.Fatalf("customer started with %+v, shown PIN %q", f.Starts, pin)
	}

	e.do(chromedp.Navigate("http://byop.localhost:" + port + "/__cobrowse/agent"))
	e.signIn(agentKey)
	tok := e.deskToken()
	checkAgentClaims(t, verifyJWT(t, tok), agentName, agentDisplay)
	e.noViolations("agent desk on a BYOP site")

	// In the desk (opened on its own here: the stub is Zoom's, not ours),
	// the agent types the PIN the customer read out.
	e.do(chromedp.Navigate("https://"+cdnHost+deskStubPath+"?access_token="+url.QueryEscape(tok)),
		chromedp.SendKeys(chromedp.ID("pin"), strings.ToLower(pin)),
		chromedp.Click(chromedp.ID("join")))
	e.wait("the join", `document.getElementById("status").textContent !== ""`)
	joins := e.cdn.find(func(r request) bool { return strings.HasPrefix(r.URI, deskStubPath+"/join?") })
	if len(joins) != 1 {
		t.Fatalf("joins %+v", joins)
	}
	q, _ := url.ParseQuery(strings.SplitN(joins[0].URI, "?", 2)[1])
	if q.Get("pin") != pin || q.Get("access_token") != tok {
		t.Errorf("agent joined with PIN %q and token %.20s…, want the customer's PIN %q and the desk's token", q.Get("pin"), q.Get("access_token"), pin)
	}
}

// deskScreenshot saves the viewport as NAME.png; with COBROWSE_DOCS set to
// a folder (e.g. docs), also there, for the README's picture.
func (e *env) deskScreenshot(name string) {
	e.t.Helper()
	png, err := chromedp.Run(e.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Fatal(err)
	}
	e.write(name+".png", png)
	if dir := os.Getenv("COBROWSE_DOCS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}
