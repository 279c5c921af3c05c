// The super-resolution settings: one radio per SR model served (models.json, else the shipped
// ones) and the chosen model's parameter controls, drawn from its note (controls.js: fidelity,
// restoration, the scale, the passes averaged, and any parameter the table gains), and the form
// fields they make.
import { ParameterControls } from "./controls.js";
import { $, element, radioInput, strong } from "./dom.js";
import { blurbOf, controlsOf, modelTitle } from "./models.js";

// The parameters this section draws its own way: the format list (always sent, with what each
// format is good for), the region (a box dragged on the photo) and output=map (the invention
// map's tick box under the result).
const OWN = ["format", "region", "output"];

export class SrControls {
  // onScale: the scale changed.
  constructor(form, onScale) {
    this.form = form;
    this.onScale = onScale;
    this.models = [];
    this.parameters = new ParameterControls($("sr-parameters"), "sr", {
      own: OWN,
      onChange: (name) => { if (name === "outscale") onScale(); },
    });
  }

  get model() { return (this.form.querySelector('input[name="model"]:checked') || {}).value; }
  get info() { return this.models.find((m) => m.name === this.model) || this.models[0]; }
  get scale() { return this.parameters.value("outscale") || this.info.scale; }

  wire() {
    this.form.addEventListener("change", (e) => { if (e.target.name === "model") this.modelChanged(); });
  }

  // One radio per SR model served: the shipped ones with their blurbs, yours with architecture and scale.
  listModels(served) {
    const sr = (served || []).filter((m) => m.task === "super-resolution" && Number.isInteger(m.scale));
    if (!sr.length) return;
    const keep = this.model;
    this.models = sr.sort((a, b) => (blurbOf(a.name) ? 0 : 1) - (blurbOf(b.name) ? 0 : 1) || a.name.localeCompare(b.name));
    const fieldset = $("sr-models");
    fieldset.querySelectorAll("label.option").forEach((el) => el.remove());
    this.models.forEach((m) => fieldset.append(modelOption(m, m.name === keep)));
    if (!fieldset.querySelector("input:checked")) fieldset.querySelector("input").checked = true;
    this.modelChanged();
  }

  // The chosen model's controls (fidelity at the model's default, restoration, the scales it can give).
  modelChanged() {
    this.parameters.show(this.info, controlsOf(this.info));
    this.onScale();
  }

  // The fidelity sent, as sent ("0.30"); null when none is (the model has none, or it is at the model's default).
  get fidelitySent() { return this.parameters.sent("fidelity"); }

  // The form fields of these settings: each control moved off where it started.
  addFields(params) { return this.parameters.addFields(params); }

  setDisabled(busy) { this.parameters.setDisabled(busy); }
}

function modelOption(m, checked) {
  const label = element("label", { className: "option" });
  const text = element("span");
  const blurb = blurbOf(m.name) || `${m.architecture || "network"} ×${m.scale}, your own model`;
  text.append(strong(modelTitle(m.name)), element("span", { className: "muted", text: ` — ${blurb}` }));
  label.append(radioInput("model", m.name, checked), text);
  return label;
}
