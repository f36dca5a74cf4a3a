/* cobrowse-proxy masking audit: finds form fields that look sensitive and
   that the site's piiMask does not cover, and reports each one's kind and a
   short selector to {prefix}/mask-report, so the security team can add the
   rule that is missing (package maskaudit keeps and lists them). It never
   reads a field's value and never sends the page's query. bootstrap.js
   loads it on the page views sampled (masking.audit.sampleRate), iframes
   included; it reads the settings from window.CobrowseProxy.config.
   Work is bounded: input, select and textarea elements only, the first
   1000 per scan, after load and then at most once a second while the DOM
   changes. Fields inside shadow roots are not seen. */
(function (w, d) {
  "use strict";
  var api = w.CobrowseProxy;
  if (!api || api.audit || !d.querySelectorAll || !w.fetch) {
    return;
  }
  var a = (api.config && api.config.audit) || {};
  var mask = (api.config && api.config.settings && api.config.settings.piiMask) || {};
  if (!a.reportUrl || mask.maskType === "all_input") {
    return; // all_input masks every field: nothing to find
  }

  // [kind, autocomplete token, words]. The words are those of the field's
  // name, id, placeholder, aria-label, title and label text, lower-cased,
  // camelCase split, anything but letters and digits as one space
  // ("customer[ssn]" -> "customer ssn "). The first match wins, so the
  // order matters ("card number" before "account number"). The kinds are
  // maskaudit.Kinds; the proxy refuses any other.
  var AUDIT = [
    ["password", /^(current|new)-password$/, /\bpass ?(word|wd)\b|\bpwd\b/],
    ["card_number", /^cc-number$/, /\b(credit |debit )?(card|cc) ?(number|num|no|nr)\b|\bccn\b/],
    ["card_cvc", /^cc-csc$/, /\b(cvv|cvc|cvn|csc)2?\b|\bsecurity code\b|\bcard (verification|security)\b/],
    ["card_expiry", /^cc-exp(-month|-year)?$/, /\bexp(iry|iration|ires)?( date| month| year)?\b|\bmm ?yy\b/],
    ["one_time_code", /^one-time-code$/, /\b(otp|totp|2fa|mfa|one time (code|password|passcode|pin)|verification code|auth(entication)? code)\b/],
    ["ssn", 0, /\bssn\b|\bsocial (security|insurance)\b/],
    ["tax_id", 0, /\btax ?(id|identification|number|no)\b|\b(tin|itin|ein|vatin)\b|\bvat (id|number|no)\b|\bnational (id|identity|insurance)\b/],
    ["iban", 0, /\biban\b/],
    ["bank_account", 0, /\b(bank )?(account|acct) ?(number|num|no|nr)\b|\brouting\b|\bsort ?code\b|\b(aba|bic|swift)\b/],
    ["passport", 0, /\bpassport\b/],
    ["date_of_birth", /^bday(-day|-month|-year)?$/, /\b(date of birth|birth ?(date|day|month|year)|dob)\b/]
  ];
  var SKIP = /^(hidden|submit|button|reset|image|checkbox|radio|file|range|color)$/;

  // One invalid selector makes closest() throw for the whole list: keep
  // the valid ones (a naive split on commas, enough to drop the bad one).
  var valid = function (s) {
    try {
      d.documentElement.closest(s);
      return true;
    } catch (e) {
      return false;
    }
  };
  var sel = String(mask.maskCssSelectors || "");
  if (!valid(sel || "*")) {
    sel = sel.split(",").filter(valid).join(",");
  }
  // maskHTMLAttributes: "name" or "name=value", comma-separated.
  var attrs = String(mask.maskHTMLAttributes || "").split(",").map(function (s) {
    return s.trim().split("=");
  }).filter(function (p) { return p[0]; });

  // covered: the element or an ancestor matches a mask selector or has a
  // mask attribute.
  function covered(e) {
    if (sel && e.closest(sel)) {
      return true;
    }
    for (var p = e; p && p.getAttribute; p = p.parentElement) {
      for (var i = 0; i < attrs.length; i++) {
        var v = p.getAttribute(attrs[i][0]);
        if (v !== null && (attrs[i].length < 2 || v === attrs[i][1])) {
          return true;
        }
      }
    }
    return false;
  }

  // classify returns the field's kind, or "". Attributes are read with
  // getAttribute (e.id and e.name can be clobbered by named children).
  function classify(e, forText) {
    var at = function (n) { return e.getAttribute(n) || ""; };
    var type = at("type").toLowerCase();
    if (type === "password") {
      return "password";
    }
    if (SKIP.test(type)) {
      return "";
    }
    var ac = at("autocomplete").toLowerCase().split(/\s+/);
    var wrap = e.closest("label");
    var label = (at("id") && forText[at("id")]) || (wrap ? wrap.textContent.slice(0, 100) : "");
    var text = " " + [at("name"), at("id"), at("placeholder"), at("aria-label"), at("title"), label].join(" ")
      .replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase().replace(/[^a-z0-9]+/g, " ");
    for (var i = 0; i < AUDIT.length; i++) {
      var r = AUDIT[i];
      if ((r[1] && ac.some(function (t) { return r[1].test(t); })) || r[2].test(text)) {
        return r[0];
      }
    }
    return "";
  }

  // selectorFor: "#id" unless the id looks generated (three digits in a
  // row, or a colon as in React's ":r1:"); else the tag with its name (or
  // aria-label, placeholder, type) after the form's "form#id". "" when it
  // would be over 200 characters or hold a control character.
  function selectorFor(e) {
    var q = function (n) {
      var v = e.getAttribute(n);
      return v ? "[" + n + '="' + v.replace(/["\\]/g, "\\$&") + '"]' : "";
    };
    var id = e.getAttribute("id") || "";
    var s;
    if (id && !/\d{3}|:/.test(id)) {
      s = "#" + CSS.escape(id);
    } else {
      var f = e.closest("form");
      var fid = f && f.getAttribute("id");
      s = (fid && !/\d{3}|:/.test(fid) ? "form#" + CSS.escape(fid) + " " : "") +
        e.tagName.toLowerCase() + (q("name") || q("aria-label") || q("placeholder") || q("type"));
    }
    return s.length <= 200 && !/[\x00-\x1f\x7f]/.test(s) ? s : "";
  }

  // find lists the sensitive fields no mask covers, each (kind, selector)
  // once: [{kind, selector}].
  function find() {
    var out = [];
    var seen = {};
    // Label texts by their for= (e.labels costs Chromium a walk of the
    // document per field the first time: 70 ms for 500 fields).
    var forText = Object.create(null);
    var ls = d.querySelectorAll("label[for]");
    for (var j = 0; j < ls.length && j < 1000; j++) {
      var k = ls[j].getAttribute("for");
      forText[k] = forText[k] || ls[j].textContent.slice(0, 100);
    }
    var els = d.querySelectorAll("input,select,textarea");
    for (var i = 0; i < els.length && i < 1000; i++) {
      var kind = classify(els[i], forText);
      var s = kind && !covered(els[i]) && selectorFor(els[i]);
      if (s && !seen[kind + " " + s]) {
        seen[kind + " " + s] = 1;
        out.push({ kind: kind, selector: s });
      }
    }
    return out;
  }

  var sent = {}; // each (kind, selector) is reported once per page view
  var timer = 0;

  function run() {
    timer = 0;
    var f = [];
    try {
      f = find().filter(function (x) {
        var k = x.kind + " " + x.selector;
        return !sent[k] && (sent[k] = 1);
      });
    } catch (e) {}
    for (var i = 0; i < f.length; i += 20) { // maskaudit.MaxFields
      w.fetch(a.reportUrl, {
        method: "POST",
        keepalive: true,
        credentials: "same-origin",
        cache: "no-store",
        referrerPolicy: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ path: w.location.pathname.slice(0, 256), fields: f.slice(i, i + 20) })
      }).catch(function () {});
    }
  }

  // A throttle, not a debounce: a page that never stops changing is still
  // scanned once a second; the scan itself waits for an idle moment.
  var idle = w.requestIdleCallback || function (f) { return setTimeout(f, 0); };
  function later() {
    timer = timer || setTimeout(function () { idle(run, { timeout: 1000 }); }, 1000);
  }
  if (d.readyState === "complete") {
    later();
  } else {
    w.addEventListener("load", later);
  }
  if (w.MutationObserver) {
    new MutationObserver(later).observe(d.documentElement, { childList: true, subtree: true });
  }
  // For tests and for the curious: CobrowseProxy.audit.find() lists what
  // the next scan would report.
  api.audit = { find: find };
})(window, document);
