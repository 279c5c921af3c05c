// dronesr web page: plain JavaScript, no build step, no external resources.
// It calls TorchServe's inference API directly (POST predictions/<model> as a multipart form,
// GET ping), at the address the page's own server gives in config.json (frontend/server.py);
// TorchServe's CORS settings allow this page's origin and no other.
"use strict";

(() => {
  // The server's limits, as it states them: the upload size (config.json: TorchServe's
  // max_request_size) and each model's pixel limits (models.json: its model-config.yaml). The
  // server checks them itself; the page only warns before sending.
  let maxUploadBytes = null;
  const TIMEOUT_S = 300; // TorchServe's own response timeout (config.properties)
  const MODEL_TITLES = { srgan: "SRGAN", srresnet: "SRResNet", style: "style-transfer" };
  // The SR models offered are the ones models.json lists (the page's server: what `make archive`
  // wrote for every model TorchServe serves, your own ones included); these shipped ones, with
  // their blurbs, until it answers.
  const SHIPPED_SR = [
    { name: "srgan", task: "super-resolution", scale: 4, fidelity: true, default_fidelity: 0.5, restore: true, blurb: "sharper, invents fine texture" },
    { name: "srresnet", task: "super-resolution", scale: 4, fidelity: false, restore: true, blurb: "smoother, closest to the real pixels" },
  ];
  const blurbOf = (name) => (SHIPPED_SR.find((m) => m.name === name) || {}).blurb;
  const OUTSCALES = [1.5, 2, 2.5, 3, 4, 8]; // offered up to the model's own scale
  // Titles of the shipped styles; a style the model has and this list does not is shown by name.
  const STYLE_TITLES = [
    { name: "starry_night", title: "The Starry Night", artist: "after van Gogh" },
    { name: "the_scream", title: "The Scream", artist: "after Munch" },
    { name: "shipwreck", title: "The Shipwreck", artist: "after Turner" },
    { name: "woman-with-hat-matisse", title: "Woman with a Hat", artist: "after Matisse" },
    { name: "udnie", title: "Udnie", artist: "after Picabia" },
    { name: "mosaic", title: "Mosaic", artist: "stained glass" },
  ];
  const modelTitle = (name) => MODEL_TITLES[name] || name;
  const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ small helpers
  const dims = (w, h) => `${w} × ${h} px`;
  function megapixels(n) {
    return n >= 100_000 ? `${(n / 1e6).toFixed(n >= 10e6 ? 0 : 1)} MP` : `${n.toLocaleString("en")} pixels`;
  }
  function formatBytes(n) {
    if (n < 1024) return `${n} bytes`;
    if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }
  function baseName(fileName) {
    const stem = (fileName || "photo").replace(/\.[^.]*$/, "");
    return stem.replace(/[^\w.-]+/g, "_").slice(0, 60) || "photo";
  }
  function show(element, visible) {
    element.hidden = !visible;
  }
  function radioInput(name, value, checked) {
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = name;
    radio.value = value;
    radio.checked = checked;
    return radio;
  }

  class ObjectUrls {
    constructor() { this.urls = new Map(); }
    set(key, blob) {
      this.revoke(key);
      const url = URL.createObjectURL(blob);
      this.urls.set(key, url);
      return url;
    }
    revoke(key) {
      if (this.urls.has(key)) URL.revokeObjectURL(this.urls.get(key));
      this.urls.delete(key);
    }
  }
  const objectUrls = new ObjectUrls();

  // A problem to show: a headline a person understands plus the server's own sentence.
  class Problem extends Error {
    constructor(headline, detail = "", kind = "error") {
      super(headline);
      this.headline = headline;
      this.detail = detail;
      this.kind = kind; // "error" or "info" (cancelled by the user)
    }
  }

  // The headline of each stable error code of this project's replies (dronesr/errors.py); the
  // message under it is the server's own sentence.
  const CODE_HEADLINES = {
    no_image: "The request carried no photo.",
    bad_image: "The image file is damaged or incomplete.",
    unsupported_format: "That file is not an image the server can read.",
    too_large: "The photo is too large for the server.",
    bad_parameter: "The server did not accept one of the settings.",
    unknown_parameter: "The server did not accept one of the settings.",
    not_acceptable: "The server cannot send the chosen format.",
    out_of_memory: "The server ran out of memory for this photo.",
    timeout: "The upload took too long to arrive.",
    too_many_connections: "The server has too many open connections. Please try again in a moment.",
  };

  function problemFromResponse(status, statusText, body, model) {
    const message = body && typeof body.message === "string" ? body.message : "";
    const type = body && typeof body.type === "string" ? body.type : "";
    // this project's replies carry a word; TorchServe's own ones the status as a number
    const code = body && typeof body.code === "string" ? body.code : "";
    const title = modelTitle(model);
    let headline;
    let serverDown = false;
    if (status === 413) {
      headline = "The file is too large to upload.";
    } else if (CODE_HEADLINES[code]) {
      headline = CODE_HEADLINES[code];
    } else if (status === 404 && type === "ModelNotFoundException") {
      headline = `The ${title} model is not loaded on this server.`;
    } else if (status === 502) {
      headline = "The model server is not running, or not answering.";
      serverDown = true;
    } else if (status === 503) {
      headline = "The model server is busy or still starting. Please try again in a moment.";
    } else if (status === 504) {
      headline = "The model server took too long to answer.";
    } else if (status >= 500) {
      headline = "The server failed while working on the photo.";
    } else {
      headline = "The server did not accept the request.";
    }
    const detail = message || `The server answered HTTP ${status}${statusText ? " " + statusText : ""}.`;
    const problem = new Problem(headline, detail);
    problem.serverDown = serverDown;
    return problem;
  }

  function problemFromFailure(error, job) {
    if (job && job.reason === "timeout") {
      return new Problem(
        `No answer after ${job.timeoutS} seconds, so the page stopped waiting.`,
        "Large photos take a long time on this server's processor: try a smaller photo, or try again later.",
      );
    }
    if (job && job.reason === "cancel") return new Problem("Cancelled.", "The photo was not processed.", "info");
    const problem = new Problem(
      "Could not reach the server.",
      `Nothing answered at ${apiBase || "the model server"}. Check that TorchServe is running (make serve).`,
    );
    problem.serverDown = true;
    return problem;
  }

  function showProblem(box, problem) {
    box.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = problem.headline;
    box.append(strong);
    if (problem.detail) {
      box.append(" ");
      const span = document.createElement("span");
      span.className = "detail";
      span.textContent = problem.detail;
      box.append(span);
    }
    box.classList.toggle("error", problem.kind === "error");
    box.classList.toggle("info", problem.kind !== "error");
    show(box, true);
  }

  // ------------------------------------------------------------------ talking to the server
  // One request in flight per section: an AbortController that fires on timeout or on Cancel,
  // and a ticking "N s" so the page never waits silently.
  class Job {
    constructor({ label, progress, progressText, cancelButton, timeoutS = TIMEOUT_S }) {
      this.controller = new AbortController();
      this.signal = this.controller.signal;
      this.reason = null;
      this.timeoutS = timeoutS;
      this.started = performance.now();
      this.progress = progress;
      this.progressText = progressText;
      this.cancelButton = cancelButton;
      this.label = label;
      this.timer = setTimeout(() => this.abort("timeout"), timeoutS * 1000);
      if (progress) {
        this.tick();
        this.ticker = setInterval(() => this.tick(), 1000);
        show(progress, true);
      }
      if (cancelButton) {
        this.onCancel = () => this.abort("cancel");
        cancelButton.addEventListener("click", this.onCancel);
        show(cancelButton, true);
      }
    }
    get seconds() { return (performance.now() - this.started) / 1000; }
    tick() {
      const s = Math.floor(this.seconds);
      this.progressText.textContent = `${this.label} — ${s} s (the page stops waiting after ${this.timeoutS} s)`;
    }
    abort(reason) {
      if (this.reason) return;
      this.reason = reason;
      this.controller.abort();
    }
    finish() {
      clearTimeout(this.timer);
      clearInterval(this.ticker);
      if (this.progress) show(this.progress, false);
      if (this.cancelButton) {
        this.cancelButton.removeEventListener("click", this.onCancel);
        show(this.cancelButton, false);
      }
    }
  }

  // Where TorchServe's inference API is: config.json from the page's own server.
  let apiBase = "";
  const apiReady = (async () => {
    try {
      const response = await fetch("config.json", { cache: "no-store" });
      const config = await response.json();
      if (typeof config.api === "string" && /^https?:\/\//.test(config.api)) apiBase = config.api.replace(/\/+$/, "");
      if (Number.isInteger(config.max_upload_bytes)) maxUploadBytes = config.max_upload_bytes;
    } catch (_) { /* keep the default below */ }
    if (!apiBase) apiBase = `${location.protocol}//${location.hostname}:8080`;
    return apiBase;
  })();

  // The models served, from models.json; null when the page's server cannot say.
  // modelsChecked: the list is TorchServe's own (its management API answered), not only the notes.
  let modelsChecked = false;
  const modelsReady = (async () => {
    try {
      const response = await fetch("models.json", { cache: "no-store" });
      const listed = await response.json();
      modelsChecked = listed.checked === true;
      return Array.isArray(listed.models) ? listed.models : null;
    } catch (_) {
      return null;
    }
  })();

  // POST the image as a multipart form (the file in "data", parameters beside it): a plain
  // cross-origin form post, which needs no CORS preflight. Resolve to the result or throw a Problem.
  async function predict(model, file, params, job) {
    let response, blob;
    try {
      const body = new FormData();
      body.append("data", file, (file && file.name) || "photo");
      for (const [name, value] of Object.entries(params)) body.append(name, String(value));
      const api = await apiReady;
      response = await fetch(`${api}/predictions/${encodeURIComponent(model)}`, { method: "POST", body, signal: job.signal });
      if (!response.ok) {
        let parsed = null;
        try { parsed = JSON.parse(await response.text()); } catch (_) { /* not JSON */ }
        throw problemFromResponse(response.status, response.statusText, parsed, model);
      }
      blob = await response.blob();
    } catch (error) {
      if (error instanceof Problem) throw error;
      throw problemFromFailure(error, job);
    }
    const type = (response.headers.get("Content-Type") || blob.type || "").split(";")[0].trim();
    return {
      blob,
      type,
      outputSize: response.headers.get("X-Output-Size"),
      tiles: response.headers.get("X-Tiles"),
      restore: response.headers.get("X-Restore"), // the restoration the server used, and why
      ensemble: response.headers.get("X-Ensemble"), // passes averaged (8: self-ensemble), and why
      seconds: job.seconds,
    };
  }

  async function checkServer() {
    const dot = $("server-dot");
    const state = $("server-state");
    const api = await apiReady;
    $("server-origin").textContent = api;
    const job = new Job({ label: "ping", timeoutS: 10 });
    try {
      const response = await fetch(`${api}/ping`, { signal: job.signal, cache: "no-store" });
      if (response.ok) {
        dot.className = "dot ok";
        state.textContent = "— the model server is up.";
      } else {
        dot.className = "dot warn";
        state.textContent = `— the model server answered HTTP ${response.status}.`;
      }
    } catch (_) {
      dot.className = "dot bad";
      state.textContent = "— not answering (start it with make serve).";
    } finally {
      job.finish();
    }
  }

  // ------------------------------------------------------------------ choosing a photo
  async function readPhoto(file) {
    // The browser's own decoder gives the size (and the bicubic comparison). A file it cannot
    // decode (TIFF, or not an image at all) may still be sent: the server has the last word.
    try {
      const bitmap = await createImageBitmap(file);
      return { file, bitmap, width: bitmap.width, height: bitmap.height };
    } catch (_) {
      return { file, bitmap: null, width: 0, height: 0 };
    }
  }

  function wireDropZone(zone, input, onFile) {
    input.addEventListener("change", () => {
      if (input.files && input.files[0]) onFile(input.files[0]);
    });
    zone.addEventListener("dragenter", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; zone.classList.add("dragging"); });
    zone.addEventListener("dragleave", (e) => {
      if (!zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      const file = e.dataTransfer.files && e.dataTransfer.files[0];
      if (file && !input.disabled) onFile(file);
    });
  }
  // A photo dropped beside a drop zone must not make the browser leave the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  function describePhoto(photo, key, nameEl, thumbEl) {
    nameEl.textContent = `${photo.file.name || "photo"} · ${formatBytes(photo.file.size)}`;
    if (photo.bitmap) {
      thumbEl.src = objectUrls.set(key, photo.file);
      show(thumbEl, true);
    } else {
      objectUrls.revoke(key);
      thumbEl.removeAttribute("src");
      show(thumbEl, false);
    }
  }

  // Sentences that warn before sending a photo the server will refuse (empty: none).
  function limitWarnings(photo, scale, served = {}) {
    const warnings = [];
    const { width: w, height: h } = photo;
    const LIMITS = {
      maxInputPixels: Number.isInteger(served.max_input_pixels) ? served.max_input_pixels : Infinity,
      maxOutputPixels: Number.isInteger(served.max_output_pixels) ? served.max_output_pixels : Infinity,
    };
    if (maxUploadBytes !== null && photo.file.size > maxUploadBytes) {
      warnings.push(`The file is ${formatBytes(photo.file.size)}, over the server's upload limit of ${formatBytes(maxUploadBytes)}.`);
    }
    if (photo.bitmap) {
      const pixels = w * h;
      const outPixels = pixels * scale * scale;
      const fit = Math.min(LIMITS.maxInputPixels / pixels, LIMITS.maxOutputPixels / outPixels);
      if (pixels > LIMITS.maxInputPixels) {
        warnings.push(`The photo has ${megapixels(pixels)}, over the server's limit of ${megapixels(LIMITS.maxInputPixels)} per photo.`);
      } else if (outPixels > LIMITS.maxOutputPixels) {
        warnings.push(
          `The result would be ${dims(w * scale, h * scale)} (${megapixels(outPixels)}), over the server's limit of ${megapixels(LIMITS.maxOutputPixels)} per result.`,
        );
      }
      if (fit < 1) {
        const s = Math.sqrt(fit);
        warnings.push(`Shrink it to ${dims(Math.floor(w * s), Math.floor(h * s))} or smaller first; if you send it as it is, the server will refuse it.`);
      }
    }
    return warnings;
  }

  // ------------------------------------------------------------------ before/after slider
  function makeCompare(container, before, handle) {
    let position = 50;
    let dragging = false;
    const set = (value) => {
      position = Math.max(0, Math.min(100, value));
      before.style.clipPath = `inset(0 ${100 - position}% 0 0)`;
      handle.style.left = `${position}%`;
      handle.setAttribute("aria-valuenow", String(Math.round(position)));
      handle.setAttribute("aria-valuetext", `${Math.round(position)}% bicubic, ${100 - Math.round(position)}% model`);
    };
    const fromPointer = (e) => {
      const box = container.getBoundingClientRect();
      set(((e.clientX - box.left) / box.width) * 100);
    };
    container.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      dragging = true;
      container.setPointerCapture(e.pointerId);
      container.classList.add("dragging");
      fromPointer(e);
      handle.focus({ preventScroll: true });
      e.preventDefault();
    });
    container.addEventListener("pointermove", (e) => { if (dragging) fromPointer(e); });
    const stop = () => { dragging = false; container.classList.remove("dragging"); };
    container.addEventListener("pointerup", stop);
    container.addEventListener("pointercancel", stop);
    handle.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 10 : 2;
      const moves = { ArrowLeft: -step, ArrowDown: -step, ArrowRight: step, ArrowUp: step };
      if (e.key in moves) set(position + moves[e.key]);
      else if (e.key === "Home") set(0);
      else if (e.key === "End") set(100);
      else return;
      e.preventDefault();
    });
    set(50);
    return { set, get position() { return position; } };
  }

  // ------------------------------------------------------------------ super-resolution
  function setupSuperResolution() {
    const form = $("sr-form");
    const input = $("sr-file");
    const send = $("sr-send");
    const error = $("sr-error");
    const warning = $("sr-warning");
    const resultBox = $("sr-result-box");
    const resultImg = $("sr-result");
    const canvas = $("sr-bicubic");
    const compare = $("sr-compare");
    const handle = $("sr-handle");
    const slider = makeCompare(compare, canvas, handle);
    const fidelity = $("sr-fidelity");
    const restore = $("sr-restore");
    const restoreAuto = $("sr-restore-auto");
    const outscale = $("sr-outscale");
    const mapToggle = $("sr-map");
    const mapOverlay = $("sr-map-overlay");
    let models = [];
    let photo = null;
    let region = null; // {x, y, w, h} in the photo's pixels, or null: the whole photo
    let lastRequest = null; // what the shown result was made from: the invention map asks the same
    let busy = false;
    let fidelityAtDefault = fidelity.value; // the slider's value at the model's default (what sends no fidelity)

    const selectedModel = () => (form.querySelector('input[name="model"]:checked') || {}).value;
    const selectedInfo = () => models.find((m) => m.name === selectedModel()) || models[0];
    const chosenScale = () => Number(outscale.value) || selectedInfo().scale;
    const factor = (s) => `×${s}`;
    const outSize = (n, s) => Math.floor(n * s + 0.5); // the server's round(s * side)

    // One radio per SR model served: the shipped ones with their blurbs, yours with architecture and scale.
    function listModels(served) {
      const sr = (served || []).filter((m) => m.task === "super-resolution" && Number.isInteger(m.scale));
      if (!sr.length) return;
      const keep = selectedModel();
      models = sr.sort((a, b) => (blurbOf(a.name) ? 0 : 1) - (blurbOf(b.name) ? 0 : 1) || a.name.localeCompare(b.name));
      const fieldset = $("sr-models");
      fieldset.querySelectorAll("label.option").forEach((el) => el.remove());
      models.forEach((m) => {
        const label = document.createElement("label");
        label.className = "option";
        const radio = radioInput("model", m.name, m.name === keep);
        const text = document.createElement("span");
        const name = document.createElement("strong");
        name.textContent = modelTitle(m.name);
        const blurb = document.createElement("span");
        blurb.className = "muted";
        blurb.textContent = ` — ${blurbOf(m.name) || `${m.architecture || "network"} ×${m.scale}, your own model`}`;
        text.append(name, blurb);
        label.append(radio, text);
        fieldset.append(label);
      });
      if (!fieldset.querySelector("input:checked")) fieldset.querySelector("input").checked = true;
      modelChanged();
    }

    const defaultFidelity = (info) => Number(info.default_fidelity) || 0;
    const showFidelity = () => { $("sr-fidelity-value").textContent = Number(fidelity.value).toFixed(2); };
    // Automatic: the slider is off, no restore is sent and the server decides from the file.
    function showRestore() {
      restore.disabled = busy || restoreAuto.checked;
      $("sr-restore-value").textContent = restoreAuto.checked ? "auto" : Number(restore.value).toFixed(2);
    }

    // The fidelity slider (at the model's default) and the restoration control for models that
    // have them, and the scales the model can give.
    function modelChanged() {
      const info = selectedInfo();
      show($("sr-fidelity-field"), Boolean(info.fidelity));
      show($("sr-restore-field"), Boolean(info.restore));
      fidelity.value = String(defaultFidelity(info));
      fidelityAtDefault = fidelity.value; // as the slider holds it (a default off its steps is rounded to one)
      showFidelity();
      const previous = Number(outscale.value);
      outscale.replaceChildren();
      OUTSCALES.filter((s) => s <= info.scale).forEach((s) => {
        const option = document.createElement("option");
        option.value = String(s);
        option.textContent = s === info.scale ? `${factor(s)} (the model's own)` : factor(s);
        option.selected = s === (previous <= info.scale && previous > 1 ? previous : info.scale);
        outscale.append(option);
      });
      scaleChanged();
    }

    function scaleChanged() {
      const s = chosenScale();
      $("sr-badge").textContent = factor(s);
      send.textContent = `Enlarge ${factor(s)}`;
      if (photo) describeSizes();
    }

    function describeSizes() {
      const sizes = $("sr-sizes");
      const s = chosenScale();
      if (photo.bitmap) {
        const { w, h } = region || { w: photo.width, h: photo.height };
        const [ow, oh] = [outSize(w, s), outSize(h, s)];
        sizes.replaceChildren(
          document.createTextNode(region ? "Region " : "Photo "), strong(dims(w, h)),
          document.createTextNode(` → result `), strong(dims(ow, oh)),
          document.createTextNode(` (${factor(s)}, ${megapixels(ow * oh)})`),
        );
      } else {
        sizes.textContent = "Your browser cannot preview this file, so its size is not known yet; the server will check it when you send it.";
      }
      const { scale, limits } = selectedInfo();
      const warnings = limitWarnings(region ? { ...photo, width: region.w, height: region.h } : photo, scale, limits);
      warning.textContent = warnings.join(" ");
      show(warning, warnings.length > 0);
    }

    async function choose(file) {
      show(error, false);
      show(resultBox, false);
      photo = await readPhoto(file);
      describePhoto(photo, "sr-thumb", $("sr-name"), $("sr-thumb"));
      setRegion(null);
      $("sr-region-photo").src = photo.bitmap ? $("sr-thumb").src : "";
      show($("sr-region-picker"), Boolean(photo.bitmap));
      describeSizes();
      show($("sr-info"), true);
      send.disabled = busy;
    }

    // ---- the region: a box dragged on the photo, kept in the photo's own pixels
    function setRegion(value) {
      region = value;
      const box = $("sr-region-box");
      show(box, Boolean(region));
      show($("sr-region-clear"), Boolean(region));
      $("sr-region-text").textContent = region
        ? `Region: ${region.w} × ${region.h} px at (${region.x}, ${region.y})`
        : "Region: the whole photo";
      if (region) {
        const img = $("sr-region-photo");
        const k = img.clientWidth / photo.width;
        Object.assign(box.style, { left: `${region.x * k}px`, top: `${region.y * k}px`, width: `${region.w * k}px`, height: `${region.h * k}px` });
      }
      if (photo) describeSizes();
    }

    function wireRegionPicker() {
      const frame = $("sr-region-frame");
      const img = $("sr-region-photo");
      let start = null;
      const at = (e) => {
        const r = img.getBoundingClientRect();
        const k = photo.width / r.width;
        return {
          x: Math.min(photo.width, Math.max(0, Math.round((e.clientX - r.left) * k))),
          y: Math.min(photo.height, Math.max(0, Math.round((e.clientY - r.top) * k))),
        };
      };
      const boxFrom = (a, b) => ({ x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) });
      frame.addEventListener("pointerdown", (e) => {
        if (busy || !photo || !photo.bitmap) return;
        start = at(e);
        frame.setPointerCapture(e.pointerId);
      });
      frame.addEventListener("pointermove", (e) => {
        if (start) setRegion(boxFrom(start, at(e)));
      });
      const finish = (e) => {
        if (!start) return;
        const box = boxFrom(start, at(e));
        start = null;
        setRegion(box.w >= 2 && box.h >= 2 ? box : null); // a click is not a region
      };
      frame.addEventListener("pointerup", finish);
      frame.addEventListener("pointercancel", () => { start = null; });
      $("sr-region-clear").addEventListener("click", () => setRegion(null));
      window.addEventListener("resize", () => { if (region) setRegion(region); });
    }

    function strong(text) {
      const el = document.createElement("strong");
      el.textContent = text;
      return el;
    }

    function drawBicubic(s) {
      if (!photo || !photo.bitmap) return false;
      const { x, y, w, h } = region || { x: 0, y: 0, w: photo.width, h: photo.height };
      canvas.width = outSize(w, s);
      canvas.height = outSize(h, s);
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(photo.bitmap, x, y, w, h, 0, 0, canvas.width, canvas.height);
      return true;
    }

    function setBusy(value) {
      busy = value;
      send.disabled = value || !photo;
      input.disabled = value;
      form.querySelectorAll("input[name=model], select, input[type=range], input[type=checkbox]").forEach((el) => { el.disabled = value; });
      showRestore(); // the restoration slider stays off while automatic is ticked
      mapToggle.disabled = value;
      $("sr-drop").classList.toggle("disabled", value);
    }

    async function submit(event) {
      event.preventDefault();
      if (!photo || busy) return;
      const model = selectedModel();
      const info = selectedInfo();
      const format = $("sr-format").value;
      const s = chosenScale();
      const title = modelTitle(model);
      show(error, false);
      setBusy(true);
      const job = new Job({
        label: `Enlarging with ${title}`,
        progress: $("sr-progress"),
        progressText: $("sr-progress-text"),
        cancelButton: $("sr-cancel"),
      });
      try {
        const params = { format };
        if ($("sr-strip-metadata").checked) params.strip_metadata = "true";
        if (s !== info.scale) params.outscale = String(s);
        const amount = Number(fidelity.value);
        const blended = Boolean(info.fidelity) && fidelity.value !== fidelityAtDefault; // the default is the server's own
        if (blended) params.fidelity = amount.toFixed(2);
        if (info.restore && !restoreAuto.checked) params.restore = Number(restore.value).toFixed(2);
        if (region) params.region = `${region.x},${region.y},${region.w},${region.h}`;
        const result = await predict(model, photo.file, params, job);
        lastRequest = { model, file: photo.file, params, info };
        await showResult(result, model, title, blended ? `${title} (fidelity ${amount.toFixed(2)})` : title, s);
      } catch (problem) {
        show(resultBox, false);
        showProblem(error, problem instanceof Problem ? problem : new Problem("Something went wrong in the page.", String(problem)));
        if (problem instanceof Problem && problem.serverDown) checkServer();
      } finally {
        job.finish();
        setBusy(false);
      }
    }

    async function showResult(result, model, title, described, s) {
      resultImg.src = objectUrls.set("sr-result", result.blob);
      try {
        await resultImg.decode();
      } catch (_) {
        throw new Problem("The result arrived but this browser cannot display it.", `It is a ${result.type || "file of unknown type"}; you can still download it.`);
      }
      const hasBicubic = drawBicubic(s);
      show(canvas, hasBicubic);
      show(handle, hasBicubic);
      show($("sr-label-before"), hasBicubic);
      $("sr-label-before").textContent = `Bicubic ${factor(s)}`;
      $("sr-label-after").textContent = `${title} ${factor(s)}`;
      $("sr-compare-hint").textContent = hasBicubic
        ? "Drag the handle (or use the arrow keys on it) to compare the plain bicubic enlargement on the left with the model's result on the right."
        : "This browser could not read the original photo, so there is no bicubic enlargement to compare with.";
      const w = resultImg.naturalWidth;
      const h = resultImg.naturalHeight;
      // Shown at its own size when it fits, never wider than the page or taller than the window.
      compare.style.width = `min(100%, ${w}px, calc(75vh * ${w / h}))`;
      slider.set(50);

      const ext = EXTENSIONS[result.type] || "img";
      const parts = [
        described,
        result.outputSize ? result.outputSize.replace("x", " × ") + " px" : dims(w, h),
        ext.toUpperCase(),
        formatBytes(result.blob.size),
        `${result.seconds.toFixed(1)} s`,
      ];
      if (result.tiles) parts.push(result.tiles === "1" ? "1 tile" : `${result.tiles} tiles`);
      if (result.restore) parts.push(`restoration ${result.restore}`);
      if (result.ensemble && !result.ensemble.startsWith("1 ")) parts.push(`passes averaged ${result.ensemble}`);
      $("sr-meta").textContent = parts.join(" · ");
      const link = $("sr-download");
      link.href = resultImg.src;
      link.download = `${baseName(photo.file.name)}_${model}_x${s}.${ext}`;
      link.textContent = `Download the result (${ext.toUpperCase()}, ${formatBytes(result.blob.size)})`;
      // A new result: its invention map is asked for again when the toggle is on.
      mapOverlay.removeAttribute("src");
      show(mapOverlay, false);
      mapToggle.checked = false;
      $("sr-map-status").textContent = "";
      show($("sr-map-field"), Boolean(lastRequest && lastRequest.info.fidelity));
      show(resultBox, true);
    }

    // The invention map of the shown result: the same request with output=map, laid over it.
    async function toggleMap() {
      show(mapOverlay, mapToggle.checked && mapOverlay.hasAttribute("src"));
      if (!mapToggle.checked || mapOverlay.hasAttribute("src") || !lastRequest) return;
      const status = $("sr-map-status");
      const job = new Job({ label: "Drawing the invention map", progress: $("sr-progress"), progressText: $("sr-progress-text"), cancelButton: $("sr-cancel") });
      setBusy(true);
      try {
        const { model, file, params } = lastRequest;
        const result = await predict(model, file, { ...params, output: "map", format: "png" }, job);
        mapOverlay.src = objectUrls.set("sr-map", result.blob);
        await mapOverlay.decode();
        status.textContent = `Map made in ${result.seconds.toFixed(1)} s.`;
        show(mapOverlay, mapToggle.checked);
      } catch (problem) {
        mapToggle.checked = false;
        showProblem(error, problem instanceof Problem ? problem : new Problem("The invention map could not be drawn.", String(problem)));
      } finally {
        job.finish();
        setBusy(false);
      }
    }

    wireDropZone($("sr-drop"), input, choose);
    form.addEventListener("submit", submit);
    form.addEventListener("change", (e) => { if (e.target.name === "model") modelChanged(); });
    outscale.addEventListener("change", scaleChanged);
    fidelity.addEventListener("input", showFidelity);
    restore.addEventListener("input", showRestore);
    restoreAuto.addEventListener("change", showRestore);
    mapToggle.addEventListener("change", toggleMap);
    wireRegionPicker();
    showRestore();
    resultImg.draggable = false;
    listModels(SHIPPED_SR);
    modelsReady.then(listModels);
  }

  // ------------------------------------------------------------------ style transfer
  function setupStyleTransfer() {
    const form = $("style-form");
    const controls = $("style-controls");
    const status = $("style-status");
    const gallery = $("style-gallery");
    const input = $("style-file");
    const send = $("style-send");
    const error = $("style-error");
    const strength = $("style-strength");
    const resultBox = $("style-result-box");
    let photo = null;
    let busy = false;
    let available = false;

    const blend = $("style-blend");
    const blendWeight = $("style-blend-weight");
    let STYLES = STYLE_TITLES;

    // The gallery: one radio button per style, and the same styles in the "second style" list.
    // A sample image (made by this project's own model) is used when frontend/styles/<name>.jpg
    // exists; otherwise the tile shows the name.
    function buildGallery(styles) {
      const keep = (form.querySelector('input[name="style"]:checked') || {}).value;
      STYLES = styles;
      gallery.replaceChildren();
      STYLES.forEach((style, index) => {
        const label = document.createElement("label");
        label.className = "style-tile";
        const radio = radioInput("style", style.name, keep ? style.name === keep : index === 0);
        const art = document.createElement("span");
        art.className = "style-art";
        art.style.setProperty("--hue", String(hue(style.name)));
        art.textContent = style.title;
        const caption = document.createElement("span");
        caption.className = "style-caption";
        const name = document.createElement("strong");
        name.textContent = style.title;
        const by = document.createElement("span");
        by.textContent = style.artist;
        caption.append(name, by);
        label.append(radio, art, caption);
        label.dataset.style = style.name;
        gallery.append(label);
      });
      if (!gallery.querySelector("input:checked") && gallery.querySelector("input")) gallery.querySelector("input").checked = true;
      blend.replaceChildren(new Option("None", ""), ...STYLES.map((style) => new Option(style.title, style.name)));
      setBlendLabel();
    }

    // The styles the served model has (models.json), titled where this page knows them.
    function stylesFrom(served) {
      const note = (served || []).find((m) => m.name === "style" && Array.isArray(m.styles));
      if (!note) return null;
      const names = note.styles.filter((n) => typeof n === "string");
      const known = STYLE_TITLES.filter((t) => names.includes(t.name)); // this page's order
      const others = names.filter((n) => !STYLE_TITLES.some((t) => t.name === n)).map((n) => ({ name: n, title: n.replace(/[-_]+/g, " "), artist: "" }));
      return [...known, ...others];
    }

    function setBlendLabel() {
      show($("style-blend-field"), Boolean(blend.value));
      $("style-blend-value").textContent = `${Math.round(Number(blendWeight.value) * 100)}%`;
    }

    function hue(text) {
      let h = 0;
      for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
      return h;
    }

    function loadSamples() {
      gallery.querySelectorAll(".style-tile").forEach((tile) => {
        const img = new Image();
        img.alt = "";
        img.onload = () => {
          const art = tile.querySelector(".style-art");
          art.replaceChildren(img);
          art.classList.add("has-image");
        };
        img.src = `styles/${encodeURIComponent(tile.dataset.style)}.jpg`;
      });
    }

    const selectedStyle = () => STYLES.find((s) => s.name === (form.querySelector('input[name="style"]:checked') || {}).value);

    function updateSend() {
      send.disabled = !available || busy || !photo || !selectedStyle();
    }

    function setStrengthLabel() {
      $("style-strength-value").textContent = `${Math.round(Number(strength.value) * 100)}%`;
    }

    // Is a model named "style" served? models.json says, when TorchServe's management API
    // answered the page's server; else the page lets the user try (a send says what went wrong).
    async function checkAvailable() {
      const served = await modelsReady;
      available = !(served && modelsChecked) || served.some((m) => m.name === "style");
      controls.disabled = !available;
      form.classList.toggle("unavailable", !available);
      if (available) {
        status.textContent = modelsChecked
          ? "The style-transfer model is ready. Choose a photo and a style."
          : "Choose a photo and a style. (The page could not check that the style-transfer model is served.)";
        status.className = modelsChecked ? "notice ok" : "notice muted-notice";
        loadSamples();
      } else {
        status.textContent = "The style-transfer model is not served yet. This section will work once the server loads a model named “style”.";
        status.className = "notice muted-notice";
      }
      updateSend();
    }

    async function choose(file) {
      show(error, false);
      show(resultBox, false);
      photo = await readPhoto(file);
      describePhoto(photo, "style-thumb", $("style-name"), $("style-thumb"));
      $("style-sizes").textContent = photo.bitmap
        ? `Photo ${dims(photo.width, photo.height)}`
        : "Your browser cannot preview this file; the server will check it when you send it.";
      show($("style-info"), true);
      updateSend();
    }

    function setBusy(value) {
      busy = value;
      controls.disabled = value || !available;
      updateSend();
    }

    async function submit(event) {
      event.preventDefault();
      const style = selectedStyle();
      if (!photo || !style || busy || !available) return;
      const params = { style: style.name, format: $("style-format").value };
      const amount = Number(strength.value);
      if (amount < 1) params.strength = amount.toFixed(2);
      const second = STYLES.find((s) => s.name === blend.value && s.name !== style.name);
      if (second) params.blend = `${second.name}:${Number(blendWeight.value).toFixed(2)}`;
      const keepColours = $("style-preserve-colour").checked;
      if (keepColours) params.preserve_colour = "true";
      show(error, false);
      setBusy(true);
      const job = new Job({
        label: `Painting in the style of ${style.title}`,
        progress: $("style-progress"),
        progressText: $("style-progress-text"),
        cancelButton: $("style-cancel"),
      });
      try {
        const result = await predict("style", photo.file, params, job);
        const img = $("style-result");
        img.src = objectUrls.set("style-result", result.blob);
        try {
          await img.decode();
        } catch (_) {
          throw new Problem("The result arrived but this browser cannot display it.", `It is a ${result.type || "file of unknown type"}.`);
        }
        const ext = EXTENSIONS[result.type] || "img";
        const size = result.outputSize ? result.outputSize.replace("x", " × ") + " px" : dims(img.naturalWidth, img.naturalHeight);
        const what = second ? `${style.title} + ${Math.round(Number(blendWeight.value) * 100)}% ${second.title}` : style.title;
        $("style-meta").textContent = [what, `strength ${Math.round(amount * 100)}%`, ...(keepColours ? ["photo's colours"] : []), size, formatBytes(result.blob.size), `${result.seconds.toFixed(1)} s`].join(" · ");
        const link = $("style-download");
        link.href = img.src;
        link.download = `${baseName(photo.file.name)}_${style.name}.${ext}`;
        link.textContent = `Download the result (${ext.toUpperCase()}, ${formatBytes(result.blob.size)})`;
        show(resultBox, true);
      } catch (problem) {
        show(resultBox, false);
        showProblem(error, problem instanceof Problem ? problem : new Problem("Something went wrong in the page.", String(problem)));
      } finally {
        job.finish();
        setBusy(false);
      }
    }

    wireDropZone($("style-drop"), input, choose);
    gallery.addEventListener("change", updateSend);
    strength.addEventListener("input", setStrengthLabel);
    blend.addEventListener("change", setBlendLabel);
    blendWeight.addEventListener("input", setBlendLabel);
    buildGallery(STYLE_TITLES);
    modelsReady.then((served) => {
      const styles = stylesFrom(served);
      if (styles && styles.length) {
        buildGallery(styles);
        if (available) loadSamples();
        updateSend();
      }
    });
    form.addEventListener("submit", submit);
    setStrengthLabel();
    checkAvailable();
  }

  // Parts both forms have, from one template each (index.html): the drop zone and the chosen
  // photo's line (ids PREFIX-drop, -file, -info, -thumb, -name, -sizes), and the send/cancel
  // buttons, progress and error notice (PREFIX-send, -cancel, -progress, -progress-text, -error).
  function fromTemplates() {
    for (const [name, fill] of Object.entries({
      "photo-picker": (part, slot) => {
        part.querySelector(".drop-hint").textContent = slot.dataset.hint;
        part.querySelector(".drop-label").htmlFor = `${slot.dataset.prefix}-file`;
        part.querySelector(".dropzone").classList.toggle("small", slot.classList.contains("small"));
      },
      "job-controls": (part, slot) => { part.querySelector('[data-part="send"]').textContent = slot.dataset.action; },
    })) {
      document.querySelectorAll(`.${name}`).forEach((slot) => {
        const part = $(name).content.cloneNode(true);
        part.querySelectorAll("[data-part]").forEach((el) => { el.id = `${slot.dataset.prefix}-${el.dataset.part}`; });
        fill(part, slot);
        slot.replaceWith(part);
      });
    }
  }

  fromTemplates();
  checkServer();
  setupSuperResolution();
  setupStyleTransfer();
})();
