// Live refresh and log follow for the dashboard. Every page works without this script: it only
// replaces the page's live regions in place (no full reload, so focus and open logs stay) and
// follows running stages' logs through their Server-Sent Events stream.
(function () {
  "use strict";
  var MAX_LINES = 5000;

  function addLine(pre, text, failing) {
    var span = document.createElement("span");
    span.className = failing && failing.test(text) ? "line failing" : "line";
    span.textContent = text;
    pre.appendChild(span);
    pre.appendChild(document.createTextNode("\n"));
    while (pre.childNodes.length > 2 * MAX_LINES) {
      pre.removeChild(pre.firstChild);
    }
  }

  function follow(pre) {
    var failing = new RegExp(pre.getAttribute("data-failing") || "$^", "i");
    var state = pre.parentNode.querySelector(".log-state");
    var source = new EventSource(pre.getAttribute("data-stream"));
    var started = false;
    pre.setAttribute("data-following", "true");
    if (state) state.textContent = "Following the log as it is written.";
    source.onmessage = function (event) {
      if (!started) {  // the stream starts from the beginning: it replaces the lines shown
        pre.textContent = "";
        started = true;
      }
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      addLine(pre, JSON.parse(event.data), failing);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    };
    source.addEventListener("end", function (event) {
      source.close();
      pre.setAttribute("data-following", "ended");
      var end = JSON.parse(event.data);
      if (state) state.textContent = "The stage ended: " + (end.status || end.state) + ".";
    });
  }

  function refresh(seconds) {
    var timer = setInterval(function () {
      fetch(location.href, { headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live][id]").forEach(function (old) {
            var replacement = fresh.getElementById(old.id);
            if (!replacement) return;
            // Logs being followed stay as they are; the rest of a live region is replaced.
            old.querySelectorAll("pre[data-following]").forEach(function (pre) {
              var stage = pre.closest("li[id]");
              var target = stage && replacement.querySelector("#" + stage.id + " pre.log");
              if (target) {
                target.replaceWith(pre);
              }
            });
            old.replaceWith(replacement);
          });
          if (!fresh.body.hasAttribute("data-live-refresh")) clearInterval(timer);
          startFollowing();
        })
        .catch(function () { /* the next round tries again */ });
    }, seconds * 1000);
  }

  function startFollowing() {
    document.querySelectorAll("pre[data-stream]:not([data-following])").forEach(follow);
  }

  document.addEventListener("DOMContentLoaded", function () {
    startFollowing();
    var seconds = Number(document.body.getAttribute("data-live-refresh"));
    if (seconds > 0) refresh(seconds);
  });
})();
