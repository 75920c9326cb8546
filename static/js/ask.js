/* Streamed answers for the portal and the widget frame (no framework, no CDN).
 *
 * A form.ask-form posts its question to data-stream-url with fetch and reads the
 * server-sent events from the response body: "meta" (hits), "token" (text deltas),
 * "done" (final answer, citations, interaction id), "error". Without JavaScript the same
 * form posts normally and the server renders the whole answer.
 */
(function () {
  "use strict";

  // The page's language: the server renders the strings (Django i18n) into #ask-i18n's
  // data attributes; English is the fallback when the element or a string is missing.
  var strings = (document.getElementById("ask-i18n") || { dataset: {} }).dataset;
  function t(key, english) {
    return strings[key] || english;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Parse an SSE byte stream into {event, data} objects.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var parts = buffer.split("\n\n");
        buffer = parts.pop();
        parts.forEach(function (block) {
          var event = "message", data = [];
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) event = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
          });
          if (data.length) {
            try { onEvent(event, JSON.parse(data.join("\n"))); } catch (e) { /* skip */ }
          }
        });
        return pump();
      });
    }
    return pump();
  }

  function postForm(url, fields, form) {
    var body = new FormData();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    var headers = { "Accept": "application/json" };
    var token = csrfToken(form);
    if (token) headers["X-CSRFToken"] = token;
    return fetch(url, { method: "POST", body: body, headers: headers, credentials: "same-origin" })
      .then(function (r) {
        return r.text().then(function (text) {
          var data = {};
          try { data = JSON.parse(text); } catch (e) { data = { message: text }; }
          if (!r.ok) {
            var msg = (data.error && data.error.message) || data.message || t("error", "Something went wrong.");
            throw new Error(msg);
          }
          return data;
        });
      });
  }

  function renderAfter(area, done, form) {
    var token = done.token || "";
    var box = el("div", { "class": "after-answer" });
    var fb = el("form", { "class": "feedback" });
    var fs = el("fieldset");
    fs.appendChild(el("legend", {}, t("helpful", "Was this helpful?")));
    var yes = el("button", { type: "button", "data-helpful": "yes" }, t("yes", "Yes"));
    var no = el("button", { type: "button", "data-helpful": "no" }, t("no", "No"));
    var cid = "fb-comment-" + done.interaction_id;
    var label = el("label", { "for": cid, "class": "small" }, t("comment", "Comment (optional)"));
    var comment = el("input", { type: "text", id: cid, name: "comment", maxlength: "5000" });
    [yes, no, label, comment].forEach(function (n) { fs.appendChild(n); });
    fb.appendChild(fs);
    function vote(ev) {
      var helpful = ev.currentTarget.getAttribute("data-helpful");
      postForm(done.feedback_url, { helpful: helpful, comment: comment.value, token: token }, form)
        .then(function () {
          fb.replaceWith(el("p", { "class": "thanks", role: "status" }, t("thanks", "Thanks for your feedback.")));
        })
        .catch(function (err) { fb.appendChild(el("p", { "class": "error", role: "alert" }, err.message)); });
    }
    yes.addEventListener("click", vote);
    no.addEventListener("click", vote);
    box.appendChild(fb);

    var esc = el("div", { "class": "escalate-offer" });
    esc.appendChild(el("p", {}, done.answer.abstained ? t("teamCanHelp", "Our support team can help with this.") : t("stillStuck", "Still stuck?")));
    var talk = el("button", { type: "button", "class": "talk" }, t("talk", "Talk to a person"));
    esc.appendChild(talk);
    talk.addEventListener("click", function () {
      var f = el("form", { "class": "escalate-form" });
      f.appendChild(el("p", {}, "A support agent will see your question and the answer above, and reply by email."));
      var fields = [["name", t("yourName", "Your name"), "text"], ["email", t("email", "Email"), "email"], ["note", t("anythingToAdd", "Anything to add? (optional)"), "textarea"]];
      var inputs = {};
      fields.forEach(function (spec) {
        var id = "esc-" + spec[0] + "-" + done.interaction_id;
        f.appendChild(el("label", { "for": id }, spec[1]));
        var input = spec[2] === "textarea"
          ? el("textarea", { id: id, name: spec[0], rows: "3", "class": "plain" })
          : el("input", { id: id, name: spec[0], type: spec[2], required: "required" });
        var preset = form.getAttribute("data-user-" + spec[0]);
        if (preset) input.value = preset;
        inputs[spec[0]] = input;
        f.appendChild(input);
      });
      var send = el("button", { type: "submit", "class": "primary" }, t("sendToSupport", "Send to support"));
      f.appendChild(el("p")).appendChild(send);
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        send.disabled = true;
        postForm(done.escalate_url, {
          name: inputs.name.value, email: inputs.email.value, note: inputs.note.value, token: token
        }, form).then(function (data) {
          var msg = el("p", { "class": "thanks", role: "status" },
            t("requestSent", "Thanks. Your request #%(id)s is with our support team; we will reply here and by email.").replace("%(id)s", data.conversation_id) + " ");
          if (data.thread_url) {
            var link = el("a", { href: data.thread_url, "class": "thread-link" }, t("openConversation", "Open your conversation"));
            if (form.getAttribute("data-link-target")) link.setAttribute("target", "_blank");
            msg.appendChild(link);
          }
          esc.replaceChildren(msg);
        }).catch(function (err) {
          send.disabled = false;
          var old = f.querySelector(".error");
          if (old) old.remove();
          f.insertBefore(el("p", { "class": "error", role: "alert" }, err.message), f.firstChild);
        });
      });
      esc.replaceChildren(f);
      inputs.name.focus();
    });
    box.appendChild(esc);
    area.appendChild(box);
  }

  function renderDone(area, textNode, done, form) {
    var answer = done.answer;
    var article = area.matches("article.answer") ? area : area.querySelector("article.answer");
    article.classList.toggle("abstained", !!answer.abstained);
    // The final text replaces the streamed one: [k] markers become links to the sources.
    var text = article.querySelector(".answer-text");
    text.innerHTML = answer.html;
    var target = form.getAttribute("data-link-target");
    if (answer.sources.length) {
      var sources = el("div", { "class": "sources" });
      sources.appendChild(el("h4", {}, t("sources", "Sources")));
      var list = el("ul", { "class": "chips" });
      answer.sources.forEach(function (src) {
        var li = el("li");
        src.numbers.forEach(function (n) { li.appendChild(el("span", { id: "source-" + n })); });
        var a = el("a", { "class": "chip", href: src.url });
        if (target) a.setAttribute("target", target);
        src.numbers.forEach(function (n) { a.appendChild(el("span", { "class": "n" }, String(n))); });
        a.appendChild(document.createTextNode(" " + src.title));
        li.appendChild(a);
        list.appendChild(li);
      });
      sources.appendChild(list);
      article.appendChild(sources);
    }
    if (answer.abstained && answer.nearest_articles.length) {
      var near = el("div", { "class": "nearest" });
      near.appendChild(el("h4", {}, t("nearest", "These articles may be close")));
      var ul = el("ul");
      answer.nearest_articles.forEach(function (n) {
        var a = el("a", { href: n.url }, n.title);
        if (target) a.setAttribute("target", target);
        ul.appendChild(el("li")).appendChild(a);
      });
      near.appendChild(ul);
      article.appendChild(near);
    }
    if (done.thread) {
      try { window.localStorage.setItem(THREAD_KEY, done.thread); } catch (e) { /* private mode */ }
    }
    if (done.handed_off) {
      var handed = el("p", { "class": "thanks handed-off", role: "status" },
        "A person from our support team will reply in this conversation. ");
      if (done.thread_url) {
        var open = el("a", { href: done.thread_url, "class": "thread-link" }, t("openConversation", "Open your conversation"));
        if (target) open.setAttribute("target", "_blank");
        handed.appendChild(open);
      }
      article.appendChild(handed);
    }
    renderAfter(article, done, form);
  }

  var THREAD_KEY = "kb-widget-thread";

  function ask(form) {
    var area = document.getElementById(form.getAttribute("data-answer-area") || "answer-area");
    var q = form.querySelector("[name=q]");
    var button = form.querySelector("button[type=submit]");
    var question = q.value.trim();
    if (!question) { q.focus(); return; }
    var body = new FormData(form);
    if (body.get("channel") === "widget") {
      try { body.append("thread", window.localStorage.getItem(THREAD_KEY) || ""); } catch (e) { /* none */ }
    }
    // A follow-up joins the thread: earlier answers stay on screen above it.
    area.setAttribute("aria-busy", "true");
    if (area.children.length) area.appendChild(el("p", { "class": "turn-question" }, question));
    var article = el("article", { "class": "answer streaming" });
    var status = el("p", { "class": "muted small thinking" }, t("looking", "Looking through the help center…"));
    var textBox = el("div", { "class": "answer-text" });
    var textNode = el("p");
    textBox.appendChild(textNode);
    article.appendChild(status);
    article.appendChild(textBox);
    area.appendChild(article);
    button.disabled = true;
    var headers = { "Accept": "text/event-stream" };
    var token = csrfToken(form);
    if (token) headers["X-CSRFToken"] = token;
    fetch(form.getAttribute("data-stream-url"), {
      method: "POST", body: body, headers: headers, credentials: "same-origin"
    }).then(function (response) {
      var ctype = response.headers.get("Content-Type") || "";
      if (!response.ok || ctype.indexOf("text/event-stream") !== 0) {
        return response.text().then(function (text) {
          var msg = t("sorry", "Sorry, the question could not be answered.");
          try { msg = JSON.parse(text).error.message; } catch (e) { /* keep default */ }
          throw new Error(msg);
        });
      }
      return readEvents(response, function (event, data) {
        if (event === "meta") {
          status.textContent = data.hits.length ? t("writing", "Writing an answer…") : t("checking", "Checking…");
        } else if (event === "token") {
          if (data.reset) textNode.textContent = "";
          textNode.textContent += data.text;
        } else if (event === "done") {
          status.remove();
          article.classList.remove("streaming");
          renderDone(article, textNode, data, form);
        } else if (event === "error") {
          throw new Error(data.message);
        }
      });
    }).catch(function (err) {
      status.remove();
      article.classList.remove("streaming");
      article.appendChild(el("p", { "class": "error", role: "alert" }, err.message));
    }).finally(function () {
      area.setAttribute("aria-busy", "false");
      button.disabled = false;
      q.value = "";
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("ask-form")) return;
    if (!window.fetch || !window.TextDecoder || !window.ReadableStream) return; // plain POST
    ev.preventDefault();
    ask(form);
  });

  // The widget frame resumes its thread on this site: link to it (and follow-ups join it).
  function showResume() {
    if (!document.body || !document.body.classList.contains("widget-frame")) return;
    var token = null;
    try { token = window.localStorage.getItem(THREAD_KEY); } catch (e) { return; }
    if (!token || document.getElementById("kb-resume")) return;
    var p = el("p", { id: "kb-resume", "class": "small" });
    var a = el("a", { href: "/t/" + token + "/", target: "_blank", rel: "noopener" }, t("conversationSoFar", "Your conversation so far"));
    p.appendChild(a);
    var main = document.getElementById("main");
    if (main) main.insertBefore(p, main.firstChild);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showResume);
  else showResume();

  // In the widget frame, Esc asks the host page to close the panel.
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && window.parent !== window && document.body.classList.contains("widget-frame")) {
      window.parent.postMessage({ kb: "close" }, "*");
    }
  });

  // Enter sends, Shift+Enter makes a new line.
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.key === "Enter" && !ev.shiftKey && t.matches && t.matches(".ask-form textarea")) {
      ev.preventDefault();
      t.form.requestSubmit();
    }
  });
})();
