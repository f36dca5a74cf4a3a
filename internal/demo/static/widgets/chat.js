// Acme support chat mock: replies locally with canned answers. Nothing is
// sent anywhere; the point is a live document inside a cross-origin iframe.
(function () {
  "use strict";

  var replies = [
    "Thanks! Let me look that up for you.",
    "Good news: that item is in stock and ships tomorrow.",
    "I've added a note to your order. Anything else?",
    "Happy trails! 🏕"
  ];

  function init() {
    var form = document.getElementById("composer");
    var text = document.getElementById("text");
    var order = document.getElementById("order");
    var list = document.getElementById("messages");
    if (!form || !text || !list) return;
    var next = 0;

    function say(who, msg) {
      var li = document.createElement("li");
      li.className = "msg " + who;
      li.textContent = msg;
      list.appendChild(li);
      list.scrollTop = list.scrollHeight;
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var msg = text.value.trim();
      if (!msg) return;
      if (order && order.value.trim()) msg = "[order " + order.value.trim() + "] " + msg;
      say("me", msg);
      text.value = "";
      var reply = replies[next % replies.length];
      next++;
      setTimeout(function () { say("them", reply); }, 600);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
