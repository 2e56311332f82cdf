/* shopscope dashboard: filters that reload with a clean query string, and the charts. */
(function () {
  "use strict";

  var form = document.getElementById("filters");
  if (form) {
    // Only values that differ from their defaults go into the URL, so shared links stay short.
    var reload = function () {
      var params = new URLSearchParams();
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.disabled) { return; }
        var value = el.value;
        if (value === "" || value === el.getAttribute("data-default")) { return; }
        params.set(el.name, value);
      });
      var query = params.toString();
      window.location.assign(form.getAttribute("action") + (query ? "?" + query : ""));
    };
    form.addEventListener("change", function (event) {
      // A new range or grain changes the periods: let the cards follow the latest one.
      if (event.target.name !== "period" && form.elements.period) {
        form.elements.period.value = "";
      }
      reload();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      reload();
    });
  }

  var holder = document.getElementById("charts-data");
  if (holder && window.Plotly) {
    var spec = JSON.parse(holder.textContent);
    spec.charts.forEach(function (chart) {
      var el = document.getElementById(chart.id);
      if (el) {
        window.Plotly.newPlot(el, chart.figure.data, chart.figure.layout, spec.config);
      }
    });
    document.documentElement.setAttribute("data-charts", "ready");
  }
})();
