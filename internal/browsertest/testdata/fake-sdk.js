/* A fake ZoomCobrowseSDK for the browser tests, served by the HTTPS stub of
   the Zoom CDN at the real SDK path. It takes over the queued init stub as
   the real SDK does, records every call in window.__fakeZoom and emits the
   events docs/zoom.md lists. Session state lives in sessionStorage, so a reload
   finds a "session_recoverable" session like the real SDK would. */
(function (w) {
  "use strict";
  var KEY = "__fakeZoomSession";
  var rec = (w.__fakeZoom = {
    src: document.currentScript ? document.currentScript.src : "",
    initArgs: null, initCalls: 0, failNext: 0, starts: [], joins: 0, ends: 0, infoCalls: 0, handlers: {}
  });
  function emit(name, data) {
    (rec.handlers[name] || []).forEach(function (fn) { fn(data); });
  }
  rec.emit = emit;
  var session = {
    on: function (name, fn) { (rec.handlers[name] = rec.handlers[name] || []).push(fn); },
    start: function (opts) {
      rec.starts.push(JSON.parse(JSON.stringify(opts)));
      // __fakeZoom.failNext = code: this start fails as the real SDK
      // reports it, with a session_error event and no session.
      var fail = rec.failNext;
      rec.failNext = 0;
      if (fail) {
        return new Promise(function (resolve) {
          setTimeout(function () {
            emit("session_error", { code: fail });
            resolve();
          }, 20);
        });
      }
      var pin = (opts.customPinCode || "482913").toUpperCase();
      sessionStorage.setItem(KEY, pin);
      return new Promise(function (resolve) {
        setTimeout(function () {
          resolve();
          emit("session_started", {});
          emit("pincode_updated", { pincode: pin });
        }, 50);
      });
    },
    join: function () {
      rec.joins++;
      return new Promise(function (resolve) { setTimeout(resolve, 50); });
    },
    end: function () {
      rec.ends++;
      sessionStorage.removeItem(KEY);
      setTimeout(function () { emit("session_ended", {}); }, 10);
      return Promise.resolve();
    },
    getSessionInfo: function () {
      rec.infoCalls++;
      return { sessionStatus: sessionStorage.getItem(KEY) ? "session_recoverable" : "session_not_started" };
    }
  };
  var sdk = {
    init: function (settings, cb) {
      rec.initCalls++;
      rec.initArgs = JSON.parse(JSON.stringify(settings));
      setTimeout(function () { cb({ success: true, session: session }); }, 0);
    }
  };
  var queued = w.ZoomCobrowseSDKInitArgs;
  w.ZoomCobrowseSDK = sdk;
  if (queued) {
    sdk.init.apply(sdk, queued);
  }
})(window);
