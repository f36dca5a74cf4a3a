/* cobrowse-proxy bootstrap: loads the Zoom Cobrowse SDK with this site's
   settings and draws the "get help" widget. Served by cobrowse-proxy at
   {prefix}/bootstrap.js; it needs no inline script or style, so it runs
   under a strict Content-Security-Policy, and it builds the widget with
   createElement/textContent, never from HTML strings. The iframe variant
   (?frame=1) loads the SDK only.
   One global: window.CobrowseProxy. */
(function (w, d) {
  "use strict";
  if (w.CobrowseProxy) {
    return; // loaded twice (the page also includes it): keep the first
  }
  var cfg = __CONFIG__;
  var self = d.currentScript;
  var nonce = (self && self.nonce) || "";
  var frame = false;
  try {
    frame = new URL(self.src, d.baseURI).searchParams.get("frame") === "1";
  } catch (e) {}
  var widgetCfg = cfg.widget || {};

  var PIN_KEY = "cobrowse-proxy:pin";
  var EVENTS = ["pincode_updated", "session_started", "session_ended", "agent_joined", "agent_left",
    "session_error", "session_reconnecting", "remote_assist_started", "remote_assist_stopped"];
  // docs/zoom.md's error codes as sentences a customer can act on.
  var MESSAGES = {
    1001: "The support session could not start. Check your connection and try again.",
    1002: "A support session is already starting. Please wait a moment.",
    1004: "A support session is already open for this site in another tab. End it there first.",
    1006: "That support PIN was not found.",
    1008: "That support PIN is not valid.",
    1009: "A support PIN is needed to start.",
    1010: "That support PIN is already in use.",
    1011: "The support session could not be resumed. Please start a new one.",
    1012: "Someone else is already sharing in this session.",
    1013: "This session already has as many agents as it can take.",
    1015: "You are already in this session in another window.",
    1016: "Network problem: check your connection and try again.",
    1017: "The session is ending. Please wait a moment.",
    2001: "The support session could not be authorised. Reload the page and try again.",
    403: "Support sessions cannot be started from this page.",
    429: "Too many attempts. Please wait a minute and try again.",
    503: "Support sessions are unavailable right now. Please try again later.",
    sdk: "Support sessions could not load on this page. Please try again later.",
    frame: "Start the support session from the main page.",
    9999: "Something went wrong. Please try again."
  };
  var STATUS = {
    starting: "Starting a support session\u2026",
    waiting: "Waiting for the agent. Tell them this PIN.",
    joined: "An agent is now viewing this page.",
    left: "The agent left. They can rejoin with the same PIN.",
    reconnecting: "Reconnecting\u2026",
    resumed: "Support session resumed.",
    assist: "The agent can now scroll this page.",
    ending: "Ending the session\u2026",
    ended: "The support session has ended."
  };

  // Codes with which a start or a rejoin failed: no session is running.
  var START_FAILED = [1001, 1004, 1009, 1010, 1011, 2001];

  var listeners = {};
  var readyResult = null;
  var readyWaiters = [];
  var starting = null; // start()'s promise while it runs
  var recovering = null; // recover()'s promise
  var pending = null; // session.start()'s promise
  var gen = 0; // bumped by end() and failed starts: a start in flight of an older generation stops
  var started = false; // session_started or pincode_updated seen for this session
  var ended = false; // the customer chose to end: late start events are ignored
  var widget = null;

  var api = (w.CobrowseProxy = {
    config: cfg,
    frame: frame,
    ready: false,
    session: null,
    error: null,
    state: "idle", // idle starting waiting joined left reconnecting resumed assist ending ended error
    active: false, // a session is started or being resumed
    pin: "",
    message: "",
    on: on,
    off: off,
    start: start,
    end: end
  });

  // on(name, fn) subscribes to an SDK event (pincode_updated, agent_joined,
  // ...) or to "ready", "state" and "error"; it returns an unsubscribe
  // function. "ready" also fires for late subscribers.
  function on(name, fn) {
    if (typeof fn !== "function") {
      return function () {};
    }
    (listeners[name] = listeners[name] || []).push(fn);
    if (name === "ready" && readyResult) {
      setTimeout(function () { call(fn, readyResult); }, 0);
    }
    return function () { off(name, fn); };
  }

  function off(name, fn) {
    var l = listeners[name] || [];
    var i = l.indexOf(fn);
    if (i >= 0) {
      l.splice(i, 1);
    }
  }

  function call(fn, data) {
    try {
      fn(data);
    } catch (e) {
      setTimeout(function () { throw e; }, 0); // report, but keep going
    }
  }

  function emit(name, data) {
    (listeners[name] || []).slice().forEach(function (fn) { call(fn, data); });
  }

  function store(pin) {
    try {
      if (pin) {
        w.sessionStorage.setItem(PIN_KEY, pin);
      } else {
        w.sessionStorage.removeItem(PIN_KEY);
      }
    } catch (e) {} // storage blocked: the PIN is just not restored
  }

  function stored() {
    try {
      return w.sessionStorage.getItem(PIN_KEY) || "";
    } catch (e) {
      return "";
    }
  }

  function setState(state, message) {
    api.state = state;
    api.message = message || STATUS[state] || "";
    emit("state", { state: state, pin: api.pin, message: api.message });
    if (widget) {
      widget.render();
    }
  }

  function failure(code, message) {
    var err = new Error(message || MESSAGES[code] || MESSAGES[9999]);
    err.code = code;
    return err;
  }

  // fail shows err (an Error made by failure, or an SDK error object with
  // a code) as a human message and returns it as an Error with .code.
  function fail(err) {
    var e = err;
    if (!(err instanceof Error && err.code !== undefined)) {
      var code = (err && (err.code || err.errorCode)) || 9999;
      e = failure(code in MESSAGES ? code : 9999);
      e.code = code; // kept for support, never shown
    }
    api.error = e;
    setState("error", e.message);
    emit("error", { code: e.code, message: e.message });
    return e;
  }

  // --- Loading the SDK ---------------------------------------------------

  // The official loader's queued-init stub: the real SDK picks up the
  // arguments of an init call made before it arrived.
  w.ZoomCobrowseSDK = w.ZoomCobrowseSDK || {
    init: function () {
      w.ZoomCobrowseSDKInitArgs = arguments;
    }
  };

  // sdkFailed settles "ready" as {success: false, error: "sdk"} when the
  // SDK cannot load (network, CSP, Trusted Types) or does not call back in
  // time, so API users waiting for "ready" do not hang.
  function sdkFailed() {
    if (readyResult) {
      return;
    }
    readyResult = { success: false, error: "sdk" };
    announceReady();
    fail(failure("sdk"));
  }

  function announceReady() {
    if (typeof CustomEvent === "function" && d.dispatchEvent) {
      d.dispatchEvent(new CustomEvent("cobrowse-proxy:ready", { detail: readyResult }));
    }
    emit("ready", readyResult);
    var waiters = readyWaiters;
    readyWaiters = [];
    waiters.forEach(function (fn) { fn(); });
  }

  // Under CSP require-trusted-types-for 'script', script.src takes only a
  // TrustedScriptURL: a policy named "cobrowse-proxy" makes one, for the
  // SDK's and the masking audit's URLs and nothing else. The proxy's CSP
  // merge adds the name to a trusted-types allow-list; where it is still
  // refused (csp.mode off, a policy set elsewhere) createPolicy throws, the
  // plain URL is tried (fine unless Trusted Types are enforced), and else
  // we report "sdk".
  var tt = null;
  try {
    tt = w.trustedTypes.createPolicy("cobrowse-proxy", {
      createScriptURL: function (u) {
        if (u !== cfg.sdkUrl && u !== (cfg.audit || {}).scriptUrl) {
          throw new TypeError("cobrowse-proxy: not the SDK URL");
        }
        return u;
      }
    });
  } catch (e) {} // no Trusted Types, or the name is not allowed

  // addScript inserts a script before the page's first one, in order
  // (async false), with our nonce, which a nonce-based CSP must allow.
  function addScript(url, onerror) {
    var s = d.createElement("script");
    s.src = tt ? tt.createScriptURL(url) : url;
    s.async = false;
    if (nonce) {
      s.nonce = nonce;
    }
    s.onerror = onerror || null;
    var first = d.getElementsByTagName("script")[0];
    if (first && first.parentNode) {
      first.parentNode.insertBefore(s, first);
    } else {
      (d.head || d.documentElement).appendChild(s);
    }
  }

  var loadTimer = setTimeout(sdkFailed, 20000);
  try {
    addScript(cfg.sdkUrl, sdkFailed);
  } catch (e) {
    setTimeout(sdkFailed, 0); // after the widget is drawn
  }

  w.ZoomCobrowseSDK.init(cfg.settings, function (res) {
    clearTimeout(loadTimer);
    if (readyResult && api.state === "error" && api.error && api.error.code === "sdk") {
      setState("idle"); // late, after the timeout: usable after all
    }
    api.ready = !!(res && res.success);
    api.session = (res && res.session) || null;
    api.error = (res && res.error) || null;
    readyResult = res || {};
    var session = api.session;
    if (session && typeof session.on === "function") {
      EVENTS.forEach(function (name) {
        session.on(name, function (data) {
          onSessionEvent(name, data || {});
          emit(name, data);
        });
      });
    }
    if (!frame) {
      recovering = recover(); // before start() waiting for "ready" goes on
    }
    announceReady();
  });

  // whenReady resolves with the session once init has called back, after
  // any recovery it began.
  function whenReady() {
    return new Promise(function (resolve, reject) {
      function check() {
        if (api.ready && api.session) {
          resolve(Promise.resolve(recovering).then(function () { return api.session; }));
        } else {
          reject(failure("sdk"));
        }
      }
      if (readyResult) {
        check();
      } else {
        readyWaiters.push(check);
      }
    });
  }

  // --- The session -------------------------------------------------------

  function onSessionEvent(name, data) {
    switch (name) {
      case "pincode_updated":
        if (data.pincode && !ended) {
          var st = api.state;
          var firstPin = !api.pin;
          started = api.active = true;
          api.pin = String(data.pincode);
          store(api.pin);
          // Only a new session's first PIN opens the panel; later PINs (on
          // a rejoin, reconnect, ...) keep the state and a closed panel.
          if (st === "starting" || st === "idle" || (st === "waiting" && firstPin)) {
            setState("waiting");
            if (widget) {
              widget.open(false);
            }
          } else if (widget) {
            widget.render();
          }
        }
        break;
      case "session_started":
        if (!ended) {
          started = api.active = true;
          if (api.state === "starting") {
            setState("waiting");
          }
        }
        break;
      case "agent_joined":
        setState("joined");
        break;
      case "agent_left":
        setState("left");
        break;
      case "session_reconnecting":
        setState("reconnecting");
        break;
      case "remote_assist_started":
        setState("assist");
        break;
      case "remote_assist_stopped":
        setState("joined");
        break;
      case "session_ended":
        reset();
        setState("ended");
        break;
      case "session_error":
        // A start or rejoin that failed leaves no session: back to a state
        // where start() (and the widget's "Try again") works again.
        if (!started || START_FAILED.indexOf(+(data.code || data.errorCode)) >= 0) {
          reset();
        }
        fail(data);
        break;
    }
  }

  // reset forgets the session and stops any start in flight.
  function reset() {
    gen++;
    starting = null;
    started = api.active = false;
    api.pin = "";
    store("");
  }

  function fetchToken() {
    return w.fetch(cfg.prefix + "/token", {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      // A page under "Referrer-Policy: no-referrer" would send Origin: null,
      // which the token endpoint cannot tell from a sandboxed document's.
      referrerPolicy: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ role: 1 })
    }).then(function (res) {
      if (!res.ok) {
        throw failure(res.status in MESSAGES ? res.status : 9999);
      }
      return res.json();
    }, function () {
      throw failure(1016);
    }).then(function (body) {
      if (!body || typeof body.token !== "string") {
        throw failure(9999);
      }
      return body;
    });
  }

  // start fetches a customer token and starts a session. It resolves when
  // the SDK accepted the start; the PIN follows as pincode_updated.
  function start() {
    if (frame) {
      return Promise.reject(failure("frame"));
    }
    if (starting) {
      return starting;
    }
    if (api.active) {
      return Promise.resolve();
    }
    var g = ++gen;
    // Stops this start if end() was called or a session_error reset it.
    var check = function () {
      if (g !== gen) {
        throw failure("cancelled", "The start was cancelled.");
      }
    };
    ended = false;
    api.error = null;
    setState("starting");
    if (widget) {
      widget.open(false);
    }
    var p = starting = whenReady().then(function (session) {
      check();
      if (api.active) {
        return; // recovery rejoined the session: no second one
      }
      return fetchToken().then(function (t) {
        check();
        var opts = { sdkToken: t.token };
        if (t.pinCode) {
          opts.customPinCode = t.pinCode; // bring your own PIN
        }
        api.active = true;
        return (pending = Promise.resolve(session.start(opts)));
      });
    }).then(function () {
      if (starting === p) {
        starting = null;
      }
    }, function (err) {
      if (g !== gen) {
        throw err.code === "cancelled" ? err : failure("cancelled", "The start was cancelled.");
      }
      starting = null;
      api.active = false;
      throw fail(err);
    });
    return p;
  }

  // end ends the session (session.end()); session_ended follows. During a
  // start it cancels the start: before session.start() nothing reaches the
  // SDK; after, session.end() waits until session.start() settled (10 s at
  // most), so the page is not left shared.
  function end() {
    var session = api.session;
    var live = api.active;
    var wait = pending;
    reset();
    ended = true;
    if (!live || !session || typeof session.end !== "function") {
      setState("ended");
      return Promise.resolve();
    }
    setState("ending");
    return Promise.race([
      Promise.resolve(wait).catch(function () {}),
      new Promise(function (r) { setTimeout(r, 10000); })
    ]).then(function () {
      return session.end();
    }).then(function () {
      if (api.state === "ending") {
        setState("ended");
      }
    }, function (err) {
      throw fail(err);
    });
  }

  // recover rejoins a session that survived a reload or navigation
  // (docs/zoom.md: within about two minutes), keeping the PIN on screen.
  function recover() {
    var session = api.session;
    if (!session || typeof session.getSessionInfo !== "function") {
      return null;
    }
    var g = gen;
    return Promise.resolve().then(function () {
      return session.getSessionInfo();
    }).then(function (info) {
      if (!info || info.sessionStatus !== "session_recoverable") {
        if (!api.active) {
          store("");
        }
        return;
      }
      if (g !== gen) {
        return; // end() was called meanwhile
      }
      api.active = true;
      api.pin = stored();
      setState("reconnecting");
      whenBody(function () {
        if (widget) {
          widget.open(false);
        }
      });
      return Promise.resolve(session.join()).then(function () {
        started = api.active;
        if (api.state === "reconnecting") {
          setState("resumed");
        }
      });
    }).catch(function (err) {
      reset();
      fail(err && (err.code || err.errorCode) ? err : failure(1011));
    });
  }

  // The masking audit (assets/audit.js, see package maskaudit) is a script
  // of its own, loaded only on the page views sampled; it runs in iframes
  // too.
  var audit = cfg.audit || {};
  if (audit.enabled && audit.scriptUrl && Math.random() < audit.sampleRate) {
    try {
      addScript(audit.scriptUrl);
    } catch (e) {}
  }

  if (frame) {
    return; // the iframe variant: loader only
  }

  // --- Declarative API ---------------------------------------------------

  function quiet(p) {
    if (p && p.catch) {
      p.catch(function () {}); // shown in the widget and as "error"
    }
  }

  if (d.addEventListener) {
    d.addEventListener("click", function (e) {
      var t = e.target;
      if (!t || !t.closest) {
        return;
      }
      if (t.closest("[data-cobrowse-start]")) {
        e.preventDefault();
        quiet(start());
      } else if (t.closest("[data-cobrowse-end]")) {
        e.preventDefault();
        quiet(end());
      }
    });
  }

  function whenBody(fn) {
    if (d.body) {
      fn();
    } else if (d.addEventListener) {
      d.addEventListener("DOMContentLoaded", function () { fn(); });
    }
  }

  // --- The widget ------------------------------------------------------------

  // Styles go into the widget's shadow root as a constructed stylesheet
  // (adoptedStyleSheets): CSP's style-src does not govern CSSOM, so no
  // 'unsafe-inline', nonce or extra request is needed, and the page's CSS
  // and ours cannot touch each other. Colours can be set from the page with
  // --cobrowse-accent and --cobrowse-accent-text.
  var CSS = [
    ":host{all:initial!important;display:block!important}",
    ".root{position:fixed;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;gap:10px;",
    "font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;max-width:calc(100vw - 32px)}",
    ".bottom{bottom:20px;flex-direction:column-reverse}.top{top:20px}.right{right:20px}",
    ".left{left:20px;align-items:flex-start}",
    "button{font:inherit;cursor:pointer;border-radius:8px;border:1px solid #c4cad6;background:#fff;color:inherit;padding:8px 14px}",
    "button:focus-visible{outline:3px solid #0b5cff;outline-offset:2px}",
    ".primary,.launcher{background:var(--cobrowse-accent,#0b5cff);border-color:transparent;color:var(--cobrowse-accent-text,#fff);font-weight:600}",
    ".launcher{border-radius:999px;padding:12px 20px;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".launcher.live::before{content:'';display:inline-block;width:9px;height:9px;margin-right:8px;border-radius:50%;background:#2ecc71}",
    ".danger{border-color:#c62828;color:#c62828}",
    ".panel{box-sizing:border-box;width:320px;max-width:100%;background:#fff;border-radius:12px;padding:16px 18px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.25)}",
    "[hidden]{display:none!important}",
    ".head{display:flex;justify-content:space-between;align-items:center;margin-bottom:8px}",
    "h2{font-size:16px;margin:0;outline:none}",
    ".close{border:none;font-size:20px;line-height:1;padding:4px 8px}",
    "p{margin:0 0 12px}",
    ".actions{display:flex;gap:8px;flex-wrap:wrap}",
    ".pinlabel{margin:0;font-size:13px;color:#4a5263}",
    ".pinrow{display:flex;align-items:center;gap:10px;margin:2px 0 12px}",
    ".pin{font:700 34px/1.1 ui-monospace,'SF Mono',Menlo,Consolas,monospace;letter-spacing:.12em;user-select:all}",
    ".msg.error{color:#c62828}",
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);border:0}",
    "@media (prefers-color-scheme:dark){.panel,button{background:#1f2430;color:#eef1f6;border-color:#465066}",
    ".pinlabel{color:#b8bfcc}.danger,.msg.error{color:#ff8a80}}"
  ].join("");

  function el(tag, cls, text, attrs) {
    var e = d.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text) {
      e.textContent = text;
    }
    for (var k in attrs || {}) {
      e.setAttribute(k, attrs[k]);
    }
    return e;
  }

  function applyStyles(root) {
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
        return;
      } catch (e) {}
    }
    // Older browsers: a <style> with the script's nonce, which a policy
    // allows if its style-src has the same nonce, 'unsafe-inline' or none.
    var st = el("style", "", CSS);
    if (nonce) {
      st.nonce = nonce;
    }
    root.appendChild(st);
  }

  function Widget() {
    var pos = String(widgetCfg.position || "bottom-right").split("-");
    // The host carries the mask class that bootstrap's settings add to
    // piiMask.maskCssSelectors, so the agent does not see the widget.
    var host = el("div", widgetCfg.maskClass || "cobrowse-proxy-widget", "", { "data-cobrowse-proxy": "widget" });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    applyStyles(root);

    var box = el("div", "root " + pos.join(" "));
    var launcher = el("button", "launcher", widgetCfg.label || "Get help", {
      type: "button", "aria-expanded": "false", "aria-controls": "cbp-panel", part: "launcher"
    });
    var panel = el("section", "panel", "", { id: "cbp-panel", role: "dialog", "aria-labelledby": "cbp-title", part: "panel" });
    panel.hidden = true;
    var head = el("div", "head");
    var title = el("h2", "", "Live support", { id: "cbp-title", tabindex: "-1" });
    var close = el("button", "close", "\u00d7", { type: "button", "aria-label": "Close" });
    head.appendChild(title);
    head.appendChild(close);

    var consent = el("div", "consent");
    consent.appendChild(el("p", "", "A support agent will see this page. Fields marked private are hidden."));
    var acts = el("div", "actions");
    var startBtn = el("button", "primary start", "Share this page", { type: "button" });
    var cancel = el("button", "cancel", "Not now", { type: "button" });
    acts.appendChild(startBtn);
    acts.appendChild(cancel);
    consent.appendChild(acts);

    var sess = el("div", "session");
    var pinBox = el("div", "pinbox");
    pinBox.appendChild(el("p", "pinlabel", "Your support PIN", { id: "cbp-pinlabel" }));
    var pinRow = el("div", "pinrow");
    // A plain element: <output> is an implicit live region, and the PIN is
    // already read out by the one live region below.
    var pin = el("div", "pin");
    var copy = el("button", "copy", "Copy", { type: "button", "aria-label": "Copy PIN" });
    pinRow.appendChild(pin);
    pinRow.appendChild(copy);
    pinBox.appendChild(pinRow);
    var msg = el("p", "msg");
    var sacts = el("div", "actions");
    var endBtn = el("button", "danger end", "End session", { type: "button" });
    var retry = el("button", "primary retry", "Try again", { type: "button" });
    var done = el("button", "done", "Close", { type: "button" });
    sacts.appendChild(endBtn);
    sacts.appendChild(retry);
    sacts.appendChild(done);
    sess.appendChild(pinBox);
    sess.appendChild(msg);
    sess.appendChild(sacts);

    panel.appendChild(head);
    panel.appendChild(consent);
    panel.appendChild(sess);
    // One polite live region, always in the tree (hidden ones are not
    // read out), for the PIN and every status change.
    var live = el("div", "sr", "", { role: "status", "aria-live": "polite", "aria-atomic": "true" });
    box.appendChild(launcher);
    box.appendChild(panel);
    root.appendChild(box);
    root.appendChild(live);

    function say(text) {
      live.textContent = text;
    }
    var saidPin = "";
    var saidMsg = "";

    function open(focus) {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      render();
      if (focus) {
        var b = consent.hidden ? title : startBtn;
        b.focus();
      }
    }

    function shut() {
      var wasOpen = !panel.hidden;
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      if (api.state === "ended" || (api.state === "error" && !api.active)) {
        setState("idle");
      }
      if (wasOpen) {
        launcher.focus();
      }
    }

    function render() {
      var st = api.state;
      var inSession = st !== "idle";
      var focusLost = root.activeElement && (consent.contains(root.activeElement) && inSession);
      consent.hidden = inSession;
      sess.hidden = !inSession;
      pin.textContent = api.pin;
      pinBox.hidden = !api.pin || st === "ended" || st === "ending";
      msg.textContent = api.message;
      msg.className = "msg" + (st === "error" ? " error" : "");
      if (st === "error" && api.error) {
        msg.setAttribute("data-code", String(api.error.code)); // for support staff
      } else {
        msg.removeAttribute("data-code");
      }
      endBtn.hidden = !api.active;
      retry.hidden = !(st === "error" && !api.active) || (api.error && api.error.code === "sdk");
      done.hidden = api.active;
      launcher.className = "launcher" + (api.active ? " live" : "");
      box.setAttribute("data-state", st);
      if (focusLost) {
        title.focus();
      }
      // Read out only what changed: a new PIN (with the status) or a new
      // status; re-renders and copy feedback do not repeat the PIN.
      var p = pinBox.hidden ? "" : api.pin;
      if (!inSession) {
        saidPin = saidMsg = "";
      } else if (p !== saidPin || api.message !== saidMsg) {
        say(p && (p !== saidPin || st === "waiting" || st === "resumed") ?
          "Your support PIN is " + p.split("").join(" ") + ". " + api.message : api.message);
        saidPin = p;
        saidMsg = api.message;
      }
    }

    launcher.addEventListener("click", function () {
      if (panel.hidden) {
        open(true);
      } else {
        shut();
      }
    });
    close.addEventListener("click", shut);
    cancel.addEventListener("click", shut);
    done.addEventListener("click", shut);
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        e.stopPropagation();
        shut();
      }
    });
    startBtn.addEventListener("click", function () { quiet(start()); });
    retry.addEventListener("click", function () { quiet(start()); });
    endBtn.addEventListener("click", function () { quiet(end()); });
    copy.addEventListener("click", function () {
      var text = api.pin;
      var ok = function () {
        copy.textContent = "Copied";
        say("PIN copied.");
        setTimeout(function () { copy.textContent = "Copy"; }, 2000);
      };
      var manual = function () {
        var sel = w.getSelection && w.getSelection();
        if (sel && d.createRange) {
          var r = d.createRange();
          r.selectNodeContents(pin);
          sel.removeAllRanges();
          sel.addRange(r);
        }
        say("Press Control C or Command C to copy the PIN.");
      };
      if (w.navigator.clipboard && w.navigator.clipboard.writeText) {
        w.navigator.clipboard.writeText(text).then(ok, manual);
      } else {
        manual();
      }
    });

    // Turbo Drive and hx-boost replace <body> (or its content), taking the
    // widget with them. attach puts it back. It runs when <html>'s children
    // change (a body swap; childList only, no subtree, so the page's own DOM
    // work costs nothing), on turbo:load / htmx:afterSwap, and on each
    // pointer or key press, which catches any other swap before the
    // customer can reach for the widget.
    function attach() {
      if (!host.isConnected && d.body) {
        // Turbo's snapshots clone the body, widget host included but
        // without its shadow root: drop such dead copies.
        var old = d.querySelectorAll ? d.querySelectorAll("[data-cobrowse-proxy=widget]") : [];
        for (var i = 0; i < old.length; i++) {
          old[i].remove();
        }
        d.body.appendChild(host);
      }
    }
    whenBody(attach);
    if (w.MutationObserver) {
      new MutationObserver(function () {
        if (d.readyState !== "loading") {
          attach(); // not while the parser adds <body>: whenBody does that
        }
      }).observe(d.documentElement, { childList: true });
    }
    ["turbo:load", "htmx:afterSwap", "pointerdown", "keydown"].forEach(function (n) {
      d.addEventListener(n, attach, true);
    });
    render();
    return { open: open, render: render, host: host };
  }

  if (widgetCfg.enabled) {
    widget = Widget();
  }
})(window, document);
