// watch's status page: charts (uPlot) for every element with data-expr,
// drawn from /api/v1/query_range, and a refresh of the page every 30 s
// unless someone is typing in a form. The page is complete without it.
(function () {
  "use strict";

  var MAX_SERIES = 8;
  var COLORS = ["#2f6fde", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"];

  function seriesName(metric) {
    var parts = [];
    Object.keys(metric).sort().forEach(function (k) {
      if (k !== "__name__") parts.push(k + "=" + JSON.stringify(metric[k]));
    });
    var name = metric.__name__ || "";
    return parts.length ? name + "{" + parts.join(", ") + "}" : name || "value";
  }

  function message(el, text) {
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "chart-message";
    p.textContent = text;
    el.appendChild(p);
  }

  function draw(el) {
    var expr = el.getAttribute("data-expr");
    var range = Number(el.getAttribute("data-range") || 3600);
    var end = Date.now() / 1000;
    var start = end - range;
    var step = Math.max(15, Math.ceil(range / 240));
    var url = "/api/v1/query_range?" + new URLSearchParams({
      query: expr, start: start.toFixed(3), end: end.toFixed(3), step: String(step)
    }).toString();
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.status !== "success") {
          message(el, body.error || "query failed");
          return;
        }
        var result = (body.data && body.data.result) || [];
        if (body.data.resultType !== "matrix" || result.length === 0) {
          message(el, "no data in the last hour");
          return;
        }
        result = result.slice(0, MAX_SERIES);
        // One x axis: the query's steps (start + k * step); a missing sample is a gap.
        var xs = [];
        for (var k = 0; start + k * step <= end + 1e-6; k++) xs.push(start + k * step);
        var data = [xs];
        var series = [{}];
        result.forEach(function (s, n) {
          var ys = new Array(xs.length).fill(null);
          s.values.forEach(function (v) {
            var i = Math.round((v[0] - start) / step);
            if (i >= 0 && i < xs.length) ys[i] = Number(v[1]);
          });
          data.push(ys);
          series.push({ label: seriesName(s.metric), stroke: COLORS[n % COLORS.length], width: 1.5 });
        });
        el.textContent = "";
        var title = el.getAttribute("data-title") || "";
        var width = Math.max(200, el.clientWidth || 300);
        var height = el.classList.contains("large") ? 280 : 120;
        var chart = new uPlot({
          title: title, width: width, height: height, series: series,
          legend: { show: result.length > 1 || el.classList.contains("large") },
          axes: [{}, { size: 50 }], scales: { x: { time: true } }
        }, data, el);
        el.chart = chart;
      })
      .catch(function (e) { message(el, "could not load the chart: " + e); });
  }

  function drawAll() {
    if (typeof uPlot === "undefined") return;
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-expr]"), draw);
  }

  var dirty = false;
  document.addEventListener("input", function () { dirty = true; });
  document.addEventListener("toggle", function () { dirty = true; }, true);

  function refresh() {
    var page = document.body.getAttribute("data-page");
    if (page === "query" || dirty) return;
    if (document.activeElement && document.activeElement.form) return;
    window.location.reload();
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Array.prototype.forEach.call(document.querySelectorAll(".chart[data-expr]"), function (el) {
        if (el.chart) el.chart.setSize({ width: Math.max(200, el.clientWidth), height: el.chart.height });
      });
    }, 200);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    drawAll();
    setInterval(refresh, 30000);
  });
})();
