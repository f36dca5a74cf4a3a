package browsertest

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shopSettings is what init must get on shop.localhost: the site's
// settings (pass-through key included) and the masking policy, central
// first, then the site's, the auto-masked sensitive inputs and the widget.
const shopSettings = `{
  "annotation": {"allowCustomerAnnotation": true},
  "remoteAssist": {"enable": true, "remoteAssistTypes": ["scroll_page"]},
  "futureOption": "kept",
  "piiMask": {
    "maskType": "custom_input",
    "maskCssSelectors": ".card-number, #ssn, .order-address, input[type=\"password\"], input[autocomplete^=\"cc-\"], input[autocomplete=\"one-time-code\"], .cobrowse-proxy-widget",
    "maskHTMLAttributes": "data-private"
  }
}`

func sameJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	var g any
	json.Unmarshal(gb, &g)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, gb, want)
	}
}

type fakeZoom struct {
	Src       string
	InitArgs  map[string]any
	InitCalls int
	Starts    []struct {
		SDKToken      string `json:"sdkToken"`
		CustomPinCode string `json:"customPinCode"`
	}
	Joins, Ends, InfoCalls int
}

func (e *env) fake() fakeZoom {
	e.t.Helper()
	return eval[fakeZoom](e, `(() => { const f = window.__fakeZoom; return {Src: f.src, InitArgs: f.initArgs, InitCalls: f.initCalls,
	  Starts: f.starts, Joins: f.joins, Ends: f.ends, InfoCalls: f.infoCalls}; })()`)
}

type widgetView struct {
	Open, ConsentShown, SessionShown, PinShown, EndShown, RetryShown bool
	State, Pin, Message, Live, Label, Focus, Code                    string
	Classes, Launcher                                                string
}

func (e *env) widget() widgetView {
	e.t.Helper()
	return eval[widgetView](e, `(() => {
	  const host = document.querySelector("[data-cobrowse-proxy=widget]"), r = host.shadowRoot, q = s => r.querySelector(s);
	  const shown = el => !el.closest("[hidden]") && el.getClientRects().length > 0;
	  return {Open: !q(".panel").hidden, ConsentShown: shown(q(".consent")), SessionShown: shown(q(".session")),
	    PinShown: shown(q(".pin")), EndShown: shown(q(".end")), RetryShown: shown(q(".retry")), Launcher: q(".launcher").className, State: CobrowseProxy.state, Pin: q(".pin").textContent,
	    Message: q(".msg").textContent, Live: q("[role=status]").textContent, Label: q(".launcher").textContent,
	    Focus: r.activeElement ? r.activeElement.className : "", Code: q(".msg").getAttribute("data-code") || "",
	    Classes: host.className + " | " + q(".root").className};
	})()`)
}

// The whole customer flow on a page with a strict nonce-based CSP, by
// keyboard: the loader URL, init, the consent step, the token, start, the
// PIN, status and error messages, recovery after a reload, the end; and the
// fetched fragment is left alone.
func TestWidgetFlowStrictCSP(t *testing.T) {
	start := time.Now()
	e := newEnv(t)
	e.do(chromedp.Navigate(e.url("shop.localhost", "/")))
	e.wait("the SDK's init callback", `window.CobrowseProxy && CobrowseProxy.ready`)
	e.wait("the widget", `document.querySelector("[data-cobrowse-proxy=widget]")`)

	// The policy the browser got is still strict (the merge kept it so).
	policy := e.proxy.policy("shop.localhost:" + e.port + "/")
	if !strings.Contains(policy, "'strict-dynamic'") || !strings.Contains(policy, "'nonce-") || strings.Contains(policy, "script-src 'unsafe-inline'") {
		t.Errorf("page policy is not the strict one: %q", policy)
	}

	// The loader URL is exactly the CDN URL, loaded once, from the real host.
	f := e.fake()
	if f.Src != sdkURL {
		t.Errorf("SDK loaded from %q, want %q", f.Src, sdkURL)
	}
	if got := e.cdn.find(func(r request) bool { return true }); len(got) != 1 || got[0].Host != cdnHost || got[0].URI != strings.TrimPrefix(sdkURL, "https://"+cdnHost) || got[0].Dest != "script" {
		t.Errorf("CDN stub requests %+v, want one script request for %s", got, sdkURL)
	}
	scripts := eval[[]string](e, `[...document.scripts].map(s => s.src)`)
	if n := len(slices.DeleteFunc(slices.Clone(scripts), func(s string) bool { return !strings.Contains(s, "/__cobrowse/bootstrap.js?v=") })); n != 1 {
		t.Errorf("bootstrap.js tags: %d in %v, want 1", n, scripts)
	}
	if slices.ContainsFunc(scripts, func(s string) bool { return strings.Contains(s, "frame=1") }) {
		t.Errorf("top page got the iframe variant: %v", scripts)
	}
	if f.InitCalls != 1 {
		t.Errorf("init called %d times", f.InitCalls)
	}
	sameJSON(t, "init settings", f.InitArgs, shopSettings)

	// One global namespace: besides the SDK's own (the official stub's
	// ZoomCobrowseSDK and ZoomCobrowseSDKInitArgs) only CobrowseProxy.
	globals := eval[[]string](e, `Object.getOwnPropertyNames(window).filter(k => !window.__startGlobals.includes(k))`)
	globals = slices.DeleteFunc(globals, func(k string) bool {
		return strings.HasPrefix(k, "__") || k == "ZoomCobrowseSDK" || k == "ZoomCobrowseSDKInitArgs"
	})
	if !reflect.DeepEqual(globals, []string{"CobrowseProxy"}) {
		t.Errorf("new globals %v, want [CobrowseProxy]", globals)
	}

	// The fragment (fetch with HX-Request) came through untouched.
	e.wait("the fragment", `window.__fragment`)
	if got := eval[string](e, `window.__fragment`); got != fragment {
		t.Errorf("fragment changed by the proxy: %q", got)
	}
	if got := e.proxy.find(func(r request) bool { return strings.HasSuffix(r.URI, "/fragment") }); len(got) != 1 || got[0].Dest != "empty" {
		t.Errorf("fragment requests %+v", got)
	}

	// Closed: the relabelled button at the configured corner.
	w := e.widget()
	if w.Open || w.Label != "Need help?" || !strings.Contains(w.Classes, "bottom left") || !strings.Contains(w.Classes, "cobrowse-proxy-widget") {
		t.Errorf("closed widget: %+v", w)
	}
	e.screenshot("1-closed")

	// Keyboard: Enter on the button opens the consent text, focus on Start.
	e.do(chromedp.Focus(shadow(".launcher")), chromedp.KeyEvent("\r"))
	w = e.widget()
	if !w.Open || !w.ConsentShown || w.SessionShown || !strings.Contains(w.Focus, "start") {
		t.Errorf("after Enter on the button: %+v", w)
	}
	consent := eval[string](e, `document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector(".consent p").textContent`)
	if consent != "A support agent will see this page. Fields marked private are hidden." {
		t.Errorf("consent text %q", consent)
	}
	if expanded := eval[string](e, `document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector(".launcher").getAttribute("aria-expanded")`); expanded != "true" {
		t.Errorf("aria-expanded %q", expanded)
	}
	e.screenshot("2-consent")

	// Enter on Start: token, session.start, PIN.
	e.do(chromedp.KeyEvent("\r"))
	e.wait("session.start", `window.__fakeZoom.starts.length === 1`)
	e.wait("the PIN on screen", `CobrowseProxy.state === "waiting" && CobrowseProxy.pin === "`+defaultPIN+`"`)
	w = e.widget()
	if !w.PinShown || w.Pin != defaultPIN || !w.EndShown || w.ConsentShown || w.Message != "Waiting for the agent. Tell them this PIN." {
		t.Errorf("after start: %+v", w)
	}
	if !strings.Contains(w.Live, "4 8 2 9 1 3") {
		t.Errorf("live region %q does not read the PIN out", w.Live)
	}
	f = e.fake()
	if f.Starts[0].CustomPinCode != "" {
		t.Errorf("customPinCode %q without BYOP", f.Starts[0].CustomPinCode)
	}
	checkCustomerClaims(t, verifyJWT(t, f.Starts[0].SDKToken), false)
	tokens := e.proxy.find(func(r request) bool { return r.URI == "/__cobrowse/token" })
	if len(tokens) != 1 || tokens[0].Method != "POST" || tokens[0].Site != "same-origin" || tokens[0].Host != "shop.localhost:"+e.port {
		t.Errorf("token requests %+v, want one same-origin POST", tokens)
	}
	if stored := eval[string](e, `sessionStorage.getItem("cobrowse-proxy:pin")`); stored != defaultPIN {
		t.Errorf("stored PIN %q", stored)
	}
	pinShot := e.screenshot("3-pin")
	t.Logf("PIN screenshot: %s", pinShot)

	// Copy: the clipboard, or (permission refused) a select-and-copy hint.
	e.do(chromedp.Click(shadow(".copy")))
	e.wait("the copy feedback", `/PIN copied|Control C/.test(document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector("[role=status]").textContent)`)

	// Status changes and error codes as sentences.
	eval[any](e, `__fakeZoom.emit("agent_joined", {}), 0`)
	if w = e.widget(); w.Message != "An agent is now viewing this page." || !w.PinShown {
		t.Errorf("agent joined: %+v", w)
	}
	e.screenshot("4-agent-joined")
	eval[any](e, `__fakeZoom.emit("session_error", {code: 1016}), 0`)
	if w = e.widget(); w.Message != "Network problem: check your connection and try again." || w.Code != "1016" || regexp.MustCompile(`\d{4}`).MatchString(w.Message) || !w.EndShown {
		t.Errorf("error 1016: %+v", w)
	}
	eval[any](e, `__fakeZoom.emit("session_reconnecting", {}), 0`)
	if w = e.widget(); w.Message != "Reconnecting…" {
		t.Errorf("reconnecting: %+v", w)
	}
	eval[any](e, `__fakeZoom.emit("agent_left", {}), 0`)
	if w = e.widget(); !strings.HasPrefix(w.Message, "The agent left") {
		t.Errorf("agent left: %+v", w)
	}
	e.noViolations("strict page, session running")

	// Reload within the recovery window: join, no new token, PIN kept.
	e.do(chromedp.Reload())
	e.wait("init after reload", `window.CobrowseProxy && CobrowseProxy.ready`)
	e.wait("join after reload", `window.__fakeZoom.joins === 1`)
	e.wait("resumed", `CobrowseProxy.state === "resumed"`)
	f = e.fake()
	if len(f.Starts) != 0 || f.InfoCalls < 1 {
		t.Errorf("after reload: %d starts, %d getSessionInfo calls, want 0 and at least 1", len(f.Starts), f.InfoCalls)
	}
	if n := len(e.proxy.find(func(r request) bool { return r.URI == "/__cobrowse/token" })); n != 1 {
		t.Errorf("%d token requests after the reload, want still 1", n)
	}
	w = e.widget()
	if !w.Open || !w.PinShown || w.Pin != defaultPIN || !w.EndShown || w.Message != "Support session resumed." {
		t.Errorf("recovered widget: %+v", w)
	}
	e.screenshot("5-recovered")

	// End: session.end(), the PIN goes away.
	e.do(chromedp.Click(shadow(".end")))
	e.wait("session.end", `window.__fakeZoom.ends === 1`)
	e.wait("ended", `CobrowseProxy.state === "ended"`)
	w = e.widget()
	if w.PinShown || w.EndShown || w.Message != "The support session has ended." {
		t.Errorf("ended: %+v", w)
	}
	if stored := eval[any](e, `sessionStorage.getItem("cobrowse-proxy:pin")`); stored != nil {
		t.Errorf("PIN still stored after the end: %v", stored)
	}
	e.screenshot("6-ended")
	// Escape closes the panel and gives focus back to the button.
	e.do(chromedp.Focus(shadow(".done")), chromedp.KeyEvent("\x1b"))
	if w = e.widget(); w.Open || !strings.Contains(w.Focus, "launcher") || w.State != "idle" {
		t.Errorf("after Escape: %+v", w)
	}
	e.noViolations("strict page, after the session")

	// The listener is live: a deliberate violation is seen.
	eval[any](e, `(() => { const i = document.createElement("img"); i.src = "https://blocked.invalid/x.png"; document.body.append(i); return 0; })()`)
	e.wait("a deliberate violation", `window.__cspViolations.length === 1`)
	t.Logf("strict CSP flow: %s; screenshots in %s", time.Since(start).Round(time.Millisecond), e.artifacts)
}

// A host allow-list policy: the merge adds the Zoom host, the loader comes
// from 'self', the widget's styles are CSSOM; nothing is blocked, and a
// session starts by mouse.
func TestWidgetAllowListCSP(t *testing.T) {
	e := newEnv(t)
	e.do(chromedp.Navigate(e.url("shop.localhost", "/allowlist")))
	e.wait("the SDK's init callback", `window.CobrowseProxy && CobrowseProxy.ready`)
	e.wait("the widget", `document.querySelector("[data-cobrowse-proxy=widget]")`)
	policy := e.proxy.policy("shop.localhost:" + e.port + "/allowlist")
	if !strings.Contains(policy, "script-src 'self' https://*.zoom.us") || strings.Contains(policy, "'nonce-") {
		t.Errorf("page policy %q", policy)
	}
	if f := e.fake(); f.Src != sdkURL {
		t.Errorf("SDK loaded from %q", f.Src)
	}
	// The widget's styles applied: the launcher is a fixed, coloured pill.
	style := eval[map[string]string](e, `(() => { const s = getComputedStyle(document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector(".root"));
	  const b = getComputedStyle(document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector(".launcher"));
	  return {position: s.position, left: s.left, bottom: s.bottom, bg: b.backgroundColor}; })()`)
	if style["position"] != "fixed" || style["left"] != "20px" || style["bottom"] != "20px" || style["bg"] != "rgb(11, 92, 255)" {
		t.Errorf("widget styles not applied: %v", style)
	}
	e.do(chromedp.Click(shadow(".launcher")))
	e.do(chromedp.Click(shadow(".start")))
	e.wait("the PIN", `CobrowseProxy.pin === "`+defaultPIN+`"`)
	checkCustomerClaims(t, verifyJWT(t, e.fake().Starts[0].SDKToken), false)
	e.do(chromedp.Click(shadow(".end")))
	e.wait("session.end", `window.__fakeZoom.ends === 1`)
	e.noViolations("allow-list page")
}

// A document requested as an iframe from a second proxied host gets the
// iframe variant: the loader (with that site's settings) and no widget.
func TestIframeVariant(t *testing.T) {
	e := newEnv(t)
	e.do(chromedp.Navigate(e.url("shop.localhost", "/iframe")))
	e.wait("the iframe's report", `window.__frameReports && window.__frameReports.length > 0`)
	type report struct {
		Origin string
		Data   struct {
			HasAPI       bool `json:"hasApi"`
			Frame        bool
			Ready        bool
			Widget       bool
			BootstrapSrc string
			SDKSrc       string `json:"sdkSrc"`
			InitArgs     map[string]any
		}
	}
	reports := eval[[]report](e, `window.__frameReports`)
	r := reports[0]
	if r.Origin != "http://widgets.localhost:"+e.port {
		t.Errorf("report from %q", r.Origin)
	}
	d := r.Data
	if !d.HasAPI || !d.Frame || !d.Ready || d.Widget {
		t.Errorf("iframe: %+v, want the API in frame mode, ready, no widget", d)
	}
	if !strings.HasPrefix(d.BootstrapSrc, "http://widgets.localhost:"+e.port+"/__cobrowse/bootstrap.js?v=") || !strings.HasSuffix(d.BootstrapSrc, "&frame=1") {
		t.Errorf("iframe loader %q, want the widgets site's iframe variant", d.BootstrapSrc)
	}
	if d.SDKSrc != sdkURL {
		t.Errorf("iframe SDK from %q", d.SDKSrc)
	}
	mask, _ := d.InitArgs["piiMask"].(map[string]any)
	if sel, _ := mask["maskCssSelectors"].(string); !strings.Contains(sel, "input[name=cvc]") {
		t.Errorf("iframe init settings %v lack the widgets site's mask", d.InitArgs)
	}
	embeds := e.proxy.find(func(r request) bool { return strings.HasPrefix(r.Host, "widgets.localhost") && r.URI == "/embed" })
	if len(embeds) != 1 || embeds[0].Dest != "iframe" {
		t.Errorf("embed requests %+v, want one with Sec-Fetch-Dest: iframe", embeds)
	}
	// The top page has the full widget.
	e.wait("the top page's widget", `document.querySelector("[data-cobrowse-proxy=widget]")`)
	if top := eval[bool](e, `CobrowseProxy.frame`); top {
		t.Errorf("top page in frame mode")
	}
	e.noViolations("iframe page")
}

// A site with its own button (widget off) and bring-your-own-PIN tokens:
// data-cobrowse-start, CobrowseProxy.on, customPinCode, data-cobrowse-end.
func TestOwnButtonBYOP(t *testing.T) {
	e := newEnv(t)
	e.do(chromedp.Navigate(e.url("api.localhost", "/own")))
	e.wait("the SDK's init callback", `window.CobrowseProxy && CobrowseProxy.ready`)
	if n := eval[int](e, `document.querySelectorAll("[data-cobrowse-proxy]").length`); n != 0 {
		t.Errorf("widget drawn on a site that turned it off")
	}
	if sel := eval[string](e, `__fakeZoom.initArgs.piiMask ? __fakeZoom.initArgs.piiMask.maskCssSelectors : ""`); strings.Contains(sel, widgetMask) {
		t.Errorf("widget mask %q added without a widget", sel)
	}
	e.do(chromedp.Click(chromedp.ID("help-text"))) // a child of the data-cobrowse-start element
	e.wait("session.start", `window.__fakeZoom.starts.length === 1`)
	e.wait("the PIN event", `window.__pins.length === 1`)
	f := e.fake()
	pin := f.Starts[0].CustomPinCode
	if !regexp.MustCompile(`^[A-Za-z0-9]{1,10}$`).MatchString(pin) {
		t.Errorf("customPinCode %q", pin)
	}
	checkCustomerClaims(t, verifyJWT(t, f.Starts[0].SDKToken), true)
	if got := eval[[]string](e, `window.__pins`); got[0] != strings.ToUpper(pin) {
		t.Errorf("pincode_updated gave %v, want %q", got, strings.ToUpper(pin))
	}
	e.do(chromedp.Click(chromedp.ID("stop")))
	e.wait("session.end", `window.__fakeZoom.ends === 1`)
	states := eval[[]string](e, `window.__states`)
	if !slices.Contains(states, "starting") || !slices.Contains(states, "waiting") || states[len(states)-1] != "ended" {
		t.Errorf("states %v", states)
	}
	if href := eval[string](e, `location.hash`); href != "" {
		t.Errorf("data-cobrowse-end link navigated to %q", href)
	}
	e.noViolations("own-button page")
}
