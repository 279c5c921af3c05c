// What both sections do with a result image: show it once the browser has decoded it, say its
// size and file type, and offer it for download.
import { objectUrls } from "./dom.js";
import { EXTENSIONS, dims, formatBytes } from "./format.js";
import { Problem } from "./problems.js";

// unreadable: the end of the sentence when the browser cannot decode the result.
export async function showResultImage(img, key, result, unreadable) {
  img.src = objectUrls.set(key, result.blob);
  try {
    await img.decode();
  } catch (_) {
    throw new Problem("The result arrived but this browser cannot display it.", `It is a ${result.type || "file of unknown type"}${unreadable}`);
  }
}

export const extensionOf = (result) => EXTENSIONS[result.type] || "img";

// The result's size as the server states it (X-Output-Size), else as the image decoded.
export function resultSize(result, img) {
  return result.outputSize ? result.outputSize.replace("x", " × ") + " px" : dims(img.naturalWidth, img.naturalHeight);
}

export function offerDownload(link, img, fileName, result) {
  const ext = extensionOf(result);
  link.href = img.src;
  link.download = `${fileName}.${ext}`;
  link.textContent = `Download the result (${ext.toUpperCase()}, ${formatBytes(result.blob.size)})`;
}
