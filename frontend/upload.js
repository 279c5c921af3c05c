// Choosing a photo: the drop zone and file input, reading the file in the browser (its size, the
// bitmap for the bicubic comparison), its line under the drop zone, and the warnings before
// sending a photo the server will refuse.
import { maxUploadBytes } from "./api.js";
import { $, objectUrls, show } from "./dom.js";
import { dims, formatBytes, megapixels } from "./format.js";

async function readPhoto(file) {
  // The browser's own decoder gives the size (and the bicubic comparison). A file it cannot
  // decode (TIFF, or not an image at all) may still be sent: the server has the last word.
  try {
    const bitmap = await createImageBitmap(file);
    return { file, bitmap, width: bitmap.width, height: bitmap.height };
  } catch (_) {
    return { file, bitmap: null, width: 0, height: 0 };
  }
}

export function wireDropZone(zone, input, onFile) {
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) onFile(input.files[0]);
  });
  zone.addEventListener("dragenter", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const file = e.dataTransfer.files && e.dataTransfer.files[0];
    if (file && !input.disabled) onFile(file);
  });
}

// A photo dropped beside a drop zone must not make the browser leave the page.
export function keepDropsOnThePage() {
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

// A photo chosen in a section (the photo-picker template's ids PREFIX-name, -thumb): the last
// error and result hidden, the file read, its line under the drop zone written.
export async function takePhoto(prefix, file) {
  show($(`${prefix}-error`), false);
  show($(`${prefix}-result-box`), false);
  const photo = await readPhoto(file);
  describePhoto(photo, `${prefix}-thumb`, $(`${prefix}-name`), $(`${prefix}-thumb`));
  return photo;
}

// The chosen photo's line: its name and size, and a thumbnail when the browser can show it.
function describePhoto(photo, key, nameEl, thumbEl) {
  nameEl.textContent = `${photo.file.name || "photo"} · ${formatBytes(photo.file.size)}`;
  if (photo.bitmap) {
    thumbEl.src = objectUrls.set(key, photo.file);
    show(thumbEl, true);
  } else {
    objectUrls.revoke(key);
    thumbEl.removeAttribute("src");
    show(thumbEl, false);
  }
}

// Sentences that warn before sending a photo the server will refuse (empty: none). The limits
// are the server's own (config.json's upload size, the model's pixel limits in models.json); the
// server checks them itself.
export function limitWarnings(photo, scale, served = {}) {
  const warnings = [];
  if (maxUploadBytes !== null && photo.file.size > maxUploadBytes) {
    warnings.push(`The file is ${formatBytes(photo.file.size)}, over the server's upload limit of ${formatBytes(maxUploadBytes)}.`);
  }
  if (photo.bitmap) warnings.push(...pixelWarnings(photo, scale, served));
  return warnings;
}

function pixelWarnings({ width: w, height: h }, scale, served) {
  const warnings = [];
  const maxInputPixels = Number.isInteger(served.max_input_pixels) ? served.max_input_pixels : Infinity;
  const maxOutputPixels = Number.isInteger(served.max_output_pixels) ? served.max_output_pixels : Infinity;
  const pixels = w * h;
  const outPixels = pixels * scale * scale;
  const fit = Math.min(maxInputPixels / pixels, maxOutputPixels / outPixels);
  if (pixels > maxInputPixels) {
    warnings.push(`The photo has ${megapixels(pixels)}, over the server's limit of ${megapixels(maxInputPixels)} per photo.`);
  } else if (outPixels > maxOutputPixels) {
    warnings.push(
      `The result would be ${dims(w * scale, h * scale)} (${megapixels(outPixels)}), over the server's limit of ${megapixels(maxOutputPixels)} per result.`,
    );
  }
  if (fit < 1) {
    const s = Math.sqrt(fit);
    warnings.push(`Shrink it to ${dims(Math.floor(w * s), Math.floor(h * s))} or smaller first; if you send it as it is, the server will refuse it.`);
  }
  return warnings;
}
