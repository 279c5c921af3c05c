// The super-resolution section: choosing the photo (and a region of it), its size before and
// after, the warnings, and sending it with the chosen settings.
import { predict } from "./api.js";
import { $, show, strong } from "./dom.js";
import { dims, factor, megapixels } from "./format.js";
import { SHIPPED_SR, modelTitle, modelsReady } from "./models.js";
import { checkServer } from "./server-status.js";
import { SrControls } from "./sr-controls.js";
import { makeInventionMap } from "./sr-map.js";
import { makeRegionPicker } from "./sr-region.js";
import { makeSrResult, outSize } from "./sr-result.js";
import { runJob } from "./submit.js";
import { limitWarnings, takePhoto, wireDropZone } from "./upload.js";

// photo: the chosen one (upload.js takePhoto); region: {x, y, w, h} in its pixels, or null;
// lastRequest: what the shown result was made from (the invention map asks the same).
const state = { photo: null, region: null, busy: false, lastRequest: null };
let controls, regionPicker, map, result;

export function setupSuperResolution() {
  const form = $("sr-form");
  controls = new SrControls(form, scaleChanged);
  map = makeInventionMap(state, setBusy);
  result = makeSrResult(state, map);
  wireDropZone($("sr-drop"), $("sr-file"), choose);
  form.addEventListener("submit", submit);
  controls.wire();
  regionPicker = makeRegionPicker(state, describeSizes);
  controls.listModels(SHIPPED_SR);
  modelsReady.then((served) => controls.listModels(served));
}

function scaleChanged() {
  const s = controls.scale;
  $("sr-badge").textContent = factor(s);
  $("sr-send").textContent = `Enlarge ${factor(s)}`;
  if (state.photo) describeSizes();
}

// "Photo W × H px → result W × H px (×s, N MP)", and the warnings before sending.
function describeSizes() {
  const { photo, region } = state;
  const sizes = $("sr-sizes");
  const s = controls.scale;
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
  const { scale, limits } = controls.info;
  const warnings = limitWarnings(region ? { ...photo, width: region.w, height: region.h } : photo, scale, limits);
  const warning = $("sr-warning");
  warning.textContent = warnings.join(" ");
  show(warning, warnings.length > 0);
}

async function choose(file) {
  const photo = await takePhoto("sr", file);
  state.photo = photo;
  regionPicker.set(null);
  $("sr-region-photo").src = photo.bitmap ? $("sr-thumb").src : "";
  show($("sr-region-picker"), Boolean(photo.bitmap));
  describeSizes();
  show($("sr-info"), true);
  $("sr-send").disabled = state.busy;
}

function setBusy(value) {
  state.busy = value;
  $("sr-send").disabled = value || !state.photo;
  $("sr-file").disabled = value;
  $("sr-form").querySelectorAll("input[name=model], #sr-format").forEach((el) => { el.disabled = value; });
  controls.setDisabled(value); // a slider whose "automatic" is ticked stays off
  map.setDisabled(value);
  $("sr-drop").classList.toggle("disabled", value);
}

// The form fields of a request: the format, the settings (sr-controls.js), the region.
function requestFields() {
  const params = { format: $("sr-format").value };
  controls.addFields(params);
  const { region } = state;
  if (region) params.region = `${region.x},${region.y},${region.w},${region.h}`;
  return params;
}

async function submit(event) {
  event.preventDefault();
  if (!state.photo || state.busy) return;
  const { model, info, scale: s, fidelitySent } = controls;
  const title = modelTitle(model);
  const described = fidelitySent === null ? title : `${title} (fidelity ${fidelitySent})`;
  const { photo } = state;
  await runJob({
    prefix: "sr",
    label: `Enlarging with ${title}`,
    setBusy,
    work: async (job) => {
      const params = requestFields();
      const reply = await predict(model, photo.file, params, job);
      state.lastRequest = { model, file: photo.file, params, info };
      await result.show(reply, { model, title, described, s });
    },
    onProblem: () => show($("sr-result-box"), false),
    onServerDown: checkServer,
  });
}
