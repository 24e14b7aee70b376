// Import progress: polls the job's progress and shows the report when it is done.
// Without this script the page has a Refresh link.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || !window.fetch) { return; }
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var src = box.getAttribute("data-src");
  function fmt(n) { return n.toLocaleString("en-US"); }
  function poll() {
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        if (p.finished) { window.location.reload(); return; }
        bar.value = p.done;
        var pct = p.total ? Math.floor(100 * p.done / p.total) : 0;
        text.textContent = "Enrolling: " + fmt(p.done) + " of " + fmt(p.total) + " rows (" + pct + " %).";
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 500);
}());
