// The mouse, touch and keys on a plane's canvas, turned into changes of the state.
// Left button or one finger: the current tool (pan, window, crosshair, mark); middle
// button: pan; right button: window/level; two fingers: pinch zoom and pan. The wheel
// scrolls CT slices (zooms with ctrl, and always on an X-ray); up and down arrows step
// slices on a focused plane.
import { text } from "./config.js";
import { cssSize, voxelAt } from "./geometry.js";

const WHEEL_PIXELS_PER_SLICE = 100; // one mouse-wheel notch; trackpad deltas add up
const WINDOW_GAIN = { ct: 4, xray: 1 }; // values per CSS pixel dragged: HU or grey levels

// `element` is the viewer's, where "viewer:mark" is dispatched.
export function bindInput(state, viewport, element) {
  bindPointer(state, viewport, element);
  bindWheel(state, viewport);
  bindKeys(state, viewport);
}

function localPoint(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  return { x: event.clientX - rect.left, y: event.clientY - rect.top };
}

function bindPointer(state, viewport, element) {
  const { view, canvas } = viewport;
  const pointers = new Map();
  let drag = null;
  const pinch = () => {
    const [a, b] = [...pointers.values()];
    return { mode: "pinch", distance: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  };
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.volume) return;
    event.preventDefault();
    canvas.focus({ preventScroll: true });
    canvas.setPointerCapture(event.pointerId);
    state.activate(view);
    const point = localPoint(canvas, event);
    pointers.set(event.pointerId, point);
    if (pointers.size === 2) {
      drag = pinch();
      return;
    }
    const mode = { 1: "pan", 2: "window" }[event.button] || state.tool;
    drag = { mode, ...point };
    if (mode === "crosshair" || mode === "mark") pick(state, viewport, element, mode, point);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag || !pointers.has(event.pointerId)) return;
    const point = localPoint(canvas, event);
    pointers.set(event.pointerId, point);
    if (drag.mode === "pinch") {
      if (pointers.size !== 2) return;
      const now = pinch();
      state.pan(view, now.x - drag.x, now.y - drag.y);
      state.zoomAt(view, now, cssSize(canvas), now.distance / (drag.distance || 1));
      drag = now;
      return;
    }
    const dx = point.x - drag.x;
    const dy = point.y - drag.y;
    Object.assign(drag, point);
    if (drag.mode === "pan") {
      state.pan(view, dx, dy);
    } else if (drag.mode === "window") {
      const gain = WINDOW_GAIN[state.kind];
      state.setWindow(state.window + dx * gain, state.level + dy * gain);
    } else if (drag.mode === "crosshair") {
      pick(state, viewport, element, "crosshair", point);
    }
  });
  const release = (event) => {
    pointers.delete(event.pointerId);
    drag = null; // lifting one finger of a pinch must not turn into a jump
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
}

// A click with the crosshair moves the other planes there; with the mark tool it
// proposes a nodule at that voxel, which the page (static/js/nodules.js) sends on.
function pick(state, { view, canvas }, element, mode, point) {
  const voxel = voxelAt(state.volume, view, cssSize(canvas), point);
  if (!voxel) return;
  if (mode === "crosshair") {
    state.crossAt(view, voxel);
    return;
  }
  const [z, y, x] = voxel;
  state.proposeMark({ z, y, x, label: text("newMark") });
  element.dispatchEvent(new CustomEvent("viewer:mark", { bubbles: true, detail: { z, y, x } }));
}

function bindWheel(state, { view, canvas }) {
  let wheel = 0; // pixels scrolled towards the next slice
  canvas.addEventListener("wheel", (event) => {
    if (!state.volume) return;
    event.preventDefault();
    state.activate(view);
    const delta = event.deltaY * [1, 33, 400][event.deltaMode]; // pixels, lines, pages
    if (event.ctrlKey || state.kind === "xray") {
      state.zoomAt(view, localPoint(canvas, event), cssSize(canvas), Math.exp(-delta * 0.002));
      return;
    }
    wheel += delta;
    let steps = Math.trunc(wheel / WHEEL_PIXELS_PER_SLICE);
    if (steps === 0 && Math.abs(delta) >= WHEEL_PIXELS_PER_SLICE / 2) {
      steps = Math.sign(delta); // a mouse whose notch is under 100 pixels
    }
    if (steps !== 0) {
      wheel = 0;
      state.setSlice(view, view.slice + steps);
    }
  }, { passive: false });
}

function bindKeys(state, { view, canvas }) {
  canvas.addEventListener("keydown", (event) => {
    const step = { ArrowUp: 1, ArrowDown: -1 }[event.key];
    if (!step || state.kind !== "ct") return;
    event.preventDefault();
    state.activate(view);
    state.setSlice(view, view.slice + step);
  });
}
