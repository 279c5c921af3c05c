// The invention map of the shown result: the same request with output=map, laid over it.
import { predict } from "./api.js";
import { $, objectUrls, show } from "./dom.js";
import { controlsOf } from "./models.js";
import { runJob } from "./submit.js";

// state.lastRequest: what the shown result was made from; setBusy: the section's.
export function makeInventionMap(state, setBusy) {
  const toggle = $("sr-map");
  const overlay = $("sr-map-overlay");

  async function drawMap(job) {
    const { model, file, params } = state.lastRequest;
    const result = await predict(model, file, { ...params, output: "map", format: "png" }, job);
    overlay.src = objectUrls.set("sr-map", result.blob);
    await overlay.decode();
    $("sr-map-status").textContent = `Map made in ${result.seconds.toFixed(1)} s.`;
    show(overlay, toggle.checked);
  }

  toggle.addEventListener("change", async () => {
    show(overlay, toggle.checked && overlay.hasAttribute("src"));
    if (!toggle.checked || overlay.hasAttribute("src") || !state.lastRequest) return;
    await runJob({
      prefix: "sr",
      label: "Drawing the invention map",
      setBusy,
      work: drawMap,
      failed: "The invention map could not be drawn.",
      onProblem: () => { toggle.checked = false; },
      keepError: true,
    });
  });

  // A new result: its invention map is asked for again when the toggle is on; offered for
  // models whose note lists output=map (those with fidelity).
  function reset() {
    overlay.removeAttribute("src");
    show(overlay, false);
    toggle.checked = false;
    $("sr-map-status").textContent = "";
    show($("sr-map-field"), Boolean(state.lastRequest && offersMap(state.lastRequest.info)));
  }
  return { reset, setDisabled: (value) => { toggle.disabled = value; } };
}

const offersMap = (info) => controlsOf(info).some((c) => c && c.name === "output" && Array.isArray(c.options) && c.options.includes("map"));
