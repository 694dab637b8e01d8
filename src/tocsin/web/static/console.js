// tocsin's console: the little it does in the browser beyond htmx. The pages work without it.
// Copy buttons beside runbook commands: shown only where the clipboard can be written.
"use strict";
(function () {
  function ready(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("button.copy").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var code = button.previousElementSibling;
        navigator.clipboard.writeText(code ? code.textContent : "").then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { ready(document); });
  document.addEventListener("htmx:afterSwap", function (event) { ready(event.target); });
})();
