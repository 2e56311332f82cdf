/* shopscope data page: upload through the JSON API, then follow the load until it ends. */
(function () {
  "use strict";

  var textsEl = document.getElementById("upload-texts");
  var texts = textsEl ? JSON.parse(textsEl.textContent) : {};
  var form = document.getElementById("upload-form");
  var status = document.querySelector("[data-testid=upload-status]");

  function showError(message) {
    var box = form.querySelector("[data-testid=upload-error]");
    box.textContent = message;
    box.hidden = false;
  }

  if (form && window.fetch && window.FormData) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = form.querySelector("[name=file]").files[0];
      var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
      if (file && limit && file.size > limit) {  // refused here: nothing is sent
        showError(texts.upload_too_large);
        return;
      }
      var data = new FormData(form);
      data.delete("csrf");
      var button = form.querySelector("[type=submit]");
      button.disabled = true;
      button.textContent = texts.sending || button.textContent;
      fetch("/api/data/uploads", {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRF-Token": form.querySelector("[name=csrf]").value }
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) {
            var e = j.error || {};
            var own = texts[e.code];
            var text = own ? (e.code === "upload_mapping" ? own + " " + e.message : own)
                           : (e.message || r.statusText) + (e.hint ? " — " + e.hint : "");
            throw new Error(text);
          }
          window.location.assign("/data?upload=" + encodeURIComponent(j.id) + "#upload");
        });
      }).catch(function (err) {
        button.disabled = false;
        showError(err.message);
      });
    });
  }

  // A load in progress: poll its state, show its step, reload the page when it ends.
  if (status && status.getAttribute("data-finished") === "false") {
    var id = status.getAttribute("data-upload-id");
    var step = status.querySelector("[data-testid=upload-step]");
    var poll = function () {
      fetch("/api/data/uploads/" + encodeURIComponent(id), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.state === "done" || j.state === "rejected" || j.state === "failed") {
            window.location.reload();
            return;
          }
          if (step && j.step) { step.textContent = j.step; }
          window.setTimeout(poll, 1000);
        }, function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }
})();
