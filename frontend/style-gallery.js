// The style choices: the gallery (one radio button per style, with a sample image made by this
// project's own model where frontend/styles/<name>.jpg exists, else the title on a colour), the
// same styles in the "second style" list and its share.
import { $, element, radioInput, show, strong } from "./dom.js";
import { STYLE_TITLES } from "./models.js";

// The styles the served model has (models.json), titled where this page knows them; null when
// models.json does not say.
export function stylesFrom(served) {
  const note = (served || []).find((m) => m.name === "style" && Array.isArray(m.styles));
  if (!note) return null;
  const names = note.styles.filter((n) => typeof n === "string");
  const known = STYLE_TITLES.filter((t) => names.includes(t.name)); // this page's order
  const others = names.filter((n) => !STYLE_TITLES.some((t) => t.name === n)).map((n) => ({ name: n, title: n.replace(/[-_]+/g, " "), artist: "" }));
  return [...known, ...others];
}

function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

function styleTile(style, checked) {
  const label = element("label", { className: "style-tile" });
  const art = element("span", { className: "style-art", text: style.title });
  art.style.setProperty("--hue", String(hue(style.name)));
  const caption = element("span", { className: "style-caption" });
  caption.append(strong(style.title), element("span", { text: style.artist }));
  label.append(radioInput("style", style.name, checked), art, caption);
  label.dataset.style = style.name;
  return label;
}

export class StyleGallery {
  constructor(form) {
    this.form = form;
    this.gallery = $("style-gallery");
    this.blend = $("style-blend");
    this.blendWeight = $("style-blend-weight");
    this.styles = STYLE_TITLES;
    this.blend.addEventListener("change", () => this.setBlendLabel());
    this.blendWeight.addEventListener("input", () => this.setBlendLabel());
  }

  get selected() {
    return this.styles.find((s) => s.name === (this.form.querySelector('input[name="style"]:checked') || {}).value);
  }

  // The second style, when one other than the chosen one is picked, and its share.
  get second() {
    const style = this.selected;
    return this.styles.find((s) => s.name === this.blend.value && s.name !== (style && style.name));
  }
  get share() { return Number(this.blendWeight.value); }

  build(styles) {
    const keep = (this.form.querySelector('input[name="style"]:checked') || {}).value;
    this.styles = styles;
    const { gallery } = this;
    gallery.replaceChildren(...styles.map((style, index) => styleTile(style, keep ? style.name === keep : index === 0)));
    if (!gallery.querySelector("input:checked") && gallery.querySelector("input")) gallery.querySelector("input").checked = true;
    this.blend.replaceChildren(new Option("None", ""), ...styles.map((style) => new Option(style.title, style.name)));
    this.setBlendLabel();
  }

  setBlendLabel() {
    show($("style-blend-field"), Boolean(this.blend.value));
    $("style-blend-value").textContent = `${Math.round(this.share * 100)}%`;
  }

  loadSamples() {
    this.gallery.querySelectorAll(".style-tile").forEach((tile) => {
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
}
