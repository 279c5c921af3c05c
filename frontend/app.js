// dronesr web page: plain JavaScript modules, no build step, no external resources.
// It calls TorchServe's inference API directly (POST predictions/<model> as a multipart form,
// GET ping), at the address the page's own server gives in config.json (frontend/server.py);
// TorchServe's CORS settings allow this page's origin and no other.
//
// The modules, by concern:
//   api.js            config.json (where the API is, its upload limit) and POST predictions/<model>
//   problems.js       an error reply (its JSON code) or a failed request as a sentence to show
//   job.js            one request in flight: timeout, Cancel, the elapsed seconds
//   submit.js         the one send/cancel/progress/error block both sections use
//   models.js         the shipped models and styles, and models.json (the models served)
//   controls.js       a model's parameter controls drawn from its note's "controls" (the parameter
//                     table), and the form fields of the values changed; parameter-words.js the
//                     page's own labels and hints for the parameters it knows
//   server-status.js  the header's line: the server's address and whether it answers
//   templates.js      the photo picker and job controls both forms have, from index.html's templates
//   upload.js         the drop zone, reading the chosen photo, the warnings before sending
//   result.js         a result image shown, its size and its download link
//   compare.js        the before/after slider
//   sr.js             the super-resolution section, with sr-controls.js (the model and its
//                     parameter controls), sr-region.js (the dragged region), sr-result.js (the
//                     comparison and the line about the result) and sr-map.js (the invention map)
//   style.js          the style-transfer section (and its parameter controls), with
//                     style-gallery.js (the styles and the second style)
//   dom.js, format.js small DOM helpers and object URLs; sizes, bytes and file names as written
import { fromTemplates } from "./templates.js";
import { checkServer } from "./server-status.js";
import { setupSuperResolution } from "./sr.js";
import { setupStyleTransfer } from "./style.js";
import { keepDropsOnThePage } from "./upload.js";

keepDropsOnThePage();
fromTemplates();
checkServer();
setupSuperResolution();
setupStyleTransfer();
