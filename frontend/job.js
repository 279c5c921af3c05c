// One request in flight: an AbortController that fires on timeout or on Cancel, and a ticking
// "N s" in the section's progress line so the page never waits silently.
import { show } from "./dom.js";

export const TIMEOUT_S = 300; // TorchServe's own response timeout (config.properties)

export class Job {
  constructor({ label, progress, progressText, cancelButton, timeoutS = TIMEOUT_S }) {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.reason = null;
    this.timeoutS = timeoutS;
    this.started = performance.now();
    this.progress = progress;
    this.progressText = progressText;
    this.cancelButton = cancelButton;
    this.label = label;
    this.timer = setTimeout(() => this.abort("timeout"), timeoutS * 1000);
    if (progress) {
      this.tick();
      this.ticker = setInterval(() => this.tick(), 1000);
      show(progress, true);
    }
    if (cancelButton) {
      this.onCancel = () => this.abort("cancel");
      cancelButton.addEventListener("click", this.onCancel);
      show(cancelButton, true);
    }
  }
  get seconds() { return (performance.now() - this.started) / 1000; }
  tick() {
    const s = Math.floor(this.seconds);
    this.progressText.textContent = `${this.label} — ${s} s (the page stops waiting after ${this.timeoutS} s)`;
  }
  abort(reason) {
    if (this.reason) return;
    this.reason = reason;
    this.controller.abort();
  }
  finish() {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    if (this.progress) show(this.progress, false);
    if (this.cancelButton) {
      this.cancelButton.removeEventListener("click", this.onCancel);
      show(this.cancelButton, false);
    }
  }
}
