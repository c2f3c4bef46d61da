// Draws each .chart element's data (a JSON script inside it) with uPlot; sized to its container.
(function () {
  "use strict";
  var colours = ["#c0392b", "#1e7d32", "#1f5fa8", "#7a6a00", "#6a3d9a"];
  function draw(el) {
    var data = JSON.parse(el.querySelector(".chart-data").textContent);
    var series = [{}];
    var columns = [data.x];
    data.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: colours[i % colours.length], width: 2, points: { show: data.x.length <= 31 } });
      columns.push(s.values);
    });
    var height = el.classList.contains("small") ? 180 : 280;
    var plot = new uPlot({
      width: Math.max(el.clientWidth, 240), height: height, series: series,
      scales: { x: { time: true } }, axes: [{}, { size: 60 }], legend: { live: false }
    }, columns, el);
    new ResizeObserver(function () {
      plot.setSize({ width: Math.max(el.clientWidth, 240), height: height });
    }).observe(el);
    el.dataset.drawn = "yes";
  }
  function start() { document.querySelectorAll(".chart").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
