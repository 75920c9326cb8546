/* KB Platform help widget: <script src="https://help.example.com/widget.js" async></script>
 * Adds a floating button that opens an ask box (an iframe on the help center, inside a
 * shadow root so the host page's CSS cannot break it and ours cannot leak out).
 */
(function () {
  "use strict";
  if (window.__kbWidgetLoaded) return;
  window.__kbWidgetLoaded = true;
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all[all.length - 1];
  })();
  var origin = new URL(script.src, window.location.href).origin;
  var label = script.getAttribute("data-label") || "Help";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  function mount() {
    var host = document.createElement("div");
    host.id = "kb-help-widget";
    document.body.appendChild(host);
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = document.createElement("style");
    style.textContent =
      ":host{all:initial}" +
      ".kb-btn{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;background:#0b5cad;color:#fff;" +
      "border:0;border-radius:999px;padding:12px 20px;font:600 16px system-ui,sans-serif;cursor:pointer;" +
      "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
      ".kb-btn:focus-visible{outline:3px solid #f0b400;outline-offset:2px}" +
      ".kb-panel{position:fixed;bottom:80px;" + side + ":20px;z-index:2147483000;width:min(400px,calc(100vw - 40px));" +
      "height:min(560px,calc(100vh - 120px));background:#fff;border:1px solid #d0d7de;border-radius:12px;" +
      "box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden}" +
      ".kb-panel.open{display:flex}" +
      ".kb-head{display:flex;justify-content:space-between;align-items:center;padding:8px 12px;background:#0d2538;color:#fff;" +
      "font:600 15px system-ui,sans-serif}" +
      ".kb-close{background:none;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}" +
      ".kb-close:focus-visible{outline:3px solid #f0b400}" +
      "iframe{border:0;flex:1;width:100%}";
    root.appendChild(style);
    var button = document.createElement("button");
    button.className = "kb-btn";
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "kb-panel");
    var panel = document.createElement("div");
    panel.className = "kb-panel";
    panel.id = "kb-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Ask the help center");
    var head = document.createElement("div");
    head.className = "kb-head";
    head.appendChild(document.createTextNode("Ask the help center"));
    var close = document.createElement("button");
    close.className = "kb-close";
    close.type = "button";
    close.setAttribute("aria-label", "Close help");
    close.textContent = "\u00d7"; // escaped: host pages that are not UTF-8 show it right
    head.appendChild(close);
    panel.appendChild(head);
    var frame = null;
    root.appendChild(button);
    root.appendChild(panel);

    function open() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.title = "Help center";
        frame.src = origin + "/widget/frame/";
        panel.appendChild(frame);
      }
      panel.classList.add("open");
      button.setAttribute("aria-expanded", "true");
      frame.addEventListener("load", function () { try { frame.contentWindow.focus(); } catch (e) {} });
    }
    function hide() {
      panel.classList.remove("open");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
    button.addEventListener("click", function () {
      if (panel.classList.contains("open")) hide(); else open();
    });
    close.addEventListener("click", hide);
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && panel.classList.contains("open")) hide();
    });
    // Esc pressed inside the frame: the frame asks its host page to close it.
    window.addEventListener("message", function (ev) {
      if (ev.origin === origin && ev.data && ev.data.kb === "close") hide();
    });
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
