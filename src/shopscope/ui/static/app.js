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
      if (window.shopscopeBusy) { window.shopscopeBusy.start(); }
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

  // A chart's toolbar (mode bar) sits at its top right, in the row of a left-aligned title:
  // a long title, or any title on a narrow chart (a phone), would run under it. Such a
  // title moves down a row, below the toolbar, with the top margin grown to make room.
  var NARROW_PX = 560;
  var TOOLBAR_ROW_PX = 30;
  var belowToolbar = function (layout, small) {
    var title = typeof layout.title === "string" ? { text: layout.title } : layout.title;
    if (!title || !title.text) { return layout; }
    var margin = Object.assign({ t: 52 }, layout.margin);
    return Object.assign({}, layout, {
      margin: Object.assign({}, margin, { t: margin.t + TOOLBAR_ROW_PX }),
      title: Object.assign({}, title, {
        yref: "container", y: 1, yanchor: "top",
        pad: { t: TOOLBAR_ROW_PX + 4, l: 0, r: 0, b: 0 },
        font: small ? Object.assign({}, title.font, { size: 14 }) : title.font
      })
    });
  };
  // Plotly never wraps a title: break a long one into lines that fit the chart's width
  // (CJK characters are about a font size wide, Latin ones about half of it).
  var wrapTitle = function (text, width, size) {
    var lines = [];
    var line = "";
    var room = width - 24;
    var wide = function (s) {
      var w = 0;
      for (var i = 0; i < s.length; i += 1) { w += s.charCodeAt(i) > 0x2e80 ? size : size * 0.55; }
      return w;
    };
    // words for Latin text; every CJK character may start a line
    var parts = text.match(/[\u2e80-\uffff][\uff09\u3001\u3002\uff0c\uff1a]?|[^\s\u2e80-\uffff]+\s*|\s+/g) || [text];
    parts.forEach(function (part) {
      if (line && wide(line + part) > room) { lines.push(line.trim()); line = ""; }
      line += part;
    });
    if (line.trim()) { lines.push(line.trim()); }
    return lines;
  };
  // A legend under the plot at a fixed share of its height lands on the axis title when the
  // tick labels turn or the plot is short: pin it to the chart's bottom edge instead.
  var legendBelow = function (layout, always) {
    var legend = layout.legend;
    if (!legend || layout.showlegend === false || legend.yref ||
        !(always || (typeof legend.y === "number" && legend.y < 0))) { return layout; }
    var margin = Object.assign({ b: 64 }, layout.margin);
    return Object.assign({}, layout, {
      legend: Object.assign({}, legend, { yref: "container", y: 0, yanchor: "bottom" }),
      margin: Object.assign({}, margin, { b: margin.b + 24 })
    });
  };
  var forPhone = function (layout, width) {
    var out = belowToolbar(layout, true);
    if (out.title && out.title.text && out.title.text.indexOf("<br>") < 0) {
      var lines = wrapTitle(out.title.text, width, 14);
      // Plotly centres extra lines on the first one's place: push the block down by half
      var extra = lines.length - 1;
      out.title = Object.assign({}, out.title, {
        text: lines.join("<br>"),
        pad: Object.assign({}, out.title.pad, { t: out.title.pad.t + 12 * extra })
      });
      out.margin = Object.assign({}, out.margin, { t: out.margin.t + 20 * extra });
    }
    // fewer date ticks keep them level, and the legend goes to the chart's bottom edge,
    // below the axis title instead of over it
    if (out.xaxis && out.xaxis.type === "date" && !out.xaxis.nticks) {
      out.xaxis = Object.assign({}, out.xaxis, { nticks: 4 });
    }
    return legendBelow(out, true);
  };
  var overlaps = function (a, b) {
    return a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right &&
      a.top < b.bottom && b.top < a.bottom;
  };
  var draw = function (el, figure, config) {
    var narrow = el.clientWidth < NARROW_PX;
    var base = legendBelow(figure.layout, false);
    var layout = narrow ? forPhone(figure.layout, el.clientWidth) : base;
    var moved = narrow;
    // Checked after every redraw: a resize (a scroll bar appearing, a window narrowing) can
    // bring the title under the toolbar later. A title moves once, never back.
    var check = function () {
      var bar = el.querySelector(".modebar");
      var title = el.querySelector(".gtitle");
      if (moved || !bar || !title ||
          !overlaps(bar.getBoundingClientRect(), title.getBoundingClientRect())) {
        return el;
      }
      moved = true;
      return window.Plotly.react(el, figure.data, belowToolbar(base, false), config);
    };
    return window.Plotly.newPlot(el, figure.data, layout, config).then(function () {
      el.on("plotly_afterplot", check);
      return check();
    });
  };

  var holder = document.getElementById("charts-data");
  if (holder && window.Plotly) {
    var spec = JSON.parse(holder.textContent);
    var drawn = spec.charts.map(function (chart) {
      var el = document.getElementById(chart.id);
      return el ? draw(el, chart.figure, spec.config) : null;
    });
    Promise.all(drawn).then(function () {
      document.documentElement.setAttribute("data-charts", "ready");
    });
  }
})();
