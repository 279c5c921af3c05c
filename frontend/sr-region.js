// The region to enlarge: a box dragged on the chosen photo, kept in the photo's own pixels
// (state.region: {x, y, w, h}, or null: the whole photo). onChange: the region changed.
import { $, show } from "./dom.js";

export function makeRegionPicker(state, onChange) {
  function set(region) {
    const { photo } = state;
    state.region = region;
    const box = $("sr-region-box");
    show(box, Boolean(region));
    show($("sr-region-clear"), Boolean(region));
    $("sr-region-text").textContent = region
      ? `Region: ${region.w} × ${region.h} px at (${region.x}, ${region.y})`
      : "Region: the whole photo";
    if (region) {
      const img = $("sr-region-photo");
      const k = img.clientWidth / photo.width;
      Object.assign(box.style, { left: `${region.x * k}px`, top: `${region.y * k}px`, width: `${region.w * k}px`, height: `${region.h * k}px` });
    }
    if (photo) onChange();
  }
  wireDragging(state, set);
  $("sr-region-clear").addEventListener("click", () => set(null));
  window.addEventListener("resize", () => { if (state.region) set(state.region); });
  return { set };
}

function wireDragging(state, set) {
  const frame = $("sr-region-frame");
  const img = $("sr-region-photo");
  let start = null;
  const at = (e) => {
    const r = img.getBoundingClientRect();
    const k = state.photo.width / r.width;
    return {
      x: Math.min(state.photo.width, Math.max(0, Math.round((e.clientX - r.left) * k))),
      y: Math.min(state.photo.height, Math.max(0, Math.round((e.clientY - r.top) * k))),
    };
  };
  const boxFrom = (a, b) => ({ x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) });
  frame.addEventListener("pointerdown", (e) => {
    if (state.busy || !state.photo || !state.photo.bitmap) return;
    start = at(e);
    frame.setPointerCapture(e.pointerId);
  });
  frame.addEventListener("pointermove", (e) => {
    if (start) set(boxFrom(start, at(e)));
  });
  frame.addEventListener("pointerup", (e) => {
    if (!start) return;
    const box = boxFrom(start, at(e));
    start = null;
    set(box.w >= 2 && box.h >= 2 ? box : null); // a click is not a region
  });
  frame.addEventListener("pointercancel", () => { start = null; });
}
