// Lesions image viewer: a chest X-ray, or a CT series in three planes (axial, coronal,
// sagittal), with window/level, zoom, pan, slice scrolling and the AI overlays (the X-ray's
// heatmap and boxes, the CT's nodule markers). It needs only the canvas 2D API: no WebGL,
// no libraries, no build step. The server has already decoded, de-identified and resampled
// the DICOMs and sends plain pixels, with overlays in the models' own coordinates, so a
// DICOM toolkit such as Cornerstone3D or dwv would add weight without adding anything we use.
//
// This module wires the others: state.js (what is shown), geometry.js (where it lies),
// input.js (mouse, touch, keys), painting.js (the canvases), layout.js (the elements and
// controls), loading.js (the pixels) and config.js (words and window presets, from the page).
//
// mount(element) reads element.dataset:
//   kind: "xray" | "ct"
//   xray: imageUrl (8-bit greyscale PNG/JPEG), heatmapUrl (RGBA PNG, optional),
//         boxes (JSON [{x0, y0, x1, y1, label, score}] in image pixels, optional)
//   ct:   volumeUrl (int16 little-endian HU, C order), shape [slices, rows, columns],
//         spacing [mm per slice, row, column], markers (JSON [{z, y, x, label}] voxels,
//         optional), mark ("true": the "Mark nodule" tool, which dispatches "viewer:mark")
// Mounting the same element again returns the same viewer. Every [data-viewer] element is
// mounted once the document is parsed (when a module runs); window.LesionsViewer.mount is
// the page's handle on a viewer (static/js/nodules.js).
import { presets, text } from "./config.js";
import { bindInput } from "./input.js";
import { buildLayout } from "./layout.js";
import { loadImages, overlayList, ViewerError } from "./loading.js";
import { Painter } from "./painting.js";
import { ViewerState } from "./state.js";

function create(element) {
  const data = element.dataset;
  const kind = data.kind === "ct" ? "ct" : "xray";
  const state = new ViewerState({
    kind,
    presets: presets(kind),
    boxes: overlayList(data.boxes, ["x0", "y0", "x1", "y1"]),
    markers: overlayList(data.markers, ["z", "y", "x"]),
  });
  const layout = buildLayout(element, state, { canMark: kind === "ct" && data.mark === "true" });
  let resolveReady, rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {}); // a failure is shown in the viewer; callers may still await it

  const painter = new Painter(state, layout.viewports, () => {
    if (data.ready !== "true") {
      data.ready = "true";
      resolveReady();
    }
  });
  state.onChange(() => {
    layout.sync();
    painter.requestDraw();
  });
  const observer = new ResizeObserver(() => painter.requestDraw());
  for (const viewport of layout.viewports) {
    bindInput(state, viewport, element);
    observer.observe(viewport.stage);
  }
  layout.sync();

  loadImages(kind, data, () => layout.notice(text("overlayFailed"))).then(({ volume, heatImage }) => {
    layout.loaded();
    state.loaded(volume, heatImage);
  }, (error) => {
    if (!(error instanceof ViewerError)) console.error(error);
    layout.fail(error instanceof ViewerError ? error.message : text("loadFailed"));
    rejectReady(error);
  });

  return Object.freeze({
    element,
    ready,
    state: () => state.snapshot(),
    addMarker: (marker) => state.addMarker(marker),
  });
}

const mounted = new WeakMap();

export function mount(element) {
  if (!mounted.has(element)) mounted.set(element, create(element));
  return mounted.get(element);
}

window.LesionsViewer = { mount };
document.querySelectorAll("[data-viewer]").forEach(mount);
