// What the page knows of the models: the shipped ones with their titles, blurbs and parameter
// controls (used until the page's server answers), the styles it can title, and models.json, the
// models served.

const MODEL_TITLES = { srgan: "SRGAN", srresnet: "SRResNet", style: "style-transfer" };
export const modelTitle = (name) => MODEL_TITLES[name] || name;

// The SR models offered are the ones models.json lists (the page's server: what `make archive`
// wrote for every model TorchServe serves, your own ones included); these shipped ones, with
// their blurbs, until it answers.
export const SHIPPED_SR = [
  { name: "srgan", task: "super-resolution", scale: 4, fidelity: true, default_fidelity: 0.6, restore: true, blurb: "sharper, invents fine texture" },
  { name: "srresnet", task: "super-resolution", scale: 4, fidelity: false, restore: true, blurb: "smoother, closest to the real pixels" },
];
export const blurbOf = (name) => (SHIPPED_SR.find((m) => m.name === name) || {}).blurb;

export const OUTSCALES = [1.5, 2, 2.5, 3, 4, 8]; // offered up to the model's own scale

// The parameter controls of the shipped models as `make archive` describes them (models.json's
// "controls", from dronesr/parameters.py), for the page's own list until models.json answers and
// for a note written before the table (no "controls": its fidelity and restore say which). A new
// parameter needs nothing here: it is drawn once models.json lists it.
const range = (min, max, step, extra = {}) => ({ kind: "range", min, max, step, ...extra });
const COMMON_CONTROLS = [
  { name: "format", default: null, help: "png, jpeg or webp (default: the model's; Accept works too)", kind: "choice", options: ["png", "jpeg", "webp"] },
  { name: "strip_metadata", default: false, help: "drop the camera's EXIF (GPS too), ICC and XMP", kind: "toggle" },
  { name: "provenance", default: true, help: "write the provenance record (XMP and X-Provenance)", kind: "toggle" },
];
const SR_CONTROLS = [
  { name: "outscale", default: null, help: "output scale, above 1 and at most the model's; default: the model's scale", ...range(1, "scale", 0.5) },
  { name: "region", default: null, help: "x,y,w,h: enlarge only this window of the input, with the frame around it as context", kind: "text", placeholder: "x,y,w,h" },
  { name: "ensemble", default: null, help: "auto, true or false: average the network's 8 rotated and mirrored passes (8 times the work)", kind: "choice", options: ["auto", "true", "false"] },
];
const FIDELITY_CONTROLS = [
  { name: "fidelity", default: null, help: "0..1: from the GAN's texture (0) to the faithful network (1); default: the model's", ...range(0, 1, 0.05) },
  { name: "output", default: "image", help: "image, or map: where the result departs from what the input supports", kind: "choice", options: ["image", "map"] },
];
const RESTORE_CONTROLS = [
  { name: "restore", default: null, help: "auto or 0..1: how much JPEG, noise and blur to remove (auto: read from each upload, and a block grid the pixels show is smoothed first)", ...range(0, 1, 0.05, { auto: true }) },
];
const STYLE_CONTROLS = [
  { name: "style", default: null, help: "a style name (default: the first)", kind: "choice", options: "styles" },
  { name: "blend", default: null, help: "NAME:W[,NAME:W...]: further styles mixed in, W in 0..1 (bare NAME: 0.5)", kind: "text" },
  { name: "strength", default: 1.0, help: "0..1: photo + strength x (stylized - photo)", ...range(0, 1, 0.05) },
  { name: "preserve_colour", default: false, help: "keep the photo's colours: the style paints the luminance only", kind: "toggle" },
];

// A model's controls: its note's, else the shipped ones that fit it.
export function controlsOf(note) {
  if (!note) return [];
  if (Array.isArray(note.controls)) return note.controls;
  if (note.task === "style-transfer") return [...COMMON_CONTROLS, ...STYLE_CONTROLS];
  return [...COMMON_CONTROLS, ...SR_CONTROLS, ...(note.fidelity ? FIDELITY_CONTROLS : []), ...(note.restore ? RESTORE_CONTROLS : [])];
}

// Titles of the shipped styles; a style the model has and this list does not is shown by name.
export const STYLE_TITLES = [
  { name: "starry_night", title: "The Starry Night", artist: "after van Gogh" },
  { name: "the_scream", title: "The Scream", artist: "after Munch" },
  { name: "shipwreck", title: "The Shipwreck", artist: "after Turner" },
  { name: "woman-with-hat-matisse", title: "Woman with a Hat", artist: "after Matisse" },
  { name: "udnie", title: "Udnie", artist: "after Picabia" },
  { name: "mosaic", title: "Mosaic", artist: "stained glass" },
];

// The style model's note until models.json says (its styles: the ones this page can title).
export const SHIPPED_STYLE = { name: "style", task: "style-transfer", styles: STYLE_TITLES.map((t) => t.name) };

// The models served, from models.json; null when the page's server cannot say.
// modelsChecked: the list is TorchServe's own (its management API answered), not only the notes.
export let modelsChecked = false;
export const modelsReady = (async () => {
  try {
    const response = await fetch("models.json", { cache: "no-store" });
    const listed = await response.json();
    modelsChecked = listed.checked === true;
    return Array.isArray(listed.models) ? listed.models : null;
  } catch (_) {
    return null;
  }
})();
