// What the page knows of the models: the shipped ones with their titles and blurbs (used until the
// page's server answers), the styles it can title, and models.json, the models served.

const MODEL_TITLES = { srgan: "SRGAN", srresnet: "SRResNet", style: "style-transfer" };
export const modelTitle = (name) => MODEL_TITLES[name] || name;

// The SR models offered are the ones models.json lists (the page's server: what `make archive`
// wrote for every model TorchServe serves, your own ones included); these shipped ones, with
// their blurbs, until it answers.
export const SHIPPED_SR = [
  { name: "srgan", task: "super-resolution", scale: 4, fidelity: true, default_fidelity: 0.5, restore: true, blurb: "sharper, invents fine texture" },
  { name: "srresnet", task: "super-resolution", scale: 4, fidelity: false, restore: true, blurb: "smoother, closest to the real pixels" },
];
export const blurbOf = (name) => (SHIPPED_SR.find((m) => m.name === name) || {}).blurb;

export const OUTSCALES = [1.5, 2, 2.5, 3, 4, 8]; // offered up to the model's own scale

// Titles of the shipped styles; a style the model has and this list does not is shown by name.
export const STYLE_TITLES = [
  { name: "starry_night", title: "The Starry Night", artist: "after van Gogh" },
  { name: "the_scream", title: "The Scream", artist: "after Munch" },
  { name: "shipwreck", title: "The Shipwreck", artist: "after Turner" },
  { name: "woman-with-hat-matisse", title: "Woman with a Hat", artist: "after Matisse" },
  { name: "udnie", title: "Udnie", artist: "after Picabia" },
  { name: "mosaic", title: "Mosaic", artist: "stained glass" },
];

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
