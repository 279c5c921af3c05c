// A model's parameter controls, drawn from its note's "controls" (models.json: what `make archive`
// wrote from the parameter table, dronesr/parameters.py: name, default, help, kind and its bounds
// or options), so a parameter added to the table appears here with no change to the page.
//
// One input per kind:
//   range   a slider, its value beside the label; "auto": true adds an "Automatic" tick box
//           (ticked: the server decides; nothing is sent where auto is the default). The page
//           may offer a short list of values instead (parameter-words.js: outscale's scales)
//   choice  a list of the options
//   toggle  a tick box
//   text    a line of text
// A bound or option list given as a word ("max": "scale", "options": "styles") is that field of
// the model's note. The table's help is each control's tooltip, and its hint unless the page words
// it otherwise (parameter-words.js). A control starts at the parameter's default, or at the
// model's own where the table leaves it to the model and the note says it (default_fidelity);
// where neither says, at a "the model's default" setting that sends nothing. A value is sent only
// when it differs from where its control started, so a request carries what was changed.
import { element } from "./dom.js";
import { WORDS } from "./parameter-words.js";

const NAME = /^[a-z][a-z0-9_]{0,31}$/; // the server's parameter names (dronesr/serving/requests.py)
const KINDS = ["range", "choice", "toggle", "text"];
const DEFAULT_OPTION = "the model's default";

const humanize = (name) => name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, " ");
const decimalsOf = (step) => (String(step).split(".")[1] || "").length;
const isSet = (value) => value !== null && value !== undefined;

// A bound or an option list: a number or list as it is, a word the model note's field of that name.
function resolved(value, model) {
  if (typeof value !== "string") return value;
  return Object.hasOwn(model, value) ? model[value] : undefined;
}

// Where the control starts: the page's choice, the parameter's default, the model's own; null: the
// model decides and the page cannot say what it will choose.
function startOf(description, model, words) {
  if (words.start) return words.start(model);
  if (isSet(description.default)) return description.default;
  const own = resolved(`default_${description.name}`, model);
  return isSet(own) ? own : null;
}

// The parts every control has: the field (hidden with its model), its label, its hint.
function field(description, id, words, kind) {
  const box = element("div", { className: kind === "toggle" ? "field toggle-field" : "field" });
  box.id = `${id}-field`;
  box.dataset.parameter = description.name;
  if (typeof description.help === "string") box.title = description.help;
  const hint = words.hint !== undefined ? words.hint : description.help;
  const hintEl = typeof hint === "string" && hint ? element("span", { className: "hint", text: hint }) : null;
  if (hintEl) hintEl.id = `${id}-hint`;
  return { box, hintEl, label: words.label || humanize(description.name) };
}

function labelFor(id, text) {
  const label = element("label", { text });
  label.htmlFor = id;
  return label;
}

function tickBox(id, checked, text) {
  const label = element("label", { className: "option" });
  const box = element("input");
  box.type = "checkbox";
  box.id = id;
  box.checked = checked;
  label.append(box, ` ${text}`);
  return { label, box };
}

function listOf(id, options) {
  const select = element("select");
  select.id = id;
  select.append(...options.map(([value, text]) => new Option(text, value)));
  return select;
}

// Each maker returns the control's parts: input (what takes the focus), value() (the typed value;
// null at "the model's default"), text() (the form field, or null when it is not sent), set(value)
// (false when this control cannot hold that value) and disable(busy).

function makeRange(d, model, id, words, parts, onChange) {
  const start = startOf(d, model, words);
  if (words.values) return makeValueList(d, model, id, words, parts, start, onChange);
  const number = (value, fallback) => {
    const n = resolved(value, model);
    return isSet(n) && Number.isFinite(Number(n)) ? Number(n) : fallback;
  };
  const min = number(d.min, 0);
  const max = number(d.max, 1);
  const step = number(d.step, 0.01);
  const decimals = decimalsOf(step);
  const show = words.show || ((v) => v.toFixed(decimals));
  const slider = element("input");
  Object.assign(slider, { type: "range", id, min: String(min), max: String(max), step: String(step) });
  slider.value = String(isSet(start) ? start : isSet(words.position) ? words.position : (min + max) / 2);
  const startText = slider.value; // as the slider holds it: a start off its steps is rounded to one
  const output = element("output");
  output.id = `${id}-value`;
  const label = labelFor(id, `${parts.label} `);
  label.append(output);
  parts.box.append(label);
  // A tick box that leaves the value to the server: "auto" where the parameter takes it (ticked
  // at first when the default is auto), or the model's default where the page cannot show it.
  const leftToModel = !isSet(start);
  const auto = d.auto === true || leftToModel
    ? tickBox(`${id}-auto`, leftToModel, words.autoLabel || (d.auto === true ? "Automatic" : `Use ${DEFAULT_OPTION}`))
    : null;
  output.htmlFor = auto ? `${id} ${id}-auto` : id;
  if (auto) parts.box.append(auto.label);
  parts.box.append(slider);
  if (parts.hintEl) slider.setAttribute("aria-describedby", parts.hintEl.id);
  const ticked = () => Boolean(auto && auto.box.checked);
  let busy = false;
  const refresh = () => {
    slider.disabled = busy || ticked();
    output.textContent = ticked() ? (d.auto === true ? "auto" : "default") : show(Number(slider.value));
  };
  slider.addEventListener("input", () => { refresh(); onChange(); });
  if (auto) auto.box.addEventListener("change", () => { refresh(); onChange(); });
  refresh();
  return {
    input: slider,
    value: () => (ticked() ? null : Number(slider.value)),
    text: () => {
      if (ticked()) return leftToModel ? null : "auto";
      if (!leftToModel && slider.value === startText) return null;
      return Number(slider.value).toFixed(decimals);
    },
    set: (value) => {
      if (value === null) {
        if (!auto) return false;
        auto.box.checked = true;
      } else {
        if (!(value >= min && value <= max)) return false;
        slider.value = String(value);
        if (auto) auto.box.checked = false;
      }
      refresh();
      return true;
    },
    disable: (value) => {
      busy = value;
      if (auto) auto.box.disabled = value;
      refresh();
    },
  };
}

// A range offered as a short list of values (the page's choice, e.g. the output scales).
function makeValueList(d, model, id, words, parts, start, onChange) {
  const values = words.values(model);
  const select = listOf(id, values.map((v) => [String(v), words.valueText ? words.valueText(v, model) : String(v)]));
  const startText = isSet(start) && values.includes(start) ? String(start) : select.value;
  select.value = startText;
  parts.box.append(labelFor(id, parts.label), select);
  select.addEventListener("change", onChange);
  return {
    input: select,
    value: () => Number(select.value),
    text: () => (select.value === startText ? null : select.value),
    set: (value) => {
      if (!values.includes(value)) return false;
      select.value = String(value);
      return true;
    },
    disable: (value) => { select.disabled = value; },
  };
}

function makeChoice(d, model, id, words, parts, onChange) {
  const listed = resolved(d.options, model);
  const options = (Array.isArray(listed) ? listed : []).filter((o) => typeof o === "string");
  let start = startOf(d, model, words);
  // Left to the model: its "auto" where the parameter has one, else a setting that sends nothing.
  if (!isSet(start)) start = options.includes("auto") ? "auto" : "";
  const text = (o) => (words.options && Object.hasOwn(words.options, o) ? words.options[o] : o);
  const entries = options.map((o) => [o, text(o)]);
  if (!options.includes(String(start))) entries.unshift([String(start), DEFAULT_OPTION]);
  const select = listOf(id, entries);
  select.value = String(start);
  parts.box.append(labelFor(id, parts.label), select);
  if (parts.hintEl) select.setAttribute("aria-describedby", parts.hintEl.id);
  select.addEventListener("change", onChange);
  const startText = select.value;
  return {
    input: select,
    value: () => select.value || null,
    text: () => (select.value === startText ? null : select.value),
    set: (value) => {
      if (!entries.some(([v]) => v === (value || ""))) return false;
      select.value = value || "";
      return true;
    },
    disable: (value) => { select.disabled = value; },
  };
}

function makeToggle(d, model, id, words, parts, onChange) {
  const start = Boolean(startOf(d, model, words));
  const { label, box } = tickBox(id, start, parts.label);
  parts.box.append(label);
  if (parts.hintEl) box.setAttribute("aria-describedby", parts.hintEl.id);
  box.addEventListener("change", onChange);
  return {
    input: box,
    value: () => box.checked,
    text: () => (box.checked === start ? null : String(box.checked)),
    set: (value) => {
      box.checked = Boolean(value);
      return true;
    },
    disable: (value) => { box.disabled = value; },
  };
}

function makeText(d, model, id, words, parts, onChange) {
  const start = startOf(d, model, words);
  const startText = isSet(start) ? String(start) : "";
  const input = element("input");
  input.type = "text";
  input.id = id;
  input.value = startText;
  if (typeof d.placeholder === "string") input.placeholder = d.placeholder;
  parts.box.append(labelFor(id, parts.label), input);
  if (parts.hintEl) input.setAttribute("aria-describedby", parts.hintEl.id);
  input.addEventListener("input", onChange);
  return {
    input,
    value: () => input.value.trim() || null,
    text: () => {
      const text = input.value.trim();
      return text === startText || !text ? null : text;
    },
    set: (value) => {
      input.value = isSet(value) ? String(value) : "";
      return true;
    },
    disable: (value) => { input.disabled = value; },
  };
}

const MAKERS = { range: makeRange, choice: makeChoice, toggle: makeToggle, text: makeText };

// One control for one description of a model's note; null for a description the page cannot draw.
export function drawControl(description, model, prefix, onChange = () => {}) {
  if (!description || typeof description.name !== "string" || !NAME.test(description.name) || !KINDS.includes(description.kind)) return null;
  const words = Object.hasOwn(WORDS, description.name) ? WORDS[description.name] : {};
  const id = `${prefix}-${description.name.replace(/_/g, "-")}`;
  const parts = field(description, id, words, description.kind);
  const control = MAKERS[description.kind](description, model, id, words, parts, () => onChange(description.name));
  if (parts.hintEl) parts.box.append(parts.hintEl);
  const started = control.text() === null ? control.value() : undefined;
  return {
    ...control,
    name: description.name,
    element: parts.box,
    // The same control again when the next model describes it alike (same description, same start).
    signature: JSON.stringify([description, started, words.values ? words.values(model) : null]),
    changed: () => control.text() !== null,
  };
}

// The controls of one section: drawn in `container` for the chosen model, except the parameters
// the section draws itself (own: e.g. the format list, the region box, the style gallery).
// onChange(name): a control's value changed.
export class ParameterControls {
  constructor(container, prefix, { own = [], onChange = () => {} } = {}) {
    this.container = container;
    this.prefix = prefix;
    this.own = new Set(own);
    this.onChange = onChange;
    this.controls = new Map(); // name -> control; those of other models stay, hidden, with their values
    this.shown = [];
    this.busy = false;
  }

  // Draw the model's controls: one it shares with the last model keeps its value; one that is
  // new for it starts at its start, or at the value set before where it can hold it.
  show(model, descriptions) {
    const order = Object.keys(WORDS);
    const rank = (d) => (order.includes(d.name) ? order.indexOf(d.name) : order.length);
    const wanted = (descriptions || []).filter((d) => d && !this.own.has(d.name));
    const sorted = wanted.map((d, index) => ({ d, index })).sort((a, b) => rank(a.d) - rank(b.d) || a.index - b.index);
    this.shown = [];
    for (const { d } of sorted) {
      if (this.shown.some((c) => c.name === d.name)) continue;
      const fresh = drawControl(d, model, this.prefix, this.onChange);
      if (!fresh) continue;
      let control = this.controls.get(d.name);
      if (!control || control.signature !== fresh.signature) {
        if (control && control.changed()) fresh.set(control.value());
        if (control) control.element.remove();
        control = fresh;
        this.controls.set(d.name, control);
      }
      control.disable(this.busy);
      control.element.hidden = false;
      this.container.append(control.element);
      this.shown.push(control);
    }
    for (const control of this.controls.values()) {
      if (!this.shown.includes(control)) control.element.hidden = true;
    }
  }

  // The typed value of a shown control (null: left to the model); undefined when not shown.
  value(name) {
    const control = this.shown.find((c) => c.name === name);
    return control ? control.value() : undefined;
  }

  // The form field a shown control sends; null when it sends none.
  sent(name) {
    const control = this.shown.find((c) => c.name === name);
    return control ? control.text() : null;
  }

  // The form fields of the shown controls whose values differ from where they started.
  addFields(params) {
    for (const control of this.shown) {
      const text = control.text();
      if (text !== null) params[control.name] = text;
    }
    return params;
  }

  setDisabled(busy) {
    this.busy = busy;
    for (const control of this.controls.values()) control.disable(busy);
  }
}
