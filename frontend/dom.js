// Small DOM helpers every part of the page uses, and the object URLs of the photos and results shown.

export const $ = (id) => document.getElementById(id);

export function show(element, visible) {
  element.hidden = !visible;
}

export function radioInput(name, value, checked) {
  const radio = document.createElement("input");
  radio.type = "radio";
  radio.name = name;
  radio.value = value;
  radio.checked = checked;
  return radio;
}

// A new element, with its class and its text when given.
export function element(tag, { className, text } = {}) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export const strong = (text) => element("strong", { text });

// One object URL per key (a thumbnail, a result): a new blob for a key revokes the old URL.
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
export const objectUrls = new ObjectUrls();
