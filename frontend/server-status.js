// The header's line about the model server: its address and whether it answers GET /ping.
import { apiReady } from "./api.js";
import { $ } from "./dom.js";
import { Job } from "./job.js";

export async function checkServer() {
  const dot = $("server-dot");
  const state = $("server-state");
  const api = await apiReady;
  $("server-origin").textContent = api;
  const job = new Job({ label: "ping", timeoutS: 10 });
  try {
    const response = await fetch(`${api}/ping`, { signal: job.signal, cache: "no-store" });
    if (response.ok) {
      dot.className = "dot ok";
      state.textContent = "— the model server is up.";
    } else {
      dot.className = "dot warn";
      state.textContent = `— the model server answered HTTP ${response.status}.`;
    }
  } catch (_) {
    dot.className = "dot bad";
    state.textContent = "— not answering (start it with make serve).";
  } finally {
    job.finish();
  }
}
