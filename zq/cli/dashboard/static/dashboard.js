// zq dashboard: follows the page's live stream (server-sent events, pushed by the dispatcher
// through the dashboard server; the browser never polls). Each event says which elements
// change: "text" sets the text of [data-live=KEY], "html" the rows the server rendered,
// "chart" adds a point to the overview's chart, "reload" reloads a task page that finished.
"use strict";

const points = { depth: [], rate: [] };
const KEEP = 120; // chart points (two minutes at one push a second)

function draw(name, values) {
  const line = document.getElementById("chart-" + name);
  if (!line) return;
  const top = Math.max(1, ...values);
  const step = 600 / (KEEP - 1);
  const offset = KEEP - values.length;
  line.setAttribute(
    "points",
    values.map((v, i) => `${((offset + i) * step).toFixed(1)},${(118 - (v / top) * 114).toFixed(1)}`).join(" ")
  );
}

function apply(event) {
  const data = JSON.parse(event.data);
  for (const [key, value] of Object.entries(data.text || {})) {
    for (const el of document.querySelectorAll(`[data-live="${key}"]`)) el.textContent = value;
  }
  for (const [key, value] of Object.entries(data.html || {})) {
    for (const el of document.querySelectorAll(`[data-live="${key}"]`)) el.innerHTML = value;
  }
  if (data.chart) {
    for (const name of ["depth", "rate"]) {
      points[name].push(data.chart[name]);
      if (points[name].length > KEEP) points[name].shift();
      draw(name, points[name]);
    }
  }
  if (data.reload) location.reload();
}

document.addEventListener("DOMContentLoaded", () => {
  const stream = document.body.dataset.stream;
  if (!stream) return;
  const source = new EventSource(stream);
  source.onmessage = apply;
  document.body.classList.add("live");
});
