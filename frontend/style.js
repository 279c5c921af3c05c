// The style-transfer section: whether a model named "style" is served, choosing the photo, and
// sending it with the chosen style and second style (style-gallery.js) and the model's parameter
// controls, drawn from its note (controls.js: strength, the photo's colours, and any parameter the
// table gains).
import { predict } from "./api.js";
import { ParameterControls } from "./controls.js";
import { $, show } from "./dom.js";
import { baseName, dims, formatBytes } from "./format.js";
import { SHIPPED_STYLE, STYLE_TITLES, controlsOf, modelsChecked, modelsReady } from "./models.js";
import { offerDownload, resultSize, showResultImage } from "./result.js";
import { StyleGallery, stylesFrom } from "./style-gallery.js";
import { runJob } from "./submit.js";
import { takePhoto, wireDropZone } from "./upload.js";

const state = { photo: null, busy: false, available: false };
let gallery, parameters;

// The parameters this section draws its own way: the format list (always sent), the style (the
// gallery) and blend (the second style and its share).
const OWN = ["format", "style", "blend"];

export function setupStyleTransfer() {
  const form = $("style-form");
  gallery = new StyleGallery(form);
  parameters = new ParameterControls($("style-parameters"), "style", { own: OWN });
  wireDropZone($("style-drop"), $("style-file"), choose);
  $("style-gallery").addEventListener("change", updateSend);
  gallery.build(STYLE_TITLES);
  parameters.show(SHIPPED_STYLE, controlsOf(SHIPPED_STYLE));
  modelsReady.then((served) => {
    const note = (served || []).find((m) => m && m.name === "style");
    if (note) parameters.show(note, controlsOf(note));
    const styles = stylesFrom(served);
    if (styles && styles.length) {
      gallery.build(styles);
      if (state.available) gallery.loadSamples();
      updateSend();
    }
  });
  form.addEventListener("submit", submit);
  checkAvailable();
}

function updateSend() {
  $("style-send").disabled = !state.available || state.busy || !state.photo || !gallery.selected;
}

// Is a model named "style" served? models.json says, when TorchServe's management API
// answered the page's server; else the page lets the user try (a send says what went wrong).
async function checkAvailable() {
  const served = await modelsReady;
  const available = !(served && modelsChecked) || served.some((m) => m.name === "style");
  state.available = available;
  $("style-controls").disabled = !available;
  $("style-form").classList.toggle("unavailable", !available);
  const status = $("style-status");
  if (available) {
    status.textContent = modelsChecked
      ? "The style-transfer model is ready. Choose a photo and a style."
      : "Choose a photo and a style. (The page could not check that the style-transfer model is served.)";
    status.className = modelsChecked ? "notice ok" : "notice muted-notice";
    gallery.loadSamples();
  } else {
    status.textContent = "The style-transfer model is not served yet. This section will work once the server loads a model named “style”.";
    status.className = "notice muted-notice";
  }
  updateSend();
}

async function choose(file) {
  const photo = await takePhoto("style", file);
  state.photo = photo;
  $("style-sizes").textContent = photo.bitmap
    ? `Photo ${dims(photo.width, photo.height)}`
    : "Your browser cannot preview this file; the server will check it when you send it.";
  show($("style-info"), true);
  updateSend();
}

function setBusy(value) {
  state.busy = value;
  $("style-controls").disabled = value || !state.available;
  updateSend();
}

// The request: the style's fields, and the words that say what was asked for.
function styleRequest(style) {
  const params = { style: style.name, format: $("style-format").value };
  const { second, share } = gallery;
  if (second) params.blend = `${second.name}:${share.toFixed(2)}`;
  parameters.addFields(params);
  const amount = parameters.value("strength") ?? 1;
  const keepColours = parameters.value("preserve_colour") === true;
  const what = second ? `${style.title} + ${Math.round(share * 100)}% ${second.title}` : style.title;
  const described = [what, `strength ${Math.round(amount * 100)}%`, ...(keepColours ? ["photo's colours"] : [])];
  return { params, described };
}

async function showResult(result, style, described) {
  const img = $("style-result");
  await showResultImage(img, "style-result", result, ".");
  $("style-meta").textContent = [...described, resultSize(result, img), formatBytes(result.blob.size), `${result.seconds.toFixed(1)} s`].join(" · ");
  offerDownload($("style-download"), img, `${baseName(state.photo.file.name)}_${style.name}`, result);
  show($("style-result-box"), true);
}

async function submit(event) {
  event.preventDefault();
  const style = gallery.selected;
  if (!state.photo || !style || state.busy || !state.available) return;
  const { params, described } = styleRequest(style);
  const { photo } = state;
  await runJob({
    prefix: "style",
    label: `Painting in the style of ${style.title}`,
    setBusy,
    work: async (job) => showResult(await predict("style", photo.file, params, job), style, described),
    onProblem: () => show($("style-result-box"), false),
  });
}
