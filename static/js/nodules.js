// Marking nodules on a CT: a "viewer:mark" click from the viewer is posted to the API, and
// the list of marked nodules (rendered by the server, in the page's language) is refreshed
// until every nodule has been scored.
(function () {
  "use strict";
  var panel = document.getElementById("nodules");
  var list = document.getElementById("nodule-list");
  if (!panel || !list) {
    return;
  }
  var apiUrl = panel.dataset.url;
  var listUrl = panel.dataset.listUrl;
  var polling = null;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function pending() {
    return list.querySelector('[data-status="queued"]') !== null;
  }

  function refresh() {
    return fetch(listUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        list.innerHTML = html;
        panel.dispatchEvent(new CustomEvent("nodules:updated", { bubbles: true }));
        if (pending()) {
          schedule();
        }
      });
  }

  function schedule() {
    if (polling === null) {
      polling = window.setTimeout(function () {
        polling = null;
        refresh().catch(schedule);
      }, 1000);
    }
  }

  document.addEventListener("viewer:mark", function (event) {
    var point = event.detail;
    fetch(apiUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ z: point.z, y: point.y, x: point.x }),
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            throw new Error(data.detail || JSON.stringify(data));
          }
          // The viewer drew the click as a pending "New mark", which the next click
          // replaces: confirm it as one of the study's markers.
          if (window.LesionsViewer && event.target.matches && event.target.matches("[data-viewer]")) {
            window.LesionsViewer.mount(event.target).addMarker({ z: point.z, y: point.y, x: point.x, label: "#" + data.id });
          }
          return refresh();
        });
      })
      .catch(function (error) {
        var item = document.createElement("li");
        item.className = "error";
        item.textContent = error.message;
        list.appendChild(item);
      });
  });

  if (pending()) {
    schedule();
  }
})();
