// The viewer's words in the page's language, given by the page as JSON.
(function () {
  "use strict";
  var node = document.getElementById("viewer-strings");
  window.LESIONS_VIEWER_STRINGS = node ? JSON.parse(node.textContent) : {};
})();
