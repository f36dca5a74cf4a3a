package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

// scenarioHarness runs bootstrap.js in Node against a fake SDK session,
// fetch and sessionStorage that a scenario drives step by step. argv:
// script, scenario. The scenario is the body of an async function with
// these in scope:
//
//	h          what happened: inserted (script elements), fetches, docEvents
//	window     the page's window; set window.trustedTypes before load()
//	load()     runs bootstrap.js, returns window.CobrowseProxy
//	init(res)  the SDK's init callback; session() makes a fake session
//	token(i)   answers fetch i with a token; tick() lets promises settle
//	el(cls)    the widget element whose class list has cls
//	later()    a promise with its resolve/reject (for session.start)
//
// Its return value is printed as JSON. Timers of 10 s and more (the SDK
// load timeout, end()'s wait) fire after 1 ms when h.fastTimers is set.
const scenarioHarness = `
const fs = require("fs");
const h = { inserted: [], fetches: [], docEvents: [], made: [], fastTimers: false };
const realSetTimeout = setTimeout;
global.setTimeout = (f, ms, ...a) => realSetTimeout(f, h.fastTimers && ms >= 10000 ? 1 : ms, ...a);
class El {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.className = ""; this.hidden = false; this.on = {}; this.textContent = ""; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }
  removeAttribute(k) { delete this.attrs[k]; }
  appendChild(c) { this.children.push(c); c.parentNode = this; return c; }
  get isConnected() { return this === body || !!(this.parentNode && this.parentNode.isConnected); }
  addEventListener(n, f) { (this.on[n] = this.on[n] || []).push(f); }
  click() { (this.on.click || []).forEach(f => f({ target: this })); }
  attachShadow() { return (this.shadowRoot = new El("#shadow-root")); }
  contains() { return false; }
  focus() {}
}
const first = { parentNode: { insertBefore(s) { h.inserted.push(s); } }, id: "page-script" };
const body = new El("body");
const document = {
  currentScript: { nonce: "", src: "https://shop.example/__cobrowse/bootstrap.js" },
  baseURI: "https://shop.example/",
  body,
  createElement(tag) { const e = new El(tag); h.made.push(e); return e; },
  getElementsByTagName(tag) { return tag === "script" ? [first] : []; },
  addEventListener() {},
  dispatchEvent(e) { h.docEvents.push({ type: e.type, detail: e.detail }); },
};
global.CustomEvent = class { constructor(type, o) { this.type = type; this.detail = o && o.detail; } };
const storage = {};
const window = {
  navigator: {},
  sessionStorage: {
    getItem: k => (k in storage ? storage[k] : null),
    setItem(k, v) { storage[k] = String(v); },
    removeItem(k) { delete storage[k]; },
  },
  fetch(url, opts) { return new Promise((resolve, reject) => h.fetches.push({ url, body: opts.body, resolve, reject })); },
};
const src = fs.readFileSync(process.argv[2], "utf8");
const load = () => { new Function("window", "document", src)(window, document); return window.CobrowseProxy; };
const init = res => window.ZoomCobrowseSDKInitArgs[1](res);
const tick = () => new Promise(r => realSetTimeout(r, 5));
const token = (i, body) => h.fetches[i].resolve({ ok: true, status: 200, json: () => Promise.resolve(body || { token: "T" + i }) });
const el = cls => h.made.find(e => e.className.split(" ").includes(cls));
const later = () => { let resolve, reject; const p = new Promise((a, b) => { resolve = a; reject = b; }); return { p, resolve, reject }; };
function session() {
  const s = {
    handlers: {}, starts: [], joins: 0, ends: 0, info: "session_not_started", startResult: null,
    on(n, f) { (s.handlers[n] = s.handlers[n] || []).push(f); },
    emit(n, d) { (s.handlers[n] || []).forEach(f => f(d)); },
    start(o) { s.starts.push(o); return s.startResult ? s.startResult(o) : Promise.resolve(); },
    join() { s.joins++; return Promise.resolve(); },
    end() { s.ends++; return Promise.resolve(); },
    getSessionInfo() { return { sessionStatus: s.info }; },
  };
  return s;
}
const run = new Function("h", "window", "document", "load", "init", "session", "token", "tick", "el", "later",
  "return (async () => {\n" + fs.readFileSync(process.argv[3], "utf8") + "\n})();");
run(h, window, document, load, init, session, token, tick, el, later).then(
  r => { console.log(JSON.stringify(r === undefined ? null : r)); process.exit(0); },
  e => { console.error("scenario failed:", e && e.stack || e); process.exit(1); });
process.on("uncaughtException", e => { console.error("uncaught:", e && e.stack || e); process.exit(2); });
`

// scenarioBootstrap is bootstrap.js with the widget on.
func scenarioBootstrap(t *testing.T) *Bootstrap {
	t.Helper()
	b, err := NewBootstrap(BootstrapConfig{
		SDKURL: "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0",
		Prefix: "/__cobrowse",
		Widget: Widget{Enabled: true, Position: "bottom-right", Label: "Get help"},
	}, encoding.New(encoding.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runScenario runs scenario (see scenarioHarness) and decodes what it
// returned into out.
func runScenario(t *testing.T, b *Bootstrap, scenario string, out any) {
	t.Helper()
	node := nodePath(t)
	dir := t.TempDir()
	files := map[string][]byte{"bootstrap.js": b.body, "harness.js": []byte(scenarioHarness), "scenario.js": []byte(scenario)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := exec.Command(node, filepath.Join(dir, "harness.js"), filepath.Join(dir, "bootstrap.js"), filepath.Join(dir, "scenario.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, res)
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("scenario output %q: %v", res, err)
	}
}

// snapshot is the API's and the widget's state, as scenarios report it.
const snapshot = `const snap = () => { const cp = window.CobrowseProxy; return {state: cp.state, active: cp.active, pin: cp.pin,
  message: cp.message, retry: !el("retry").hidden, end: !el("end").hidden, launcher: el("launcher").className}; };
`

type snap struct {
	State, Pin, Message, Launcher string
	Active, Retry, End            bool
}

// A start that fails (session_error with a start code, or any code before
// the session started) leaves no session: "Try again" shows, the launcher
// is not live, and start() starts again, whether the SDK's start promise
// resolved or is still pending.
func TestStartFailureAllowsRetry(t *testing.T) {
	b := scenarioBootstrap(t)
	for _, tc := range []struct {
		name, code string
		pending    bool // session.start's promise never settles
	}{
		{"1001, start resolved", "1001", false},
		{"2001, start resolved", "2001", false},
		{"1004, start pending", "1004", true},
		{"9999 before the session started", "9999", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got struct {
				Failed, Retried snap
				Starts, Fetches int
			}
			runScenario(t, b, snapshot+`
const cp = load(), s = session();
init({success: true, session: s});
if (`+jsBool(tc.pending)+`) s.startResult = () => later().p;
cp.start().catch(() => {});
await tick(); token(0); await tick();
s.emit("session_error", {code: `+tc.code+`});
await tick();
const failed = snap();
s.startResult = null;
cp.start().catch(() => {});
await tick(); if (h.fetches[1]) token(1); await tick();
s.emit("session_started", {}); s.emit("pincode_updated", {pincode: "123456"});
return {failed, retried: snap(), starts: s.starts.length, fetches: h.fetches.length};
`, &got)
			f := got.Failed
			if f.State != "error" || f.Active || !f.Retry || f.End || f.Launcher != "launcher" || f.Pin != "" {
				t.Errorf("after the failed start: %+v, want error, inactive, Try again, launcher not live", f)
			}
			if got.Starts != 2 || got.Fetches != 2 {
				t.Errorf("second start: %d session.start calls, %d token fetches, want 2 and 2", got.Starts, got.Fetches)
			}
			if r := got.Retried; r.State != "waiting" || !r.Active || r.Pin != "123456" || !r.End || r.Launcher != "launcher live" {
				t.Errorf("after the retry: %+v", r)
			}
		})
	}

	// An error once the session runs (a network blip) keeps the session.
	var live snap
	runScenario(t, b, snapshot+`
const cp = load(), s = session();
init({success: true, session: s});
cp.start(); await tick(); token(0); await tick();
s.emit("session_started", {}); s.emit("pincode_updated", {pincode: "123456"});
s.emit("session_error", {code: 1016});
return snap();
`, &live)
	if live.State != "error" || !live.Active || !live.End || live.Retry || live.Pin != "123456" {
		t.Errorf("1016 during a session: %+v, want the session kept", live)
	}
}

func jsBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// end() while the token is being fetched cancels the start: session.start
// is never called. end() while session.start runs ends the session once
// the start settled, and the start's late events do not bring it back.
func TestEndCancelsStartInFlight(t *testing.T) {
	b := scenarioBootstrap(t)
	var fetching struct {
		Snap         snap
		Starts, Ends int
		Rejected     string
	}
	runScenario(t, b, snapshot+`
const cp = load(), s = session();
init({success: true, session: s});
let rejected = "";
cp.start().catch(e => { rejected = String(e.code); });
await tick();
await cp.end();
token(0); await tick();
return {snap: snap(), starts: s.starts.length, ends: s.ends, rejected};
`, &fetching)
	if fetching.Starts != 0 || fetching.Ends != 0 || fetching.Snap.State != "ended" || fetching.Snap.Active || fetching.Rejected != "cancelled" {
		t.Errorf("end during the token fetch: %+v, want no session.start, state ended, start rejected as cancelled", fetching)
	}

	var starting struct {
		Snap                     snap
		Starts, EndsBefore, Ends int
		Stored                   any
	}
	runScenario(t, b, snapshot+`
const cp = load(), s = session();
init({success: true, session: s});
const st = later();
s.startResult = () => st.p;
cp.start().catch(() => {});
await tick(); token(0); await tick();
const ended = cp.end();
await tick();
const endsBefore = s.ends;
st.resolve();
s.emit("session_started", {}); s.emit("pincode_updated", {pincode: "123456"});
await ended; await tick();
return {snap: snap(), starts: s.starts.length, endsBefore, ends: s.ends, stored: window.sessionStorage.getItem("cobrowse-proxy:pin")};
`, &starting)
	if starting.Starts != 1 || starting.EndsBefore != 0 || starting.Ends != 1 {
		t.Errorf("end during session.start: %d starts, %d ends before it settled, %d after; want 1, 0, 1", starting.Starts, starting.EndsBefore, starting.Ends)
	}
	if s := starting.Snap; s.State != "ended" || s.Active || s.Pin != "" || starting.Stored != nil {
		t.Errorf("end during session.start: %+v stored %v, want ended with no PIN", s, starting.Stored)
	}
}

// start() before init called back waits for recovery: a recoverable
// session is rejoined and no second one is started.
func TestStartBeforeInitWaitsForRecovery(t *testing.T) {
	b := scenarioBootstrap(t)
	var got struct {
		Snap                   snap
		Starts, Joins, Fetches int
	}
	runScenario(t, b, snapshot+`
window.sessionStorage.setItem("cobrowse-proxy:pin", "654321");
const cp = load(), s = session();
s.info = "session_recoverable";
const started = cp.start().catch(() => {});
init({success: true, session: s});
await tick();
if (h.fetches[0]) token(0);
await started; await tick();
return {snap: snap(), starts: s.starts.length, joins: s.joins, fetches: h.fetches.length};
`, &got)
	if got.Starts != 0 || got.Fetches != 0 || got.Joins != 1 {
		t.Errorf("start before init with a recoverable session: %d starts, %d token fetches, %d joins; want 0, 0, 1", got.Starts, got.Fetches, got.Joins)
	}
	if got.Snap.State != "resumed" || !got.Snap.Active || got.Snap.Pin != "654321" {
		t.Errorf("after recovery: %+v", got.Snap)
	}
}

// When the SDK fails to load (script error) or never calls back, "ready"
// fires with {success: false, error: "sdk"}, also for late subscribers,
// "error" fires, and the widget shows the message.
func TestSDKLoadFailure(t *testing.T) {
	b := scenarioBootstrap(t)
	for _, how := range []string{"onerror", "timeout"} {
		t.Run(how, func(t *testing.T) {
			var got struct {
				Ready, Late []map[string]any
				Errors      []map[string]any
				DocEvents   []map[string]any
				Snap        snap
				StartCode   string
			}
			runScenario(t, b, snapshot+`
h.fastTimers = `+jsBool(how == "timeout")+`;
const cp = load();
const ready = [], late = [], errors = [];
cp.on("ready", r => ready.push(r));
cp.on("error", e => errors.push(e));
if (!h.fastTimers) h.inserted[0].onerror(new Error("load"));
await tick(); await tick();
cp.on("ready", r => late.push(r));
let startCode = "";
await cp.start().catch(e => { startCode = String(e.code); });
await tick();
return {ready, late, errors, docEvents: h.docEvents, snap: snap(), startCode};
`, &got)
			want := map[string]any{"success": false, "error": "sdk"}
			if len(got.Ready) != 1 || !sameMap(got.Ready[0], want) || len(got.Late) != 1 || !sameMap(got.Late[0], want) {
				t.Errorf("ready events %v, late %v, want one %v each", got.Ready, got.Late, want)
			}
			if len(got.Errors) == 0 || got.Errors[0]["code"] != "sdk" {
				t.Errorf("error events %v", got.Errors)
			}
			if len(got.DocEvents) != 1 || got.DocEvents[0]["type"] != "cobrowse-proxy:ready" {
				t.Errorf("document events %v", got.DocEvents)
			}
			if got.Snap.State != "error" || got.Snap.Message != "Support sessions could not load on this page. Please try again later." || got.StartCode != "sdk" {
				t.Errorf("widget %+v, start() rejected with %q", got.Snap, got.StartCode)
			}
		})
	}
}

func sameMap(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// With window.trustedTypes, the SDK URL goes through a policy named
// cobrowse-proxy that passes the SDK URL only; if the page's CSP refuses
// the policy name, loading fails as "sdk", without an uncaught error.
func TestTrustedTypesPolicy(t *testing.T) {
	b := scenarioBootstrap(t)
	var ok struct {
		Policy  string
		Src     any
		Refused bool
	}
	runScenario(t, b, `
let rules = null, policy = "";
window.trustedTypes = { createPolicy(name, r) { policy = name; rules = r; return { createScriptURL: u => ({ trusted: r.createScriptURL(u) }) }; } };
load();
let refused = false;
if (rules) { try { rules.createScriptURL("https://evil.example/x.js"); } catch (e) { refused = e instanceof TypeError; } }
return {policy, src: h.inserted[0].src, refused};
`, &ok)
	if ok.Policy != "cobrowse-proxy" || !ok.Refused {
		t.Errorf("policy %q, other URLs refused: %v", ok.Policy, ok.Refused)
	}
	if src, _ := ok.Src.(map[string]any); src["trusted"] != "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0" {
		t.Errorf("script.src = %v, want the policy's TrustedScriptURL for the SDK", ok.Src)
	}

	// The page's trusted-types directive does not list cobrowse-proxy but
	// Trusted Types are not enforced: the plain URL works.
	var lax struct {
		Src   any
		State string
	}
	runScenario(t, b, `
window.trustedTypes = { createPolicy() { throw new TypeError("Policy \"cobrowse-proxy\" disallowed."); } };
const cp = load();
await tick();
return {src: h.inserted[0] && h.inserted[0].src, state: cp.state};
`, &lax)
	if lax.Src != "https://us01-zcb.zoom.us/static/resource/sdk/KEY/js/3.6.0" || lax.State != "idle" {
		t.Errorf("policy refused, not enforced: %+v, want the plain URL loaded", lax)
	}

	// Refused and enforced (script.src refuses strings): "sdk", no throw.
	var denied struct {
		Ready    []map[string]any
		Inserted int
		Snap     snap
	}
	runScenario(t, b, snapshot+`
window.trustedTypes = { createPolicy() { throw new TypeError("Policy \"cobrowse-proxy\" disallowed."); } };
const make = document.createElement;
document.createElement = tag => {
  const e = make(tag);
  if (tag === "script") {
    Object.defineProperty(e, "src", { get() { return this._src; }, set(v) {
      if (typeof v === "string") throw new TypeError("This document requires 'TrustedScriptURL' assignment.");
      this._src = v; } });
  }
  return e;
};
const cp = load();
const ready = [];
cp.on("ready", r => ready.push(r));
await tick();
return {ready, inserted: h.inserted.length, snap: snap()};
`, &denied)
	if len(denied.Ready) != 1 || denied.Ready[0]["error"] != "sdk" || denied.Inserted != 0 || denied.Snap.State != "error" {
		t.Errorf("policy refused: %+v, want ready {success:false,error:sdk}, no script, state error", denied)
	}
}
