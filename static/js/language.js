// Submit the language switcher as soon as a language is picked; the button is only
// needed without JavaScript.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var button = select.form.querySelector("button[type=submit]");
    if (button) {
      button.hidden = true;
    }
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
})();
