/* cobrowse-proxy bootstrap: loads the Zoom Cobrowse SDK with this site's
   settings. Served by cobrowse-proxy at {prefix}/bootstrap.js; no inline
   script is needed, so it runs under a strict Content-Security-Policy. */
(function (w, d) {
  "use strict";
  if (w.CobrowseProxy) {
    return; // loaded twice (the page also includes it): keep the first
  }
  var cfg = __CONFIG__;
  var api = (w.CobrowseProxy = {
    config: cfg,
    ready: false,
    session: null,
    error: null
  });
  var self = d.currentScript;

  // The official loader's queued-init stub: the real SDK picks up the
  // arguments of an init call made before it arrived.
  w.ZoomCobrowseSDK = w.ZoomCobrowseSDK || {
    init: function () {
      w.ZoomCobrowseSDKInitArgs = arguments;
    }
  };

  var s = d.createElement("script");
  s.src = cfg.sdkUrl;
  s.async = false;
  if (self && self.nonce) {
    s.nonce = self.nonce; // a nonce-based CSP must allow the SDK too
  }
  var first = d.getElementsByTagName("script")[0];
  if (first && first.parentNode) {
    first.parentNode.insertBefore(s, first);
  } else {
    (d.head || d.documentElement).appendChild(s);
  }

  w.ZoomCobrowseSDK.init(cfg.settings, function (res) {
    api.ready = !!(res && res.success);
    api.session = (res && res.session) || null;
    api.error = (res && res.error) || null;
    d.dispatchEvent(new CustomEvent("cobrowse-proxy:ready", { detail: res }));
  });
})(window, document);
