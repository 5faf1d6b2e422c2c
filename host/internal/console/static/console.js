// medgate console: the only script. Print buttons, confirmation prompts and
// a busy label on long forms; every page works without it too.
(function () {
  "use strict";
  // data-print="label" or "a4" picks the page layout (console.css @page).
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () {
      var layout = b.getAttribute("data-print");
      document.body.classList.remove("print-label", "print-a4");
      if (layout) { document.body.classList.add("print-" + layout); }
      window.print();
    });
  });
  // A scanning counter: keep the scanner's field focused.
  document.querySelectorAll("form[data-scanner]").forEach(function (f) {
    var input = f.querySelector("input[name]:not([type=hidden])");
    if (!input) { return; }
    input.focus();
    document.addEventListener("click", function (e) {
      if (!e.target.closest("a, button, input, select, textarea")) { input.focus(); }
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  document.querySelectorAll("form[data-busy]").forEach(function (f) {
    f.addEventListener("submit", function () {
      var b = f.querySelector("button[type=submit]");
      if (b) { b.disabled = true; b.textContent = f.getAttribute("data-busy"); }
    });
  });
})();
