package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	msgStartFailed = "The support session could not start. Check your connection and try again."
	msgSDK         = "Support sessions could not load on this page. Please try again later."
)

// openShop loads a shop page and waits for bootstrap.js and its widget.
func (e *env) openShop(path string) {
	e.t.Helper()
	e.do(chromedp.Navigate(e.url("shop.localhost", path)))
	e.wait("the SDK's init callback", `window.CobrowseProxy && CobrowseProxy.ready`)
	e.wait("the widget", `document.querySelector("[data-cobrowse-proxy=widget]")`)
}

// A start that the SDK fails with session_error 1001 leaves no session:
// the message in words, "Try again" instead of "End session", a launcher
// without the live dot; and trying again starts a session.
func TestStartFailureRetry(t *testing.T) {
	e := newEnv(t)
	e.openShop("/")
	eval[any](e, `__fakeZoom.failNext = 1001, 0`)
	e.do(chromedp.Click(shadow(".launcher")), chromedp.Click(shadow(".start")))
	e.wait("the start error", `CobrowseProxy.state === "error"`)
	w := e.widget()
	if w.Message != msgStartFailed || w.Code != "1001" || w.EndShown || !w.RetryShown || w.PinShown || strings.Contains(w.Launcher, "live") {
		t.Fatalf("after the failed start: %+v, want the message, Try again, no End, launcher not live", w)
	}
	if eval[bool](e, `CobrowseProxy.active`) {
		t.Errorf("CobrowseProxy.active after a failed start")
	}
	e.screenshot("start-failed")

	e.do(chromedp.Click(shadow(".retry")))
	e.wait("the second session.start", `window.__fakeZoom.starts.length === 2`)
	e.wait("the PIN", `CobrowseProxy.state === "waiting" && CobrowseProxy.pin === "`+defaultPIN+`"`)
	if w = e.widget(); !w.PinShown || !w.EndShown || w.RetryShown || !strings.Contains(w.Launcher, "live") {
		t.Errorf("after trying again: %+v", w)
	}
	e.noViolations("start failure and retry")
}

// The PIN is read out once: the big PIN is not a live region of its own
// (no <output>), the one role=status region is the only live region, and
// it changes only when the PIN or the status does, not on re-renders
// after the copy feedback or on a repeated pincode_updated.
func TestPinAnnouncedOnce(t *testing.T) {
	e := newEnv(t)
	e.openShop("/")
	e.do(chromedp.Click(shadow(".launcher")), chromedp.Click(shadow(".start")))
	e.wait("the PIN", `CobrowseProxy.pin === "`+defaultPIN+`"`)
	regions := eval[struct {
		PinTag, PinRole string
		Live            []string
	}](e, `(() => { const r = document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot, pin = r.querySelector(".pin");
	  return {PinTag: pin.tagName, PinRole: pin.getAttribute("role") || "",
	    Live: [...r.querySelectorAll("output, [aria-live], [role=status], [role=alert], [role=log]")].map(n => n.tagName + "." + n.className)}; })()`)
	if regions.PinTag == "OUTPUT" || regions.PinRole != "" || len(regions.Live) != 1 || regions.Live[0] != "DIV.sr" {
		t.Errorf("live regions: %+v, want the PIN a plain element and one live region", regions)
	}
	if w := e.widget(); !strings.Contains(w.Live, "4 8 2 9 1 3") {
		t.Errorf("live region %q does not read the PIN out", w.Live)
	}

	// Record every text the live region gets from here on.
	eval[any](e, `(() => { const live = document.querySelector("[data-cobrowse-proxy=widget]").shadowRoot.querySelector("[role=status]");
	  window.__said = [];
	  new MutationObserver(rs => rs.forEach(r => r.addedNodes.forEach(n => __said.push(n.textContent)))).observe(live, {childList: true, characterData: true, subtree: true});
	  return 0; })()`)
	e.do(chromedp.Click(shadow(".copy")))
	e.wait("the copy feedback", `window.__said.length === 1`)
	// Re-renders: close and reopen the panel; the same PIN again.
	e.do(chromedp.Click(shadow(".close")), chromedp.Click(shadow(".launcher")))
	eval[any](e, `__fakeZoom.emit("pincode_updated", {pincode: "`+defaultPIN+`"}), __fakeZoom.emit("session_started", {}), 0`)
	eval[any](e, `new Promise(r => setTimeout(r, 50))`)
	said := eval[[]string](e, `window.__said`)
	if len(said) != 1 || strings.Contains(said[0], "4 8 2") {
		t.Errorf("live region after the copy feedback and re-renders: %q, want only the copy feedback", said)
	}
	// A real change is read out, once.
	eval[any](e, `__fakeZoom.emit("agent_joined", {}), 0`)
	e.wait("the status read out", `window.__said.length === 2`)
	eval[any](e, `new Promise(r => setTimeout(r, 50))`)
	if said = eval[[]string](e, `window.__said`); len(said) != 2 || said[1] != "An agent is now viewing this page." {
		t.Errorf("live region after agent_joined: %q", said)
	}
	e.noViolations("live region")
}

// pincode_updated while reconnecting, resumed or after the agent left only
// updates the PIN: the state stays and a panel the customer closed stays
// closed.
func TestPinUpdateKeepsState(t *testing.T) {
	e := newEnv(t)
	e.openShop("/")
	eval[any](e, `CobrowseProxy.start()`)
	e.wait("the PIN", `CobrowseProxy.pin === "`+defaultPIN+`"`)
	e.do(chromedp.Reload())
	e.wait("resumed", `window.CobrowseProxy && CobrowseProxy.state === "resumed"`)
	e.do(chromedp.Click(shadow(".close")))
	if w := e.widget(); w.Open {
		t.Fatalf("panel still open after Close: %+v", w)
	}
	for _, tc := range []struct{ event, state, pin string }{
		{"", "resumed", defaultPIN},
		{"session_reconnecting", "reconnecting", "777111"},
		{"agent_left", "left", "777222"},
	} {
		if tc.event != "" {
			eval[any](e, `__fakeZoom.emit("`+tc.event+`", {}), 0`)
		}
		eval[any](e, `__fakeZoom.emit("pincode_updated", {pincode: "`+tc.pin+`"}), 0`)
		if w := e.widget(); w.State != tc.state || w.Open || w.Pin != tc.pin {
			t.Errorf("pincode_updated in %s: state %q, panel open %v, PIN %q; want %s, closed, %s", tc.state, w.State, w.Open, w.Pin, tc.state, tc.pin)
		}
	}
	e.do(chromedp.Click(shadow(".launcher")))
	if w := e.widget(); !w.PinShown || w.Pin != "777222" || !strings.HasPrefix(w.Message, "The agent left") {
		t.Errorf("reopened panel: %+v", w)
	}
	e.noViolations("PIN updates")
}

// The SDK does not load (the CDN answers 503): "ready" settles as
// {success: false, error: "sdk"} and the widget says so, no exception.
func TestSDKLoadFailureInPage(t *testing.T) {
	e := newEnv(t)
	e.sdkDown.Store(true)
	e.do(chromedp.Navigate(e.url("shop.localhost", "/allowlist")))
	e.wait("the SDK failure", `window.CobrowseProxy && CobrowseProxy.state === "error"`)
	ready := eval[map[string]any](e, `new Promise(r => CobrowseProxy.on("ready", r))`)
	if ready["success"] != false || ready["error"] != "sdk" {
		t.Errorf("ready %v, want {success: false, error: sdk}", ready)
	}
	e.do(chromedp.Click(shadow(".launcher")))
	if w := e.widget(); !w.Open || w.Message != msgSDK || w.EndShown || w.RetryShown || w.ConsentShown {
		t.Errorf("widget after the SDK failed: %+v", w)
	}
	e.screenshot("sdk-failed")
	e.noViolations("SDK failure")
}

// Trusted Types enforced: with cobrowse-proxy allowed, the SDK loads from
// its URL through the policy and a session starts; without it, loading
// fails as "sdk" with the message, and nothing throws.
func TestTrustedTypes(t *testing.T) {
	e := newEnv(t)
	e.openShop("/trusted-types")
	if f := e.fake(); f.Src != sdkURL {
		t.Errorf("SDK loaded from %q", f.Src)
	}
	e.do(chromedp.Click(shadow(".launcher")), chromedp.Click(shadow(".start")))
	e.wait("the PIN", `CobrowseProxy.pin === "`+defaultPIN+`"`)
	e.noViolations("Trusted Types page")

	// A page that lists the policy names it allows: the proxy's CSP merge
	// adds cobrowse-proxy, so the SDK loads. (The refused-policy path is
	// covered by TestTrustedTypesPolicy in internal/web.)
	e.do(chromedp.Navigate(e.url("shop.localhost", "/trusted-types-allowlist")))
	e.wait("the SDK", `window.__fakeZoom !== undefined`)
	if exc := e.console.exceptions(); len(exc) > 0 {
		t.Errorf("uncaught exceptions: %v", exc)
	}
	e.noViolations("Trusted Types allow-list page")
}

// Turbo Drive or hx-boost replacing the body (or its content) does not
// lose the widget: it comes back, open panel and all, without dead
// copies from a snapshot.
func TestWidgetSurvivesBodySwap(t *testing.T) {
	e := newEnv(t)
	e.openShop("/allowlist")
	e.wait("the page's own script", `window.__fragment`) // it writes into the body we swap
	e.do(chromedp.Click(shadow(".launcher")))
	attached := `(() => { const h = document.querySelectorAll("[data-cobrowse-proxy=widget]");
	  return h.length === 1 && h[0].parentNode === document.body && !!h[0].shadowRoot; })()`

	// Turbo Drive: a new <body> element.
	eval[any](e, `(() => { const b = document.createElement("body"); b.innerHTML = "<main><h1>Next page</h1></main>";
	  document.documentElement.replaceChild(b, document.body); return 0; })()`)
	e.wait("the widget after a body replace", attached)
	if w := e.widget(); !w.Open || !w.ConsentShown {
		t.Errorf("widget after the body swap: %+v", w)
	}
	// A restored snapshot: a clone of the body, with a dead widget copy.
	eval[any](e, `document.documentElement.replaceChild(document.body.cloneNode(true), document.body), 0`)
	e.wait("one live widget after a snapshot restore", attached)

	// hx-boost: the body's content replaced, then htmx:afterSwap.
	eval[any](e, `document.body.innerHTML = "<main><h1 id=swapped>Swapped</h1></main>", 0`)
	if eval[bool](e, `!!document.querySelector("[data-cobrowse-proxy=widget]")`) {
		t.Fatalf("widget still in the page after innerHTML: the test proves nothing")
	}
	eval[any](e, `document.body.dispatchEvent(new CustomEvent("htmx:afterSwap", {bubbles: true})), 0`)
	e.wait("the widget after htmx:afterSwap", attached)

	// Any other swap: back on the next click.
	eval[any](e, `document.body.innerHTML = "<main><h1 id=again>Again</h1></main>", 0`)
	e.do(chromedp.Click(chromedp.ID("again")))
	e.wait("the widget after a click", attached)

	// And it still works.
	e.do(chromedp.Click(shadow(".start")))
	e.wait("the PIN", `CobrowseProxy.pin === "`+defaultPIN+`"`)
	e.noViolations("body swaps")
}
