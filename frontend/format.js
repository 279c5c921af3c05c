// Sizes, byte counts and file names as the page writes them.

export const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };

export const dims = (w, h) => `${w} × ${h} px`;

export const factor = (s) => `×${s}`;

export function megapixels(n) {
  return n >= 100_000 ? `${(n / 1e6).toFixed(n >= 10e6 ? 0 : 1)} MP` : `${n.toLocaleString("en")} pixels`;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function baseName(fileName) {
  const stem = (fileName || "photo").replace(/\.[^.]*$/, "");
  return stem.replace(/[^\w.-]+/g, "_").slice(0, 60) || "photo";
}
