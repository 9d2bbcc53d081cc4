// convgrad serve: the page. Plain JavaScript, no build step and no library, so the file the package ships is
// the file the browser runs. Every number on the page comes from the server (convgrad itself); this file only
// turns strokes into a 28x28 image and draws what the API returns.
"use strict";

const SIZE = 28;          // the model's input is SIZE x SIZE, values in [0, 1], 1 = ink (MNIST's convention)
const BOX = 20;           // MNIST fits each digit in a 20x20 box before centring it in 28x28
const STROKE = 2.6;       // pen width in 28x28 pixels: the mean ink per row of MNIST's ones is ~2.7 pixels
const SUPER = 4;          // strokes are rendered at 4x and box-averaged down: MNIST's soft, anti-aliased edges
const PAD = 280;          // the drawing pad's own resolution (10 pad pixels per input pixel)
const DEBOUNCE_MS = 100;  // at most one prediction per 100 ms while the pen moves, and one request in flight

const $ = (id) => document.getElementById(id);

const state = {
  model: null,            // GET /api/model
  strokes: [],            // each a list of {x, y} in pad pixels
  sample: null,           // Float32Array(784) of a loaded test digit, or null
  image: null,            // Float32Array(784): the last image sent (what the network sees)
  result: null,           // the last POST /api/predict answer
  selected: null,         // {layer, channel, y, x}: the enlarged map and the picked position
  shown: 0,               // predictions shown so far (tests wait for it to move)
};
window.convgradPage = state;  // for the browser tests and the curious: the console sees what was sent

// -- colour maps -------------------------------------------------------------------------------------------
// 256-entry lookup tables, so drawing a map is one table read per pixel.
function lut(stops) {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (stops.length - 1);
    const k = Math.min(Math.floor(t), stops.length - 2), f = t - k;
    for (let c = 0; c < 3; c++) table[3 * i + c] = stops[k][c] + f * (stops[k + 1][c] - stops[k][c]);
  }
  return table;
}
// viridis (perceptually uniform, readable in grey): feature maps
const VIRIDIS = lut([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]);
// blue - white - red around zero: signed numbers (kernel weights, occlusion score drops)
const DIVERGING = lut([[49, 54, 149], [116, 173, 209], [245, 245, 245], [244, 109, 67], [165, 0, 38]]);

// Paint byte values (0..255) into a canvas of their own size through a lookup table; CSS scales it up
// (image-rendering: pixelated), so each input pixel stays a visible square.
function paint(canvas, bytes, h, w, table) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const v = bytes[i];
    img.data[4 * i] = table[3 * v];
    img.data[4 * i + 1] = table[3 * v + 1];
    img.data[4 * i + 2] = table[3 * v + 2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

const GREY = lut([[0, 0, 0], [255, 255, 255]]);

// Floats to bytes: [lo, hi] -> [0, 255]; for signed data pass lo = -hi so that zero is the middle colour.
function toBytes(values, lo, hi) {
  const out = new Uint8Array(values.length);
  const span = hi - lo || 1;
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.round(255 * Math.min(1, Math.max(0, (values[i] - lo) / span)));
  }
  return out;
}

function decodeMap(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

const flat = (rows) => Float32Array.from(rows.flat(Infinity));
const rows2d = (values) => Array.from({length: SIZE}, (_, i) => Array.from(values.slice(i * SIZE, (i + 1) * SIZE)));
const fmt = (v, digits = 2) => (Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v).toFixed(digits);

// -- the API -----------------------------------------------------------------------------------------------
let requests = 0;  // API calls on the way
let timer = null, inFlight = false, dirty = false;  // the prediction schedule (below)

// body[data-busy] is "1" while a request is on the way or a prediction is scheduled: tests (and anyone
// scripting the page) wait for "0" to know that what is shown is final.
function updateBusy() {
  document.body.dataset.busy = requests > 0 || timer !== null ? "1" : "0";
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  requests++;
  updateBusy();
  try {
    const res = await fetch(path, init);
    let data;
    try {
      data = await res.json();
    } catch (e) {
      throw new Error(`${path}: expected a JSON answer, got HTTP ${res.status}`);
    }
    if (!res.ok) throw new Error(data.error || `${path}: HTTP ${res.status}`);
    return data;
  } finally {
    requests--;
    updateBusy();
  }
}

function showError(err) {
  const status = $("status");
  status.textContent = String(err.message || err);
  status.classList.add("error");
}

function clearError() {
  $("status").textContent = "";
  $("status").classList.remove("error");
}

// -- from strokes to the network's input --------------------------------------------------------------------
// Render strokes into a (SIZE*SUPER)^2 canvas under a transform from pad pixels, and box-average it down to
// SIZE x SIZE values in [0, 1].
const work = document.createElement("canvas");
work.width = work.height = SIZE * SUPER;
const workCtx = work.getContext("2d", {willReadFrequently: true});  // read back on every pen move

function render(strokes, transform) {
  const ctx = workCtx;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, work.width, work.height);
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineWidth = STROKE * SUPER;
  ctx.lineCap = ctx.lineJoin = "round";
  for (const stroke of strokes) {
    const pts = stroke.map((p) => transform(p)).map(([x, y]) => [x * SUPER, y * SUPER]);
    ctx.beginPath();
    if (pts.length === 1) {  // a tap is a dot
      ctx.arc(pts[0][0], pts[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(pts[0][0], pts[0][1]);
    for (const [x, y] of pts.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
  const px = ctx.getImageData(0, 0, work.width, work.height).data;
  const out = new Float32Array(SIZE * SIZE);
  const n = work.width;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) out[Math.floor(y / SUPER) * SIZE + Math.floor(x / SUPER)] += px[4 * (y * n + x)];
  }
  for (let i = 0; i < out.length; i++) out[i] /= 255 * SUPER * SUPER;
  return out;
}

// Centre of mass in continuous coordinates (pixel i covers [i, i + 1)).
function centreOfMass(img) {
  let m = 0, sy = 0, sx = 0;
  for (let i = 0; i < img.length; i++) {
    const y = Math.floor(i / SIZE) + 0.5, x = (i % SIZE) + 0.5;
    m += img[i];
    sy += img[i] * y;
    sx += img[i] * x;
  }
  return m > 0 ? [sy / m, sx / m] : [SIZE / 2, SIZE / 2];
}

// MNIST's preprocessing: scale the digit (with its stroke) into a 20x20 box keeping its aspect ratio, then
// move it so that its centre of mass lands on pixel (14, 14). The pen width is fixed in 28x28 pixels, so a
// small drawing does not get fat strokes.
function strokesToImage(strokes) {
  const pts = strokes.flat();
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const extent = Math.max(x1 - x0, y1 - y0, 1);
  const scale = Math.min((BOX - STROKE) / extent, 0.5);  // a dot or a tiny scribble is not blown up 100x
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const boxed = (dx, dy) => (p) => [(p.x - cx) * scale + SIZE / 2 + dx, (p.y - cy) * scale + SIZE / 2 + dy];
  const [my, mx] = centreOfMass(render(strokes, boxed(0, 0)));
  // MNIST's mean centre of mass is at pixel index 14.0, i.e. 14.5 in continuous coordinates
  return render(strokes, boxed(14.5 - mx, 14.5 - my));
}

// A loaded test digit is already an MNIST image: strokes drawn over it are added in place, unscaled, so a
// student can turn a 1 into a 7 and watch the network change its mind.
function sampleWithStrokes(sample, strokes) {
  if (!strokes.length) return sample;
  const ink = render(strokes, (p) => [p.x * SIZE / PAD, p.y * SIZE / PAD]);
  return sample.map((v, i) => Math.max(v, ink[i]));
}

function currentImage() {
  if (state.sample) return sampleWithStrokes(state.sample, state.strokes);
  return state.strokes.length ? strokesToImage(state.strokes) : null;
}

// -- the drawing pad ---------------------------------------------------------------------------------------
const pad = $("pad");

function redrawPad() {
  const ctx = pad.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, PAD, PAD);
  if (state.sample) {
    const tmp = document.createElement("canvas");
    paint(tmp, toBytes(state.sample, 0, 1), SIZE, SIZE, GREY);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, PAD, PAD);
  }
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineWidth = STROKE * PAD / SIZE;
  ctx.lineCap = ctx.lineJoin = "round";
  for (const stroke of state.strokes) {
    ctx.beginPath();
    ctx.moveTo(stroke[0].x, stroke[0].y);
    for (const p of stroke) ctx.lineTo(p.x, p.y);
    if (stroke.length === 1) ctx.lineTo(stroke[0].x + 0.01, stroke[0].y);  // a tap still shows a dot
    ctx.stroke();
  }
}

// Pointer events cover mouse, pen and touch alike; the pad's CSS size may differ from its 280x280 pixels
// (narrow screens), hence the scaling by the bounding box.
function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return {x: (ev.clientX - r.left) * PAD / r.width, y: (ev.clientY - r.top) * PAD / r.height};
}

let drawing = false;
pad.addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  pad.setPointerCapture(ev.pointerId);
  drawing = true;
  state.strokes.push([padPoint(ev)]);
  redrawPad();
  inputChanged();
});
pad.addEventListener("pointermove", (ev) => {
  if (!drawing) return;
  const stroke = state.strokes[state.strokes.length - 1];
  // coalesced events: the points the browser merged into this one, so fast strokes stay smooth
  const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
  for (const e of events.length ? events : [ev]) stroke.push(padPoint(e));
  redrawPad();
  inputChanged();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    inputChanged();
  });
}

$("clear").addEventListener("click", () => {
  state.strokes = [];
  state.sample = null;
  redrawPad();
  inputChanged();
});

// -- predictions: coalesced, one request in flight ---------------------------------------------------------
function inputChanged() {
  dirty = true;
  if (timer === null) timer = setTimeout(() => { timer = null; predictNow(); updateBusy(); }, DEBOUNCE_MS);
  updateBusy();
}

async function predictNow() {
  if (inFlight || !dirty) return;  // the running request's completion picks the change up
  dirty = false;
  const image = currentImage();
  state.image = image;
  drawInputView();
  if (!image) {
    showEmpty();
    return;
  }
  inFlight = true;
  try {
    const t0 = performance.now();
    const result = await api("/api/predict", {image: rows2d(image), saliency: $("saliency-toggle").checked});
    const ms = performance.now() - t0;
    // shown even when the pen has moved on meanwhile: a slightly old answer beats a frozen page
    state.result = result;
    showResult(result, ms);
    clearError();
  } catch (err) {
    showError(err);
  } finally {
    inFlight = false;
    if (dirty) predictNow();
  }
}

function showEmpty() {
  state.result = null;
  $("predicted").textContent = "–";
  delete $("predicted").dataset.class;
  for (const li of $("bars").children) setBar(li, 0, false);
  $("bars").dataset.sum = "0";
  for (const c of document.querySelectorAll(".fmap")) c.getContext("2d").clearRect(0, 0, c.width, c.height);
  $("occlusion-figure").hidden = true;
  drawInputOverlay();
}

function setBar(li, p, top) {
  li.dataset.p = String(p);
  li.classList.toggle("best", top);
  li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
  li.querySelector(".pct").textContent = `${(100 * p).toFixed(1)} %`;
  li.setAttribute("aria-label", `class ${li.dataset.label}: ${(100 * p).toFixed(1)} percent`);
}

function showResult(result, ms) {
  const classes = state.model.classes;
  $("predicted").textContent = classes[result.predicted];
  $("predicted").dataset.class = String(result.predicted);
  const bars = $("bars").children;
  result.probabilities.forEach((p, k) => setBar(bars[k], p, k === result.predicted));
  $("bars").dataset.sum = String(result.probabilities.reduce((a, b) => a + b, 0));
  $("timing").textContent = `round trip ${ms.toFixed(0)} ms (model ${result.elapsed_ms.toFixed(1)} ms)`;
  $("timing").dataset.roundtrip = String(ms);
  for (const layer of result.layers) {
    const [, h, w] = layer.shape;
    layer.maps.forEach((b64, c) => {
      const canvas = document.querySelector(`[data-testid="map-${layer.name}-${c}"] canvas`);
      if (canvas) paint(canvas, decodeMap(b64), h, w, VIRIDIS);
    });
    const range = document.querySelector(`[data-testid="layer-${layer.name}"] .range`);
    if (range) range.textContent = `min ${fmt(layer.min)}, max ${fmt(layer.max)}`;
  }
  drawInputOverlay();
  if (state.selected) showDetail(false);
  if ($("occlusion-toggle").checked) occlusionNow();
  document.body.dataset.shown = String(++state.shown);
}

// -- what the network sees, with saliency and receptive field on top ----------------------------------------
function drawInputView() {
  const bytes = toBytes(state.image || new Float32Array(SIZE * SIZE), 0, 1);
  paint($("input-view"), bytes, SIZE, SIZE, GREY);
  paint($("detail-input"), bytes, SIZE, SIZE, GREY);
}

function drawInputOverlay() {
  drawOverlay($("input-overlay"));
  if (state.selected) drawOverlay($("detail-input-overlay"));
}

function drawOverlay(canvas) {
  const ctx = canvas.getContext("2d");
  const k = canvas.width / SIZE;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const sal = state.result && state.result.saliency;
  if ($("saliency-toggle").checked && sal) {
    // the gradient's magnitude as a translucent heat map: where a small change moves the class score most;
    // transparent where it is zero, so the digit stays visible under it
    const values = flat(sal);
    for (let i = 0; i < values.length; i++) {
      const t = Math.min(1, Math.max(0, values[i]));  // orange where weak, red where strong
      ctx.fillStyle = `rgba(255, ${Math.round(170 * (1 - t))}, ${Math.round(40 * t)}, ${0.9 * t})`;
      ctx.fillRect((i % SIZE) * k, Math.floor(i / SIZE) * k, k, k);
    }
  }
  const rf = selectedField();
  if (rf) {
    ctx.strokeStyle = "#ff4fa3";
    ctx.lineWidth = 2;
    ctx.strokeRect(rf.left * k + 1, rf.top * k + 1, (rf.right - rf.left + 1) * k - 2, (rf.bottom - rf.top + 1) * k - 2);
  }
}

// The input pixels the selected output pixel depends on: centre start + i * jump, half a field either side
// (from GET /api/model, computed by convgrad's geometry), clipped to the image.
function selectedField() {
  const s = state.selected;
  if (!s || s.y === null) return null;
  const layer = state.model.layers[s.layer];
  const half = (layer.receptive_field - 1) / 2;
  const clip = (v) => Math.min(SIZE - 1, Math.max(0, v));
  const cy = layer.start + s.y * layer.jump, cx = layer.start + s.x * layer.jump;
  return {top: clip(Math.floor(cy - half)), bottom: clip(Math.ceil(cy + half)),
          left: clip(Math.floor(cx - half)), right: clip(Math.ceil(cx + half))};
}

$("saliency-toggle").addEventListener("change", () => {
  $("input-caption").textContent = $("saliency-toggle").checked ?
    "what the network sees, and its saliency: |∂ score / ∂ pixel| for the predicted class (red: largest)" :
    "what the network sees (28×28, centred by mass)";
  if (state.image) { dirty = true; predictNow(); } else drawInputOverlay();
});
$("occlusion-toggle").addEventListener("change", () => {
  if ($("occlusion-toggle").checked && state.image) occlusionNow();
  else $("occlusion-figure").hidden = true;
});

// -- occlusion: how much the predicted class's score drops when a 4x4 patch hides each place -----------------
let occlusionBusy = false;

async function occlusionNow() {
  if (occlusionBusy || !state.image) return;
  occlusionBusy = true;
  const image = state.image;
  try {
    const occ = await api("/api/occlusion", {image: rows2d(image), target: null, window: 4, stride: 2});
    const values = flat(occ.map);
    const m = Math.max(...values.map(Math.abs)) || 1;
    paint($("occlusion-map"), toBytes(values, -m, m), occ.shape[0], occ.shape[1], DIVERGING);
    $("occlusion-caption").textContent = `occlusion for class ${state.model.classes[occ.target]}: red = ` +
      `hiding this ${occ.window}×${occ.window} patch lowers the score (max drop ${fmt(m)})`;
    $("occlusion-figure").hidden = false;
    $("occlusion-figure").dataset.target = String(occ.target);
  } catch (err) {
    showError(err);
  } finally {
    occlusionBusy = false;
    if (state.image !== image && $("occlusion-toggle").checked) occlusionNow();
  }
}

// -- the layers, a row of small maps each ------------------------------------------------------------------
function buildLayers(model) {
  const root = $("layers");
  root.textContent = "";
  model.layers.forEach((layer, li) => {
    const [c, h, w] = layer.output_shape;
    const row = document.createElement("div");
    row.className = "layer";
    row.setAttribute("data-testid", "layer-" + layer.name);
    const title = document.createElement("div");
    title.className = "layer-title";
    const extra = layer.kernel_size ? ` · kernel ${layer.kernel_size.join("×")}` : "";
    title.innerHTML = `<strong></strong> <span class="muted"></span> <span class="range muted"></span>`;
    title.querySelector("strong").textContent = layer.name;
    title.querySelector("span").textContent = `${layer.type} · ${c}×${h}×${w}${extra} · receptive field ` +
      `${layer.receptive_field}`;
    row.appendChild(title);
    const maps = document.createElement("div");
    maps.className = "maps";
    // as large as a single row allows (16 maps fit at 1280 pixels), never below 22 or above 56 pixels
    const px = Math.max(22, Math.min(56, Math.floor(root.clientWidth / c) - 7));
    for (let k = 0; k < c; k++) {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "fmap-btn";
      btn.setAttribute("data-testid", `map-${layer.name}-${k}`);
      btn.setAttribute("aria-label", `${layer.name} channel ${k}: enlarge`);
      btn.title = `${layer.name} · channel ${k}`;
      const canvas = document.createElement("canvas");
      canvas.className = "fmap px";
      canvas.width = w;
      canvas.height = h;
      canvas.style.width = px + "px";
      canvas.style.height = Math.round(px * h / w) + "px";
      btn.appendChild(canvas);
      btn.addEventListener("click", () => selectMap(li, k));
      maps.appendChild(btn);
    }
    row.appendChild(maps);
    root.appendChild(row);
  });
}

function buildBars(model) {
  const ol = $("bars");
  ol.textContent = "";
  model.classes.forEach((name, k) => {
    const li = document.createElement("li");
    li.setAttribute("data-testid", `bar-${k}`);
    li.dataset.label = name;
    li.innerHTML = `<span class="cls"></span><span class="track"><span class="fill"></span></span>` +
      `<span class="pct"></span>`;
    li.querySelector(".cls").textContent = name;
    ol.appendChild(li);
    setBar(li, 0, false);
  });
}

// -- the enlarged map, its kernel and its receptive field ----------------------------------------------------
function mapBytes(layerIndex, channel) {
  const layer = state.result && state.result.layers.find((l) => l.name === state.model.layers[layerIndex].name);
  return layer ? decodeMap(layer.maps[channel]) : null;
}

// The Conv2d whose kernel made this map: the layer itself, or the nearest one before it (ReLU and pooling
// work channel by channel, so channel k still comes from that convolution's kernel k).
function makingConv(layerIndex) {
  for (let i = layerIndex; i >= 0; i--) if (state.model.layers[i].type === "Conv2d") return i;
  return null;
}

function selectMap(layerIndex, channel) {
  const bytes = mapBytes(layerIndex, channel);
  let y = null, x = null;
  if (bytes) {  // start at the map's strongest response: its receptive field is the interesting one
    const best = bytes.reduce((bi, v, i, a) => (v > a[bi] ? i : bi), 0);
    const w = state.model.layers[layerIndex].output_shape[2];
    y = Math.floor(best / w);
    x = best % w;
  }
  state.selected = {layer: layerIndex, channel, y, x};
  for (const b of document.querySelectorAll(".fmap-btn.selected")) b.classList.remove("selected");
  const btn = document.querySelector(`[data-testid="map-${state.model.layers[layerIndex].name}-${channel}"]`);
  if (btn) btn.classList.add("selected");
  showDetail(true);
  $("detail").scrollIntoView({block: "nearest"});  // instant: a click right after lands where it aims
}

let kernelKey = null;

async function showDetail(fresh) {
  const s = state.selected, layer = state.model.layers[s.layer];
  const [, h, w] = layer.output_shape;
  $("detail").hidden = false;
  $("detail-title").textContent = `${layer.name} · ${layer.type} · channel ${s.channel}`;
  $("detail").dataset.layer = layer.name;
  $("detail").dataset.channel = String(s.channel);
  const bytes = mapBytes(s.layer, s.channel);
  if (bytes) paint($("detail-map"), bytes, h, w, VIRIDIS);
  drawDetailMarker();
  drawInputOverlay();
  const rf = selectedField();
  $("detail-caption").textContent = `${h}×${w} map` + (rf ? `; pixel (${s.y}, ${s.x}) sees input rows ` +
    `${rf.top}-${rf.bottom}, columns ${rf.left}-${rf.right} (pink box on the digit, right)` : "");
  const conv = makingConv(s.layer);
  const key = conv === null ? null : `${state.model.layers[conv].name}/${s.channel}`;
  if (fresh || key !== kernelKey) {
    kernelKey = key;
    await showKernel(conv, s.channel, s.layer);
  }
  explainNow();
}

function drawDetailMarker() {
  const s = state.selected, overlay = $("detail-overlay");
  const [, h, w] = state.model.layers[s.layer].output_shape;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (s.y === null) return;
  const sy = overlay.height / h, sx = overlay.width / w;
  ctx.strokeStyle = "#ff4fa3";
  ctx.lineWidth = 3;
  ctx.strokeRect(s.x * sx + 1.5, s.y * sy + 1.5, sx - 3, sy - 3);
}

$("detail-map").addEventListener("click", (ev) => {
  const s = state.selected;
  if (!s) return;
  const [, h, w] = state.model.layers[s.layer].output_shape;
  const r = $("detail-map").getBoundingClientRect();
  s.y = Math.min(h - 1, Math.floor((ev.clientY - r.top) * h / r.height));
  s.x = Math.min(w - 1, Math.floor((ev.clientX - r.left) * w / r.width));
  showDetail(false);
});

// The arrow keys move the picked position too, so the panel works without a mouse.
const ARROWS = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
$("detail-map").addEventListener("keydown", (ev) => {
  const s = state.selected, step = ARROWS[ev.key];
  if (!s || !step || s.y === null) return;
  ev.preventDefault();
  const [, h, w] = state.model.layers[s.layer].output_shape;
  s.y = Math.min(h - 1, Math.max(0, s.y + step[0]));
  s.x = Math.min(w - 1, Math.max(0, s.x + step[1]));
  showDetail(false);
});

// A table of numbers with each cell coloured by its value (blue negative, red positive, symmetric scale).
function numberGrid(grid, testid, digits = 2) {
  const values = grid.flat();
  const m = Math.max(...values.map(Math.abs)) || 1;
  const table = document.createElement("table");
  table.className = "numbers";
  if (testid) table.setAttribute("data-testid", testid);
  for (const row of grid) {
    const tr = table.insertRow();
    for (const v of row) {
      const td = tr.insertCell();
      const b = Math.round(255 * (0.5 + 0.5 * v / m));
      td.style.background = `rgb(${DIVERGING[3 * b]}, ${DIVERGING[3 * b + 1]}, ${DIVERGING[3 * b + 2]})`;
      td.style.color = Math.abs(v / m) > 0.6 ? "#fff" : "#111";
      td.textContent = fmt(v, digits);
    }
  }
  return table;
}

async function showKernel(convIndex, channel, layerIndex) {
  const box = $("kernel");
  box.textContent = "";
  if (convIndex === null) {
    box.textContent = "No convolution before this layer.";
    return;
  }
  const conv = state.model.layers[convIndex];
  try {
    const k = await api(`/api/kernel?layer=${encodeURIComponent(conv.name)}&channel=${channel}`);
    const head = document.createElement("p");
    const via = convIndex === layerIndex ? "" : ` (then ${state.model.layers.slice(convIndex + 1, layerIndex + 1)
      .map((l) => l.type).join(", ")})`;
    head.textContent = `Made by ${conv.name}'s kernel ${channel}${via}: ${k.weight.length} input ` +
      `channel${k.weight.length > 1 ? "s" : ""} × ${k.weight[0].length}×${k.weight[0][0].length}, ` +
      `bias ${k.bias === null ? "none" : fmt(k.bias, 3)}`;
    box.appendChild(head);
    const grids = document.createElement("div");
    grids.className = "grids";
    k.weight.forEach((g, c) => {
      const fig = document.createElement("figure");
      fig.appendChild(numberGrid(g, `kernel-${c}`));
      const cap = document.createElement("figcaption");
      cap.textContent = `input channel ${c}`;
      fig.appendChild(cap);
      grids.appendChild(fig);
    });
    box.appendChild(grids);
  } catch (err) {
    showError(err);
  }
}

// -- how convolution works: one output value, recomputed from its window ------------------------------------
let explainToken = 0;

async function explainNow() {
  const s = state.selected, layer = state.model.layers[s.layer];
  const body = $("conv-body");
  const token = ++explainToken;
  if (layer.type !== "Conv2d" || s.y === null || !state.image) {
    body.textContent = "";
    delete $("conv").dataset.sum;
    $("conv-hint").textContent = layer.type === "Conv2d" ? "Draw a digit, then click a position on the map." :
      `${layer.name} is a ${layer.type} layer: pick a map in a Conv2d row (` +
      state.model.layers.filter((l) => l.type === "Conv2d").map((l) => l.name).join(", ") +
      ") to see the kernel window, the products and their sum.";
    return;
  }
  try {
    const ex = await api("/api/conv_explain", {image: rows2d(state.image), layer: layer.name,
                                                channel: s.channel, y: s.y, x: s.x});
    if (token === explainToken) showExplanation(ex);
  } catch (err) {
    showError(err);
  }
}

function showExplanation(ex) {
  const body = $("conv-body");
  body.textContent = "";
  $("conv-hint").textContent = `Output (${ex.y}, ${ex.x}) of channel ${ex.channel} is the sum of the kernel ` +
    `times the input values under it, plus the bias (cross-correlation: the kernel is not flipped). The ` +
    `window covers rows ${ex.input_region.top}..${ex.input_region.top + ex.input_region.height - 1}, ` +
    `columns ${ex.input_region.left}..${ex.input_region.left + ex.input_region.width - 1} of the layer's ` +
    "input (zeros where it hangs over the padding)" + (state.model.layers[0].name === ex.layer ?
      ": the digit normalised as in training (minus the data set's mean, over its std)." : ".");
  const subtotals = ex.products.map((g) => g.flat().reduce((a, b) => a + b, 0));
  const sumLine = document.createElement("p");
  sumLine.className = "sum-line";
  const terms = subtotals.map((v, i) => (i === 0 ? fmt(v, 3) : (v < 0 ? " − " : " + ") + fmt(Math.abs(v), 3)))
    .join("");
  sumLine.innerHTML = `<span></span> <strong data-testid="conv-sum"></strong> &nbsp; ` +
    `<span class="muted">layer output:</span> <strong data-testid="conv-output"></strong>`;
  sumLine.querySelector("span").textContent = `Σ products ${subtotals.length > 1 ? `(${terms}) ` : ""}` +
    `+ bias ${fmt(ex.bias, 3)} =`;
  sumLine.querySelector('[data-testid="conv-sum"]').textContent = fmt(ex.sum, 4);
  sumLine.querySelector('[data-testid="conv-output"]').textContent = fmt(ex.output, 4);
  $("conv").dataset.sum = String(ex.sum);
  $("conv").dataset.y = String(ex.y);
  $("conv").dataset.x = String(ex.x);
  $("conv").dataset.output = String(ex.output);
  body.appendChild(sumLine);
  // one row per input channel: window ⊙ kernel = products, as in the lecture's 2x2 example
  ex.window.forEach((win, c) => {
    const row = document.createElement("div");
    row.className = "conv-row";
    row.setAttribute("data-testid", `conv-channel-${c}`);
    const label = document.createElement("div");
    label.className = "conv-label";
    label.textContent = `input ${c}`;
    row.appendChild(label);
    row.appendChild(windowOnInput(ex, c));
    const parts = [[win, "window"], ["×"], [ex.kernel[c], "kernel"], ["="], [ex.products[c], "products"]];
    for (const [grid, name] of parts) {
      if (!name) {
        const op = document.createElement("span");
        op.className = "op";
        op.textContent = grid;
        row.appendChild(op);
        continue;
      }
      const fig = document.createElement("figure");
      fig.appendChild(numberGrid(grid, `conv-${name}-${c}`));
      const cap = document.createElement("figcaption");
      cap.textContent = name;
      fig.appendChild(cap);
      row.appendChild(fig);
    }
    const sub = document.createElement("span");
    sub.className = "op";
    sub.textContent = `Σ ${fmt(subtotals[c], 3)}`;
    row.appendChild(sub);
    body.appendChild(row);
  });
  // the first channel written out term by term, the lecture's way (0×0 + 1×1 + 3×2 + 4×3 = 19)
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "written out (input 0)";
  details.appendChild(summary);
  const text = document.createElement("p");
  text.className = "written";
  text.textContent = ex.window[0].flat().map((v, i) => `${fmt(v)}×${fmt(ex.kernel[0].flat()[i])}`).join(" + ") +
    ` = ${fmt(subtotals[0], 3)}`;
  details.appendChild(text);
  body.appendChild(details);
}

// The layer's input map c with the kernel window drawn on it, so the numbers have a place: the digit for the
// first convolution, the previous layer's map (as the API quantised it) for the others.
function windowOnInput(ex, c) {
  const index = state.model.layers.findIndex((l) => l.name === ex.layer);
  let bytes, h, w;
  if (index === 0) {
    bytes = toBytes(state.image, 0, 1);
    h = w = SIZE;
  } else {
    const prev = state.result.layers.find((l) => l.name === state.model.layers[index - 1].name);
    [, h, w] = prev.shape;
    bytes = decodeMap(prev.maps[c]);
  }
  const tmp = document.createElement("canvas");
  paint(tmp, bytes, h, w, index === 0 ? GREY : VIRIDIS);
  const view = document.createElement("canvas");
  view.width = view.height = 112;
  view.className = "window-view";
  view.setAttribute("role", "img");
  view.setAttribute("aria-label", `input map ${c} with the kernel window`);
  const ctx = view.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, view.width, view.height);
  const r = ex.input_region, k = view.width / w;
  ctx.strokeStyle = "#ff4fa3";
  ctx.lineWidth = 2;
  ctx.strokeRect(r.left * k + 1, r.top * k + 1, r.width * k - 2, r.height * k - 2);
  const fig = document.createElement("figure");
  fig.appendChild(view);
  const cap = document.createElement("figcaption");
  cap.textContent = index === 0 ? "the digit" : `${state.model.layers[index - 1].name} map ${c}`;
  fig.appendChild(cap);
  return fig;
}

// -- test digits -------------------------------------------------------------------------------------------
function buildSamples(samples) {
  const root = $("samples");
  root.textContent = "";
  samples.forEach((s, i) => {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "sample";
    btn.setAttribute("data-testid", `sample-${i}`);
    btn.dataset.index = String(s.index);
    btn.dataset.label = String(s.label);
    btn.setAttribute("aria-label", `test digit ${s.index} (a ${s.label})`);
    btn.title = `test digit #${s.index}, label ${s.label}`;
    const canvas = document.createElement("canvas");
    canvas.className = "px";
    const values = flat(s.image);
    paint(canvas, toBytes(values, 0, 1), SIZE, SIZE, GREY);
    btn.appendChild(canvas);
    btn.addEventListener("click", () => {
      state.sample = values;
      state.strokes = [];
      redrawPad();
      inputChanged();
    });
    root.appendChild(btn);
  });
}

// -- start -------------------------------------------------------------------------------------------------
async function start() {
  redrawPad();
  drawInputView();
  try {
    const [model, samples] = await Promise.all([api("/api/model"), api("/api/samples?count=8&offset=0")]);
    state.model = model;
    $("model-info").textContent = `${model.name} · ${model.classes.length} classes · input ` +
      `${model.input_size.join("×")} · ${model.checkpoint}`;
    buildBars(model);
    buildLayers(model);
    buildSamples(samples.samples);
    document.body.dataset.ready = String(performance.now());
  } catch (err) {
    showError(err);
  }
}

start();
