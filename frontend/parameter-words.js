// The page's own words for the parameters it knows, in the order it shows them (tick boxes come
// last, after the result format): a label, the hint under the control (null: none; the table's
// help stays the tooltip), how a value is shown, the texts of a list's options, and for outscale
// the few scales offered instead of a slider. A parameter not named here is drawn all the same
// (controls.js): its name as the label, the table's help (dronesr/parameters.py) as the hint.
//
// Keys: label; hint; show(value) (a slider's value as shown); autoLabel (the "auto" tick box);
// position (where a slider that starts at auto stands); options ({option: text}); start(model)
// (where the control starts, when the model's note does not say); values(model) and
// valueText(value, model) (a range offered as a list).
import { factor } from "./format.js";
import { OUTSCALES } from "./models.js";

export const WORDS = {
  fidelity: { label: "Fidelity", hint: "0: the GAN's texture · 1: the PSNR model's smoothness (less invented detail)" },
  restore: {
    label: "Restoration",
    hint: "0: keep the input as it is · 1: remove JPEG blocks, noise and blur",
    autoLabel: "Automatic (from the file)",
    position: 1,
  },
  outscale: {
    label: "Enlarge by",
    hint: null,
    start: (model) => model.scale, // the table's default: the model's own scale
    values: (model) => [...OUTSCALES.filter((s) => s < model.scale), model.scale],
    valueText: (s, model) => (s === model.scale ? `${factor(s)} (the model's own)` : factor(s)),
  },
  ensemble: {
    label: "Average 8 passes",
    hint: "The photo turned and mirrored 8 ways, each enlarged, averaged: a little cleaner, 8 times the work",
    options: { auto: "Automatic (by the photo's size)", true: "Always", false: "Never" },
  },
  strength: { label: "Strength", hint: null, show: (v) => `${Math.round(v * 100)}%` },
  preserve_colour: { label: "Keep the photo's colours (the style paints light and shade only)", hint: null },
  strip_metadata: { label: "Remove camera data (EXIF, GPS) from the result", hint: null },
  provenance: { label: "Record in the result how it was made (provenance)", hint: null },
};
