// The super-resolution settings: one radio per SR model served (models.json, else the shipped
// ones), the fidelity slider and the restoration control for the models that have them, the
// scales the chosen model can give, and the form fields they make.
import { $, element, radioInput, show, strong } from "./dom.js";
import { factor } from "./format.js";
import { OUTSCALES, blurbOf, modelTitle } from "./models.js";

const defaultFidelity = (info) => Number(info.default_fidelity) || 0;

export class SrControls {
  // state.busy: the section is sending (the restoration slider stays off); onScale: the scale changed.
  constructor(form, state, onScale) {
    this.form = form;
    this.state = state;
    this.onScale = onScale;
    this.models = [];
    this.fidelity = $("sr-fidelity");
    this.restore = $("sr-restore");
    this.restoreAuto = $("sr-restore-auto");
    this.outscale = $("sr-outscale");
    this.fidelityAtDefault = this.fidelity.value; // the slider's value at the model's default (what sends no fidelity)
  }

  get model() { return (this.form.querySelector('input[name="model"]:checked') || {}).value; }
  get info() { return this.models.find((m) => m.name === this.model) || this.models[0]; }
  get scale() { return Number(this.outscale.value) || this.info.scale; }

  wire() {
    this.form.addEventListener("change", (e) => { if (e.target.name === "model") this.modelChanged(); });
    this.outscale.addEventListener("change", this.onScale);
    this.fidelity.addEventListener("input", () => this.showFidelity());
    this.restore.addEventListener("input", () => this.showRestore());
    this.restoreAuto.addEventListener("change", () => this.showRestore());
    this.showRestore();
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

  showFidelity() { $("sr-fidelity-value").textContent = Number(this.fidelity.value).toFixed(2); }

  // Automatic: the slider is off, no restore is sent and the server decides from the file.
  showRestore() {
    this.restore.disabled = this.state.busy || this.restoreAuto.checked;
    $("sr-restore-value").textContent = this.restoreAuto.checked ? "auto" : Number(this.restore.value).toFixed(2);
  }

  // The fidelity slider (at the model's default) and the restoration control for models that
  // have them, and the scales the model can give.
  modelChanged() {
    const info = this.info;
    show($("sr-fidelity-field"), Boolean(info.fidelity));
    show($("sr-restore-field"), Boolean(info.restore));
    this.fidelity.value = String(defaultFidelity(info));
    this.fidelityAtDefault = this.fidelity.value; // as the slider holds it (a default off its steps is rounded to one)
    this.showFidelity();
    const previous = Number(this.outscale.value);
    this.outscale.replaceChildren(...OUTSCALES.filter((s) => s <= info.scale).map((s) => {
      const option = new Option(s === info.scale ? `${factor(s)} (the model's own)` : factor(s), String(s));
      option.selected = s === (previous <= info.scale && previous > 1 ? previous : info.scale);
      return option;
    }));
    this.onScale();
  }

  // The fidelity sent: only for a model that has it, and only when moved off the model's
  // default (which is the server's own); null when none is sent.
  get blendedFidelity() {
    const blended = Boolean(this.info.fidelity) && this.fidelity.value !== this.fidelityAtDefault;
    return blended ? Number(this.fidelity.value) : null;
  }

  // The form fields of these settings beside the result format (outscale, fidelity, restore).
  addFields(params) {
    const { info, scale } = this;
    if (scale !== info.scale) params.outscale = String(scale);
    if (this.blendedFidelity !== null) params.fidelity = this.blendedFidelity.toFixed(2);
    if (info.restore && !this.restoreAuto.checked) params.restore = Number(this.restore.value).toFixed(2);
    return params;
  }
}

function modelOption(m, checked) {
  const label = element("label", { className: "option" });
  const text = element("span");
  const blurb = blurbOf(m.name) || `${m.architecture || "network"} ×${m.scale}, your own model`;
  text.append(strong(modelTitle(m.name)), element("span", { className: "muted", text: ` — ${blurb}` }));
  label.append(radioInput("model", m.name, checked), text);
  return label;
}
