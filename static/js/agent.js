/* Agent assist: one-click insert of the suggested reply or an article link into the reply. */
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("[data-insert]") : null;
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-insert"));
    var target = document.querySelector(button.getAttribute("data-target"));
    if (!source || !target) return;
    var text = (source.content ? source.content.textContent : source.textContent).trim();
    if (button.hasAttribute("data-append") && target.value) {
      var pos = target.selectionStart || target.value.length;
      target.value = target.value.slice(0, pos) + (pos ? "\n" : "") + text + target.value.slice(pos);
    } else {
      target.value = text;
    }
    target.focus();
    target.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();

/* Filters that apply on change (no inline handlers: the CSP allows no inline script). */
document.addEventListener("change", function (ev) {
  if (ev.target.hasAttribute && ev.target.hasAttribute("data-autosubmit") && ev.target.form) {
    ev.target.form.submit();
  }
});
