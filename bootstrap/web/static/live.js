// Live refresh of a subscriber's bindings table: the page works without this.
(function () {
  "use strict";
  var table = document.getElementById("bindings");
  if (!table || !window.fetch) { return; }
  var src = table.getAttribute("data-src");
  function cell(tr, text) { var td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
  function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC") : "up"; }
  function refresh() {
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var body = document.createElement("tbody");
        data.bindings.forEach(function (b) {
          var tr = document.createElement("tr");
          cell(tr, b.ha); cell(tr, b.care_of + (b.care_of_port ? ":" + b.care_of_port : ""));
          cell(tr, b.hoa); cell(tr, when(b.up_since)); cell(tr, b.down_at ? when(b.down_at) : "up");
          body.appendChild(tr);
        });
        if (!data.bindings.length) {
          var tr = document.createElement("tr"), td = document.createElement("td");
          td.colSpan = 5; td.textContent = "No bindings yet."; tr.appendChild(td); body.appendChild(tr);
        }
        table.replaceChild(body, table.tBodies[0]);
      })
      .catch(function () { /* keep the last table */ });
  }
  setInterval(refresh, 5000);
}());
