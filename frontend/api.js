// Talking to TorchServe's inference API: where it is and its upload limit (config.json from the
// page's own server), and POST predictions/<model> as a multipart form.
import { Problem, problemFromFailure, problemFromResponse } from "./problems.js";

// The server's upload limit, as it states it (config.json: TorchServe's max_request_size). The
// server checks it itself; the page only warns before sending.
export let maxUploadBytes = null;

// Where TorchServe's inference API is: config.json from the page's own server.
export let apiBase = "";
export const apiReady = (async () => {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    const config = await response.json();
    if (typeof config.api === "string" && /^https?:\/\//.test(config.api)) apiBase = config.api.replace(/\/+$/, "");
    if (Number.isInteger(config.max_upload_bytes)) maxUploadBytes = config.max_upload_bytes;
  } catch (_) { /* keep the default below */ }
  if (!apiBase) apiBase = `${location.protocol}//${location.hostname}:8080`;
  return apiBase;
})();

// The reply's body when it is an error: its JSON, or null.
async function errorBody(response) {
  try { return JSON.parse(await response.text()); } catch (_) { return null; /* not JSON */ }
}

// POST the image as a multipart form (the file in "data", parameters beside it): a plain
// cross-origin form post, which needs no CORS preflight. Resolve to the result or throw a Problem.
export async function predict(model, file, params, job) {
  let response, blob;
  try {
    const body = new FormData();
    body.append("data", file, (file && file.name) || "photo");
    for (const [name, value] of Object.entries(params)) body.append(name, String(value));
    const api = await apiReady;
    response = await fetch(`${api}/predictions/${encodeURIComponent(model)}`, { method: "POST", body, signal: job.signal });
    if (!response.ok) throw problemFromResponse(response.status, response.statusText, await errorBody(response), model);
    blob = await response.blob();
  } catch (error) {
    if (error instanceof Problem) throw error;
    throw problemFromFailure(error, job, apiBase);
  }
  const type = (response.headers.get("Content-Type") || blob.type || "").split(";")[0].trim();
  return {
    blob,
    type,
    outputSize: response.headers.get("X-Output-Size"),
    tiles: response.headers.get("X-Tiles"),
    restore: response.headers.get("X-Restore"), // the restoration the server used, and why
    ensemble: response.headers.get("X-Ensemble"), // passes averaged (8: self-ensemble), and why
    seconds: job.seconds,
  };
}
