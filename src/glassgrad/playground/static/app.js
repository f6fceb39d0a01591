// glassgrad playground page: draws the snapshots the server streams. All training, losses,
// gradients and traces are computed by glassgrad on the server; this file only draws them.
"use strict";

const CLASS_RGB = [[21, 101, 192], [239, 108, 0], [46, 125, 50], [142, 36, 170], [0, 131, 143]];
const FIELDS = ["dataset", "noise", "samples", "hidden", "activation", "loss", "optimizer", "lr", "batch_size"];
const $ = (id) => document.getElementById(id);
let sid = null, source = null, last = null, structure = "", selectedLayer = null, stateMessage = false;

function showMessage(text, kind) {
  const m = $("message");
  m.textContent = text || "";
  m.className = text ? (kind || "error") : "";
}

async function api(method, path, body) {
  let r;
  try {
    r = await fetch(path, {method, headers: {"Content-Type": "application/json"},
                           body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new Error("the playground server cannot be reached (was it stopped?)");
  }
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
  return data;
}

function decode(b64) {
  const s = atob(b64), a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}

// ---------------------------------------------------------------- colour maps
function diverging(v) {  // byte: 0 = -max (blue), 127.5 = 0 (white), 255 = +max (red)
  const t = (v - 127.5) / 127.5;
  if (t < 0) { const u = -t; return [255 - u * 222, 255 - u * 155, 255 - u * 63]; }
  return [255 - t * 40, 255 - t * 200, 255 - t * 210];
}
function sequential(v) {  // byte: 0 = 0 (white) .. 255 = max (dark teal)
  const t = v / 255;
  return [255 - t * 235, 255 - t * 150, 255 - t * 120];
}

function paint(canvas, bytes, rows, cols, colour, cssW, cssH) {
  const off = document.createElement("canvas");
  off.width = cols; off.height = rows;
  const ctx = off.getContext("2d"), img = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const c = colour(bytes[i]);
    img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  if (cssW) { canvas.width = cssW; canvas.height = cssH; }
  const g = canvas.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.drawImage(off, 0, 0, canvas.width, canvas.height);
}

// ---------------------------------------------------------------- panels
function drawBoundary(s) {
  const cv = $("boundary"), n = s.boundary.size, bytes = decode(s.boundary.data);
  const off = document.createElement("canvas");
  off.width = n; off.height = n;
  const octx = off.getContext("2d"), img = octx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const cls = bytes[i] >> 6, conf = (bytes[i] & 63) / 63, rgb = CLASS_RGB[cls % CLASS_RGB.length];
    const a = 0.12 + 0.5 * conf;
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 * (1 - a) + rgb[k] * a);
    img.data[4 * i + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
  const ctx = cv.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, cv.width, cv.height);
  const [x0, x1, y0, y1] = s.extent;
  const px = (x) => (x - x0) / (x1 - x0) * cv.width, py = (y) => (y1 - y) / (y1 - y0) * cv.height;
  const dots = (pts, ys, test) => {
    for (let i = 0; i < pts.length; i++) {
      const rgb = CLASS_RGB[ys[i] % CLASS_RGB.length];
      ctx.beginPath();
      ctx.arc(px(pts[i][0]), py(pts[i][1]), test ? 3.2 : 2.6, 0, 2 * Math.PI);
      ctx.fillStyle = test ? "#fff" : `rgb(${rgb})`;
      ctx.strokeStyle = test ? `rgb(${rgb})` : "#fff";
      ctx.lineWidth = test ? 1.6 : 0.6;
      ctx.fill(); ctx.stroke();
    }
  };
  dots(s.points.train, s.points.train_y, false);
  dots(s.points.test, s.points.test_y, true);
}

const SVGNS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawLoss(s) {
  const svg = $("losschart"), W = 300, H = 150, L = 36, B = 18;
  svg.replaceChildren();
  const h = s.history.filter((r) => r[1] !== null && r[2] !== null);
  if (!h.length) return;
  const maxS = Math.max(1, h[h.length - 1][0]);
  let maxL = 0;
  for (const r of h) maxL = Math.max(maxL, r[1], r[2]);
  maxL = maxL || 1;
  const X = (v) => L + v / maxS * (W - L - 6), Y = (v) => 6 + (1 - v / maxL) * (H - B - 6);
  svg.append(svgEl("line", {x1: L, y1: H - B, x2: W - 4, y2: H - B, stroke: "#999"}));
  svg.append(svgEl("line", {x1: L, y1: 6, x2: L, y2: H - B, stroke: "#999"}));
  svg.append(svgEl("text", {x: 2, y: 14, "font-size": 10, fill: "#666"}, maxL.toPrecision(2)));
  svg.append(svgEl("text", {x: L, y: H - 4, "font-size": 10, fill: "#666"}, "0"));
  svg.append(svgEl("text", {x: W - 60, y: H - 4, "font-size": 10, fill: "#666"}, "step " + maxS));
  for (const [col, colour] of [[1, "#1565c0"], [2, "#ef6c00"]]) {
    const pts = h.map((r) => X(r[0]).toFixed(1) + "," + Y(r[col]).toFixed(1)).join(" ");
    svg.append(svgEl("polyline", {points: pts, fill: "none", stroke: colour, "stroke-width": 1.5}));
  }
}

function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? v.toPrecision(3) : v.toExponential(2);
}
function shapeText(shape) { return "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")"); }

function build(s) {  // (re)create the per-layer elements when the architecture changes
  const nr = $("neurons");
  nr.replaceChildren();
  s.neurons.layers.forEach((layer, i) => {
    const row = document.createElement("div");
    row.className = "nrow";
    const lbl = document.createElement("span");
    lbl.className = "lbl";
    lbl.textContent = `hidden ${i + 1} (${layer.length})`;
    row.append(lbl);
    layer.forEach((_, j) => {
      const c = document.createElement("canvas");
      c.width = s.neurons.size; c.height = s.neurons.size;
      c.title = `layer ${i + 1}, neuron ${j + 1}`;
      row.append(c);
    });
    nr.append(row);
  });
  const gr = $("grads");
  gr.replaceChildren();
  s.layers.forEach((L) => {
    const card = document.createElement("div");
    card.className = "layer-card";
    card.dataset.layer = L.index;
    const h = document.createElement("h3");
    h.textContent = `${L.name} · Linear(${L.in} → ${L.out})`;
    card.append(h);
    const maps = document.createElement("div");
    maps.className = "gmaps";
    for (let k = 0; k < 3; k++) {
      const g = document.createElement("div");
      g.className = "gmap";
      g.append(document.createElement("canvas"));
      const cap = document.createElement("div");
      cap.className = "cap";
      g.append(cap);
      maps.append(g);
    }
    card.append(maps);
    card.addEventListener("click", () => showTrace(L.index));
    gr.append(card);
  });
}

function drawNeurons(s) {
  const rows = $("neurons").children;
  s.neurons.layers.forEach((layer, i) => {
    const cvs = rows[i].querySelectorAll("canvas");
    layer.forEach((m, j) => paint(cvs[j], decode(m.data), s.neurons.size, s.neurons.size,
                                  m.signed ? diverging : sequential));
  });
}

function drawGrads(s) {
  const cards = $("grads").children;
  s.layers.forEach((L, i) => {
    const maps = cards[i].querySelectorAll(".gmap");
    L.grads.forEach((g, k) => {
      const [rows, cols] = g.shown;
      const cell = Math.max(2, Math.min(14, Math.floor(150 / Math.max(rows, cols))));
      paint(maps[k].querySelector("canvas"), decode(g.data), rows, cols, diverging, cols * cell, rows * cell);
      const shown = g.shape[0] !== rows && g.shape.length === 2 ? ` (first ${rows} rows)` : "";
      maps[k].querySelector(".cap").innerHTML = "";
      const cap = maps[k].querySelector(".cap");
      cap.append(document.createTextNode(g.name + " "));
      const sp = document.createElement("span");
      sp.className = "grad-shape";
      sp.textContent = shapeText(g.shape);
      cap.append(sp, document.createElement("br"),
                 document.createTextNode(`‖·‖ = ${fmt(g.norm)}, max |·| = ${fmt(g.scale)}${shown}`));
    });
  });
}

function drawFlow(s) {
  const svg = $("flowchart"), W = 520, H = 120, n = s.flow.length;
  svg.replaceChildren();
  const vals = s.flow.map((f) => (f.grad_norm && f.grad_norm > 0 ? Math.log10(f.grad_norm) : null));
  const ok = vals.filter((v) => v !== null);
  if (!ok.length) {
    svg.append(svgEl("text", {x: 10, y: 60, fill: "#888"}, "no gradient yet: press step or start"));
    return;
  }
  const lo = Math.min(-6, Math.floor(Math.min(...ok))), hi = Math.max(1, Math.ceil(Math.max(...ok)));
  const bw = Math.min(70, (W - 50) / n - 8);
  svg.append(svgEl("text", {x: 2, y: 12, "font-size": 10, fill: "#666"}, "1e" + hi));
  svg.append(svgEl("text", {x: 2, y: H - 22, "font-size": 10, fill: "#666"}, "1e" + lo));
  s.flow.forEach((f, i) => {
    const v = vals[i], x = 40 + i * (bw + 8);
    const hgt = v === null ? 0 : (v - lo) / (hi - lo) * (H - 34);
    const cls = "flag-" + (f.status || "ok");
    svg.append(svgEl("rect", {x, y: H - 22 - hgt, width: bw, height: hgt, class: cls},));
    svg.append(svgEl("text", {x, y: H - 10, "font-size": 10, fill: "#333"}, f.layer));
    const flag = f.status === "vanishing" || f.status === "exploding" ? " ⚠ " + f.status : "";
    svg.append(svgEl("text", {x, y: H - 1, "font-size": 10, fill: flag ? "#c62828" : "#666",
                             class: "flow-label"}, fmt(f.grad_norm) + flag));
  });
}

function render(s) {
  last = s;
  const key = JSON.stringify([s.config.hidden, s.classes]);
  if (key !== structure) { build(s); structure = key; }
  $("stepn").textContent = s.step;
  $("runstate").textContent = s.running ? "training" : "paused";
  const m = s.metrics;
  $("metrics").textContent = `train loss ${fmt(m.train_loss)} · test loss ${fmt(m.test_loss)} · ` +
    `train acc ${(100 * m.train_acc).toFixed(1)}% · test acc ${(100 * m.test_acc).toFixed(1)}%`;
  if (s.message) { showMessage(s.message, "error"); stateMessage = true; }
  else if (stateMessage) { showMessage(""); stateMessage = false; }
  drawBoundary(s); drawLoss(s); drawNeurons(s); drawGrads(s); drawFlow(s);
  if (selectedLayer !== null && !s.running) showTrace(selectedLayer, true);
}

function fillForm(cfg) {
  for (const f of FIELDS) if ($(f) && cfg[f] !== undefined) $(f).value = String(cfg[f]);
}

// ---------------------------------------------------------------- trace rows
async function showTrace(layer, quiet) {
  selectedLayer = layer;
  for (const c of $("grads").children) c.classList.toggle("selected", Number(c.dataset.layer) === layer);
  let t;
  try {
    t = await api("GET", `/api/session/${sid}/trace?layer=${layer}`);
  } catch (e) {
    if (!quiet) showMessage(e.message);
    return;
  }
  const box = $("trace");
  box.replaceChildren();
  const h = document.createElement("h2");
  h.textContent = `trace rows of ${t.module} at step ${t.step}`;
  box.append(h);
  const sig = document.createElement("code");
  sig.textContent = t.signature;
  box.append(sig);
  const tbl = document.createElement("table");
  const head = tbl.insertRow();
  for (const c of ["node", "module", "gradient", "shape", "formula", "‖·‖", "broadcast sum"]) {
    const th = document.createElement("th"); th.textContent = c; head.append(th);
  }
  for (const r of t.rows) {
    for (const g of [...r.received, ...r.sent]) {
      const row = tbl.insertRow();
      const b = g.broadcast;
      const bsum = b ? `Σ over axis ${b.axes.join(", ")}: ${shapeText(b.grad_shape)} → ${shapeText(b.input_shape)}` : "";
      const cells = [r.node, r.module || "", g.name + (g.to ? " → " + g.to : ""), g.shape ? shapeText(g.shape) : "—",
                     g.formula || (r.received.includes(g) ? "(received)" : ""), fmt(g.stats && g.stats.norm), bsum];
      cells.forEach((c, k) => {
        const td = row.insertCell();
        if (k === 4) { const code = document.createElement("code"); code.textContent = c; td.append(code); }
        else td.textContent = c;
      });
    }
  }
  tbl.className = "trace-table";
  box.append(tbl);
}

// ---------------------------------------------------------------- wiring
async function control(action) {
  try {
    await api("POST", `/api/session/${sid}/control`, {action});
    if (!(last && last.message)) showMessage("");
  } catch (e) { showMessage(e.message); }
}

async function applyConfig() {
  const cfg = {};
  for (const f of FIELDS) cfg[f] = $(f).value;
  cfg.seed = last ? last.config.seed : 0;
  try {
    await api("POST", `/api/session/${sid}/config`, {config: cfg});
    showMessage("");
  } catch (e) { showMessage(e.message); }
}

async function init() {
  let r;
  try {
    r = await api("POST", "/api/session", {});
  } catch (e) { showMessage(e.message); return; }
  sid = r.id;
  document.body.dataset.session = sid;
  fillForm(r.state.config);
  render(r.state);
  source = new EventSource(`/api/session/${sid}/events`);
  source.addEventListener("state", (ev) => render(JSON.parse(ev.data)));
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED || source.readyState === EventSource.CONNECTING) {
      source.close();
      showMessage("the connection to the playground server was lost: reload the page to start again");
    }
  };
  $("start").onclick = () => control("start");
  $("pause").onclick = () => control("pause");
  $("step").onclick = () => control("step");
  $("reset").onclick = () => control("reset");
  $("apply").onclick = applyConfig;
  $("dataset").onchange = applyConfig;
}

window.addEventListener("load", init);
