// An enlargement's result: the model's image over the bicubic enlargement of the same photo (or
// region) on the before/after slider, the line about it (size, format, time, tiles, the
// server's restoration and passes) and its download link.
import { makeCompare } from "./compare.js";
import { $, show } from "./dom.js";
import { baseName, factor, formatBytes } from "./format.js";
import { extensionOf, offerDownload, resultSize, showResultImage } from "./result.js";

export const outSize = (n, s) => Math.floor(n * s + 0.5); // the server's round(s * side)

// state.photo, state.region: what was sent; map: the invention map (reset for each result).
export function makeSrResult(state, map) {
  const resultImg = $("sr-result");
  const canvas = $("sr-bicubic");
  const slider = makeCompare($("sr-compare"), canvas, $("sr-handle"));

  function drawBicubic(s) {
    const { photo, region } = state;
    if (!photo || !photo.bitmap) return false;
    const { x, y, w, h } = region || { x: 0, y: 0, w: photo.width, h: photo.height };
    canvas.width = outSize(w, s);
    canvas.height = outSize(h, s);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(photo.bitmap, x, y, w, h, 0, 0, canvas.width, canvas.height);
    return true;
  }

  function showComparison(title, s) {
    const hasBicubic = drawBicubic(s);
    show(canvas, hasBicubic);
    show($("sr-handle"), hasBicubic);
    show($("sr-label-before"), hasBicubic);
    $("sr-label-before").textContent = `Bicubic ${factor(s)}`;
    $("sr-label-after").textContent = `${title} ${factor(s)}`;
    $("sr-compare-hint").textContent = hasBicubic
      ? "Drag the handle (or use the arrow keys on it) to compare the plain bicubic enlargement on the left with the model's result on the right."
      : "This browser could not read the original photo, so there is no bicubic enlargement to compare with.";
    const w = resultImg.naturalWidth;
    const h = resultImg.naturalHeight;
    // Shown at its own size when it fits, never wider than the page or taller than the window.
    $("sr-compare").style.width = `min(100%, ${w}px, calc(75vh * ${w / h}))`;
    slider.set(50);
  }

  // result: predict's; model, title: the model's name and title; described: the title with the
  // fidelity sent; s: the scale.
  async function showResult(result, { model, title, described, s }) {
    await showResultImage(resultImg, "sr-result", result, "; you can still download it.");
    showComparison(title, s);
    $("sr-meta").textContent = metaLine(result, described, resultSize(result, resultImg));
    offerDownload($("sr-download"), resultImg, `${baseName(state.photo.file.name)}_${model}_x${s}`, result);
    map.reset();
    show($("sr-result-box"), true);
  }

  resultImg.draggable = false;
  return { show: showResult };
}

function metaLine(result, described, size) {
  const parts = [described, size, extensionOf(result).toUpperCase(), formatBytes(result.blob.size), `${result.seconds.toFixed(1)} s`];
  if (result.tiles) parts.push(result.tiles === "1" ? "1 tile" : `${result.tiles} tiles`);
  if (result.restore) parts.push(`restoration ${result.restore}`);
  if (result.ensemble && !result.ensemble.startsWith("1 ")) parts.push(`passes averaged ${result.ensemble}`);
  return parts.join(" · ");
}
