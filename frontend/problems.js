// A problem to show: a headline a person understands plus the server's own sentence, from an
// error reply (its JSON `code`, `type` and `message`) or from a request that got no reply.
import { show } from "./dom.js";
import { modelTitle } from "./models.js";

export class Problem extends Error {
  constructor(headline, detail = "", kind = "error") {
    super(headline);
    this.headline = headline;
    this.detail = detail;
    this.kind = kind; // "error" or "info" (cancelled by the user)
  }
}

// The headline of each stable error code of this project's replies (dronesr/errors.py); the
// message under it is the server's own sentence.
const CODE_HEADLINES = {
  no_image: "The request carried no photo.",
  bad_image: "The image file is damaged or incomplete.",
  unsupported_format: "That file is not an image the server can read.",
  too_large: "The photo is too large for the server.",
  bad_parameter: "The server did not accept one of the settings.",
  unknown_parameter: "The server did not accept one of the settings.",
  not_acceptable: "The server cannot send the chosen format.",
  out_of_memory: "The server ran out of memory for this photo.",
  timeout: "The upload took too long to arrive.",
  too_many_connections: "The server has too many open connections. Please try again in a moment.",
};

const SERVER_DOWN = "The model server is not running, or not answering.";

function headlineOf(status, code, type, model) {
  if (status === 413) return "The file is too large to upload.";
  if (CODE_HEADLINES[code]) return CODE_HEADLINES[code];
  if (status === 404 && type === "ModelNotFoundException") return `The ${modelTitle(model)} model is not loaded on this server.`;
  if (status === 502) return SERVER_DOWN;
  if (status === 503) return "The model server is busy or still starting. Please try again in a moment.";
  if (status === 504) return "The model server took too long to answer.";
  if (status >= 500) return "The server failed while working on the photo.";
  return "The server did not accept the request.";
}

export function problemFromResponse(status, statusText, body, model) {
  const text = (key) => (body && typeof body[key] === "string" ? body[key] : "");
  // this project's replies carry a word as their code; TorchServe's own ones the status as a number
  const headline = headlineOf(status, text("code"), text("type"), model);
  const problem = new Problem(headline, text("message") || `The server answered HTTP ${status}${statusText ? " " + statusText : ""}.`);
  problem.serverDown = headline === SERVER_DOWN;
  return problem;
}

// No reply: the page stopped waiting (timeout), the user cancelled, or nothing answered at `api`.
export function problemFromFailure(error, job, api) {
  if (job && job.reason === "timeout") {
    return new Problem(
      `No answer after ${job.timeoutS} seconds, so the page stopped waiting.`,
      "Large photos take a long time on this server's processor: try a smaller photo, or try again later.",
    );
  }
  if (job && job.reason === "cancel") return new Problem("Cancelled.", "The photo was not processed.", "info");
  const problem = new Problem(
    "Could not reach the server.",
    `Nothing answered at ${api || "the model server"}. Check that TorchServe is running (make serve).`,
  );
  problem.serverDown = true;
  return problem;
}

export function showProblem(box, problem) {
  box.replaceChildren();
  const headline = document.createElement("strong");
  headline.textContent = problem.headline;
  box.append(headline);
  if (problem.detail) {
    box.append(" ");
    const span = document.createElement("span");
    span.className = "detail";
    span.textContent = problem.detail;
    box.append(span);
  }
  box.classList.toggle("error", problem.kind === "error");
  box.classList.toggle("info", problem.kind !== "error");
  show(box, true);
}
