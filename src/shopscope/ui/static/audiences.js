/* shopscope audiences page: the builder (preview and save through the JSON API) and delete. */
(function () {
  "use strict";

  var dataEl = document.getElementById("builder-data");
  var textEl = document.getElementById("builder-text");
  var csrf = dataEl ? JSON.parse(dataEl.textContent).csrf : null;

  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin",
                 headers: { "X-CSRF-Token": csrf || "" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      if (r.status === 204) { return {}; }
      return r.json().then(function (j) {
        if (!r.ok) {
          var e = j.error || {};
          throw new Error((e.message || r.statusText) + (e.hint ? " — " + e.hint : ""));
        }
        return j;
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-delete]"), function (btn) {
    btn.addEventListener("click", function () {
      var name = btn.getAttribute("data-delete");
      var text = textEl ? JSON.parse(textEl.textContent) : { confirm_delete: "Delete {name}?" };
      if (!window.confirm(text.confirm_delete.replace("{name}", name))) { return; }
      api("DELETE", "/api/audiences/" + encodeURIComponent(name)).then(function () {
        window.location.reload();
      }, function (err) { window.alert(err.message); });
    });
  });

  var form = document.getElementById("audience-builder");
  if (!form || !dataEl) { return; }
  var spec = JSON.parse(dataEl.textContent);
  var text = JSON.parse(textEl.textContent);
  var rows = document.getElementById("filter-rows");
  var result = document.getElementById("builder-result");
  var fields = {};
  spec.fields.forEach(function (f) { fields[f.name] = f; });

  function option(value, label) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  }

  function valueControl(row) {
    var field = fields[row.querySelector("[name=field]").value];
    var op = row.querySelector("[name=op]").value;
    var old = row.querySelector(".value");
    var el;
    if (op === "is_null" || op === "not_null") {
      el = document.createElement("span");
    } else if (field.values.length && ["eq", "ne", "in", "not_in"].indexOf(op) >= 0) {
      el = document.createElement("select");
      el.multiple = op === "in" || op === "not_in";
      field.values.forEach(function (v) { el.appendChild(option(v.value, v.label)); });
    } else {
      el = document.createElement("input");
      el.type = field.kind === "date" && op !== "between" && op !== "in" && op !== "not_in"
        ? "date" : "text";
      el.placeholder = text.value_hint;
    }
    el.className = "value";
    el.setAttribute("aria-label", "value");
    row.replaceChild(el, old);
  }

  function addRow() {
    var row = document.createElement("div");
    row.className = "filter-row";
    var field = document.createElement("select");
    field.name = "field";
    field.setAttribute("aria-label", "field");
    spec.fields.forEach(function (f) { field.appendChild(option(f.name, f.label)); });
    var op = document.createElement("select");
    op.name = "op";
    op.setAttribute("aria-label", "op");
    spec.ops.forEach(function (o) { op.appendChild(option(o.value, o.label)); });
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "ghost";
    remove.textContent = text.remove;
    remove.addEventListener("click", function () { rows.removeChild(row); });
    row.appendChild(field);
    row.appendChild(op);
    row.appendChild(document.createElement("span")).className = "value";
    row.appendChild(remove);
    field.addEventListener("change", function () { valueControl(row); });
    op.addEventListener("change", function () { valueControl(row); });
    rows.appendChild(row);
    valueControl(row);
  }

  function convert(field, raw) {
    if (field.kind === "number") {
      var n = Number(raw);
      if (raw === "" || isNaN(n)) { throw new Error(field.label + ": " + raw + " ?"); }
      return n;
    }
    if (field.kind === "bool") { return raw === "true" || raw === "1"; }
    return raw;
  }

  function definition() {
    var filters = Array.prototype.map.call(rows.children, function (row) {
      var field = fields[row.querySelector("[name=field]").value];
      var op = row.querySelector("[name=op]").value;
      var el = row.querySelector(".value");
      var f = { field: field.name, op: op };
      if (op === "is_null" || op === "not_null") { return f; }
      var raw;
      if (el.tagName === "SELECT" && el.multiple) {
        raw = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else if (op === "in" || op === "not_in" || op === "between") {
        raw = el.value.split(",").map(function (s) { return s.trim(); })
          .filter(function (s) { return s !== ""; });
      } else {
        raw = el.value.trim();
      }
      f.value = Array.isArray(raw) ? raw.map(function (v) { return convert(field, v); })
        : convert(field, raw);
      return f;
    });
    return { name: form.elements.name.value || "preview",
             description: form.elements.description.value, filters: filters };
  }

  function show(stats) {
    // numbers in the page's language, not the browser's
    var lang = document.documentElement.lang || undefined;
    result.className = "";
    result.textContent = text.size
      .replace("{size}", stats.size.toLocaleString(lang))
      .replace("{customers}", stats.customers.toLocaleString(lang))
      .replace("{sales}", (stats.monetary_sum || 0).toLocaleString(lang,
        { maximumFractionDigits: 0 }));
  }

  function fail(err) {
    result.className = "alert";
    result.textContent = err.message;
  }

  document.getElementById("add-filter").addEventListener("click", addRow);
  document.getElementById("preview").addEventListener("click", function () {
    try {
      api("POST", "/api/audiences/preview?as_of=" + spec.as_of, definition()).then(show, fail);
    } catch (err) { fail(err); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!form.reportValidity()) { return; }
    try {
      api("POST", "/api/audiences", definition()).then(function () {
        window.location.reload();
      }, fail);
    } catch (err) { fail(err); }
  });
  addRow();
})();
