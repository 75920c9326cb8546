/* Knowledge editor: tell the author before saving when the body is over the limit (the server
 * refuses it too). A static file, not an inline script: the Content-Security-Policy allows
 * scripts from this site only. */
(function () {
  "use strict";
  var body = document.getElementById("id_body"), out = document.getElementById("body-count");
  if (!body || !out) return;
  var max = parseInt(out.dataset.max, 10);
  function update() {
    var n = body.value.length;
    out.textContent = n.toLocaleString() + " / " + max.toLocaleString() + " characters" +
      (n > max ? " — too long: split it into several articles" : "");
    out.className = n > max ? "error" : "muted";
  }
  body.addEventListener("input", update);
  update();
})();
