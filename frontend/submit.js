// The one way both sections run a request: the section busy, progress with the elapsed seconds
// and Cancel (the job-controls template: PREFIX-progress, -progress-text, -cancel, -error), and
// whatever went wrong shown as a Problem in the section's error notice.
import { $, show } from "./dom.js";
import { Job } from "./job.js";
import { Problem, showProblem } from "./problems.js";

// work(job): the request and what is shown of its result; a Problem it throws is shown as it is,
// anything else under the `failed` headline. onProblem runs before it is shown, onServerDown
// after, when the problem says the server is down. keepError: the last error stays up meanwhile.
export async function runJob({
  prefix, label, setBusy, work, failed = "Something went wrong in the page.",
  onProblem = () => {}, onServerDown = () => {}, keepError = false,
}) {
  const error = $(`${prefix}-error`);
  if (!keepError) show(error, false);
  setBusy(true);
  const job = new Job({
    label,
    progress: $(`${prefix}-progress`),
    progressText: $(`${prefix}-progress-text`),
    cancelButton: $(`${prefix}-cancel`),
  });
  try {
    await work(job);
  } catch (thrown) {
    const problem = thrown instanceof Problem ? thrown : new Problem(failed, String(thrown));
    onProblem(problem);
    showProblem(error, problem);
    if (problem.serverDown) onServerDown();
  } finally {
    job.finish();
    setBusy(false);
  }
}
