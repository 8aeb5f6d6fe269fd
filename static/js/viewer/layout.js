// The viewer's elements: the toolbar, a status line and a figure per plane (caption,
// canvas and, on a CT, a slice slider). sync() brings the controls in line with the state.
import { text } from "./config.js";
import { cssSize } from "./geometry.js";

const ZOOM_STEP = 1.25;

// A new element; `props` are set as properties, except aria-*, data-* and role, which
// are attributes.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (/^(aria-|data-|role$)/.test(key)) {
      node.setAttribute(key, value);
    } else {
      node[key] = value;
    }
  }
  node.append(...children);
  return node;
}

function button(label, onClick, props = {}) {
  const node = el("button", { type: "button", className: "viewer-button", textContent: label, ...props });
  node.addEventListener("click", onClick);
  return node;
}

// {viewports: [{view, canvas, stage, ...}], sync(), notice(), loaded(), fail()}
export function buildLayout(element, state, { canMark }) {
  const status = el("p", { className: "viewer-status", role: "status", textContent: text("loading") });
  const viewports = state.views.map((view) => buildViewport(state, view));
  const grid = el("div", { className: "viewer-grid viewer-grid-" + state.kind }, ...viewports.map((vp) => vp.figure));
  const controls = buildToolbar(state, viewports, canMark, sync);
  element.classList.add("viewer");
  element.replaceChildren(controls.toolbar, status, grid);
  let noticed = false;
  let failed = false;

  // The field being typed in is left alone until it is left (`all`).
  function sync(all = false) {
    element.dataset.tool = state.tool; // for the cursor
    controls.toolButtons.forEach((node) => node.setAttribute("aria-pressed", String(node.dataset.tool === state.tool)));
    for (const [input, value] of [[controls.widthInput, state.window], [controls.levelInput, state.level]]) {
      if (all || document.activeElement !== input) input.value = String(value);
    }
    controls.overlays.checked = state.overlays;
    if (!state.volume) return;
    for (const { view, slider, counter } of viewports) {
      if (!slider) continue;
      slider.max = String(view.count);
      slider.value = String(view.slice + 1);
      counter.textContent = `${view.slice + 1} / ${view.count}`;
    }
  }

  return {
    viewports,
    sync,
    // A message that stays once the image is shown.
    notice(message) {
      if (failed) return;
      status.textContent = message;
      noticed = true;
    },
    loaded() {
      status.hidden = !noticed;
    },
    fail(message) {
      failed = true;
      status.textContent = message;
      status.setAttribute("role", "alert");
      status.classList.add("viewer-error");
      status.hidden = false;
      controls.toolbar.hidden = true;
      grid.hidden = true;
      element.dataset.ready = "error";
    },
  };
}

function buildViewport(state, view) {
  const name = text(view.key);
  const canvas = el("canvas", { tabIndex: 0, "data-plane": view.key,
    "aria-label": text("planeImage", { plane: name }) });
  const stage = el("div", { className: "viewer-stage" }, canvas);
  const counter = el("span", { className: "viewer-counter" });
  const caption = el("figcaption", { className: "viewer-caption" },
    el("span", { className: "viewer-plane", textContent: name }), counter);
  const figure = el("figure", { className: "viewer-viewport" }, caption, stage);
  let slider = null;
  if (state.kind === "ct") {
    slider = el("input", { type: "range", min: 1, className: "viewer-slider",
      "aria-label": text("slice", { plane: name }) });
    slider.addEventListener("input", () => state.setSlice(view, slider.value - 1));
    figure.append(slider);
  }
  return { view, canvas, stage, counter, slider, figure };
}

function buildToolbar(state, viewports, canMark, sync) {
  const tools = ["pan", "window"];
  if (state.kind === "ct") tools.push("crosshair");
  if (canMark) tools.push("mark");
  const toolButtons = tools.map((tool) => button(text(tool), () => state.setTool(tool), { "data-tool": tool }));
  const presets = state.presets.map((preset) =>
    button(preset.name, () => state.setWindow(preset.width, preset.level)));

  const number = (label) => el("input", { type: "number", step: 1, "aria-label": text(label) });
  const widthInput = number("width");
  const levelInput = number("level");
  const onInput = () => {
    const [width, level] = [widthInput.value, levelInput.value];
    if (width !== "" && level !== "" && Number.isFinite(+width) && Number.isFinite(+level)) {
      state.setWindow(+width, +level);
    }
  };
  const field = (short, input) => {
    input.addEventListener("input", onInput);
    input.addEventListener("change", () => sync(true));
    const shortLabel = el("span", { "aria-hidden": "true", textContent: text(short) });
    return el("label", { className: "viewer-field" }, shortLabel, input);
  };

  const zoomAll = (factor) => viewports.forEach(({ view, canvas }) => {
    const size = cssSize(canvas);
    state.zoomAt(view, { x: size.width / 2, y: size.height / 2 }, size, factor);
  });
  const overlays = el("input", { type: "checkbox", checked: true });
  overlays.addEventListener("change", () => state.setOverlays(overlays.checked));
  const group = (...nodes) => el("div", { className: "viewer-group" }, ...nodes);
  const toolbar = el("div", { className: "viewer-toolbar", role: "toolbar", "aria-label": text("toolbar") },
    group(...toolButtons),
    group(...presets),
    group(field("widthShort", widthInput), field("levelShort", levelInput)),
    group(button("−", () => zoomAll(1 / ZOOM_STEP), { "aria-label": text("zoomOut") }),
      button("+", () => zoomAll(ZOOM_STEP), { "aria-label": text("zoomIn") }),
      button(text("resetView"), () => state.resetView())),
    group(el("label", { className: "viewer-check" }, overlays, " " + text("overlays"))));
  return { toolbar, toolButtons, widthInput, levelInput, overlays };
}
