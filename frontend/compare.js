// The before/after slider: the bicubic enlargement (before) clipped over the model's result, the
// divider dragged with the pointer or moved with the arrow keys on its handle.

export function makeCompare(container, before, handle) {
  let position = 50;
  let dragging = false;
  const set = (value) => {
    position = Math.max(0, Math.min(100, value));
    before.style.clipPath = `inset(0 ${100 - position}% 0 0)`;
    handle.style.left = `${position}%`;
    handle.setAttribute("aria-valuenow", String(Math.round(position)));
    handle.setAttribute("aria-valuetext", `${Math.round(position)}% bicubic, ${100 - Math.round(position)}% model`);
  };
  const fromPointer = (e) => {
    const box = container.getBoundingClientRect();
    set(((e.clientX - box.left) / box.width) * 100);
  };
  container.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    dragging = true;
    container.setPointerCapture(e.pointerId);
    container.classList.add("dragging");
    fromPointer(e);
    handle.focus({ preventScroll: true });
    e.preventDefault();
  });
  container.addEventListener("pointermove", (e) => { if (dragging) fromPointer(e); });
  const stop = () => { dragging = false; container.classList.remove("dragging"); };
  container.addEventListener("pointerup", stop);
  container.addEventListener("pointercancel", stop);
  handle.addEventListener("keydown", (e) => {
    const step = e.shiftKey ? 10 : 2;
    const moves = { ArrowLeft: -step, ArrowDown: -step, ArrowRight: step, ArrowUp: step };
    if (e.key in moves) set(position + moves[e.key]);
    else if (e.key === "Home") set(0);
    else if (e.key === "End") set(100);
    else return;
    e.preventDefault();
  });
  set(50);
  return { set, get position() { return position; } };
}
