// Keeps a study page current while the analysis runs: polls the status endpoint every
// second, shows the stage in words (labels come translated from the page) and reloads
// the page once the study is done or failed.
(function () {
  "use strict";
  var holder = document.getElementById("study-progress");
  var labelsNode = document.getElementById("study-stage-labels");
  var stageNode = document.getElementById("study-stage");
  if (!holder || !labelsNode || !stageNode) {
    return;
  }
  var url = holder.dataset.statusUrl;
  var labels = JSON.parse(labelsNode.textContent);
  var delayMs = 1000;

  function show(data) {
    var label = labels[data.stage] || labels[data.status];
    if (label) {
      stageNode.textContent = label;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.finished) {
          window.location.reload();
          return;
        }
        show(data);
        delayMs = 1000;
        window.setTimeout(poll, delayMs);
      })
      .catch(function () {
        // Network hiccup or server restart: keep trying, but back off.
        delayMs = Math.min(delayMs * 2, 15000);
        window.setTimeout(poll, delayMs);
      });
  }

  window.setTimeout(poll, delayMs);
})();
