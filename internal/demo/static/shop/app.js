// Acme Outdoor Shop: the demo's only script. Each part wires itself to the
// elements of its page and does nothing elsewhere. There is no inline script
// anywhere in the shop, so it also works under a strict Content-Security-Policy.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function addLine(list, text) {
    var li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  function setStatus(el, text, cls) {
    el.textContent = text;
    el.className = "status" + (cls ? " " + cls : "");
  }

  // Home: "Load reviews" fetches an htmx-style fragment and inserts it.
  function reviews() {
    var button = $("load-reviews");
    var target = $("reviews");
    if (!button || !target) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      fetch("/fragment", { headers: { "HX-Request": "true" } })
        .then(function (res) {
          if (!res.ok) throw new Error("HTTP " + res.status);
          return res.text();
        })
        .then(function (html) {
          target.innerHTML = html;
          button.hidden = true;
        })
        .catch(function (err) {
          target.textContent = "Could not load reviews: " + err.message;
          button.disabled = false;
        });
    });
  }

  // Live: server-sent events from /events.
  function events() {
    var status = $("sse-status");
    var log = $("sse-log");
    if (!status || !log || !window.EventSource) return;
    var source = new EventSource("/events");
    source.onopen = function () { setStatus(status, "Connected", "ok"); };
    source.onmessage = function (e) {
      try {
        var d = JSON.parse(e.data);
        addLine(log, "#" + d.n + " at " + d.time);
      } catch (_) {
        addLine(log, e.data);
      }
    };
    source.addEventListener("done", function () {
      source.close();
      setStatus(status, "Stream finished (reload to start again)");
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) setStatus(status, "Disconnected", "err");
      else setStatus(status, "Reconnecting…", "err");
    };
  }

  // Live: websocket echo on /ws.
  function echo() {
    var status = $("ws-status");
    var form = $("ws-form");
    var input = $("ws-input");
    var log = $("ws-log");
    if (!status || !form || !input || !log || !window.WebSocket) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws");
    ws.onopen = function () { setStatus(status, "Connected", "ok"); };
    ws.onmessage = function (e) { addLine(log, "← " + e.data); };
    ws.onclose = function () { setStatus(status, "Closed (reload to reconnect)", "err"); };
    ws.onerror = function () { setStatus(status, "Connection failed", "err"); };
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text || ws.readyState !== WebSocket.OPEN) return;
      ws.send(text);
      addLine(log, "→ " + text);
      input.value = "";
    });
  }

  function init() {
    reviews();
    events();
    echo();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
