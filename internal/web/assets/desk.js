// Agent desk: obtain an agent token from the proxy, then open Zoom's desk.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  var status = document.getElementById("status");
  fetch(root.dataset.tokenUrl, {
    method: "POST",
    credentials: "same-origin",
    referrerPolicy: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role: 2 })
  })
    .then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) {
          var e = (body.errors && body.errors[0]) || {};
          throw new Error(e.reason || "HTTP " + res.status);
        }
        return body;
      });
    })
    .then(function (body) {
      var frame = document.createElement("iframe");
      frame.title = "Zoom Cobrowse agent desk";
      frame.setAttribute("allow", root.dataset.allow);
      frame.src = root.dataset.deskUrl + encodeURIComponent(body.token);
      root.appendChild(frame);
      status.textContent = "Enter the customer's PIN in the desk below.";
    })
    .catch(function (err) {
      status.textContent = "Could not get an agent token: " + err.message;
      status.className = "error";
    });
})();
