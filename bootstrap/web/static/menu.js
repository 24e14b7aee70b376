// Phone menu: collapses the navigation behind a "Menu" button. Without this script the
// navigation simply wraps under the title.
(function () {
  "use strict";
  var button = document.querySelector(".menu-toggle");
  var menu = document.getElementById("menu");
  if (!button || !menu) { return; }
  document.documentElement.classList.add("js");
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  });
}());
