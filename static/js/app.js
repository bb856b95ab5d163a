/* Small behaviours the pages need, kept out of the HTML so the Content-Security-Policy can
   forbid inline scripts and event handlers. */
"use strict";
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
  }
});
