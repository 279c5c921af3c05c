// Parts both forms have, from one template each (index.html): the drop zone and the chosen
// photo's line (ids PREFIX-drop, -file, -info, -thumb, -name, -sizes), and the send/cancel
// buttons, progress and error notice (PREFIX-send, -cancel, -progress, -progress-text, -error).
import { $ } from "./dom.js";

const FILLS = {
  "photo-picker": (part, slot) => {
    part.querySelector(".drop-hint").textContent = slot.dataset.hint;
    part.querySelector(".drop-label").htmlFor = `${slot.dataset.prefix}-file`;
    part.querySelector(".dropzone").classList.toggle("small", slot.classList.contains("small"));
  },
  "job-controls": (part, slot) => { part.querySelector('[data-part="send"]').textContent = slot.dataset.action; },
};

export function fromTemplates() {
  for (const [name, fill] of Object.entries(FILLS)) {
    document.querySelectorAll(`.${name}`).forEach((slot) => {
      const part = $(name).content.cloneNode(true);
      part.querySelectorAll("[data-part]").forEach((el) => { el.id = `${slot.dataset.prefix}-${el.dataset.part}`; });
      fill(part, slot);
      slot.replaceWith(part);
    });
  }
}
