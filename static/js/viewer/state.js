// What the viewer shows: the loaded images, window and level, the tool, the overlays, and
// for each plane its slice, zoom and pan. Every change goes through a method here, which
// tells the listeners (the controls and the painter) to catch up.
import { clamp, planeKeys, planeOf, zoomedAbout } from "./geometry.js";

const ZOOM_LIMITS = [0.25, 20];

export class ViewerState {
  constructor({ kind, presets, boxes, markers }) {
    this.kind = kind; // "ct" or "xray"
    this.presets = presets;
    this.volume = null; // {values, shape, spacing, offset, lutSize}: see loading.js
    this.heatImage = null; // X-ray: the AI's RGBA heatmap, stretched over the image
    this.boxes = boxes; // X-ray: [{x0, y0, x1, y1, label, score}] in image pixels
    this.markers = markers; // CT: [{z, y, x, label}] voxels
    this.pendingMark = null; // CT: the mark tool's last click, until the page confirms it
    this.window = presets[0].width;
    this.level = presets[0].level;
    this.tool = "pan";
    this.overlays = true;
    this.views = planeKeys(kind).map((key) => ({
      key, plane: planeOf(key), slice: 0, count: 1, zoom: 1, panX: 0, panY: 0,
    }));
    this.active = this.views[0]; // the one snapshot().zoom reports: the last one used
    this.listeners = [];
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  changed() {
    this.listeners.forEach((listener) => listener());
  }

  // The plane last used: nothing to redraw.
  activate(view) {
    this.active = view;
  }

  loaded(volume, heatImage) {
    this.volume = volume;
    this.heatImage = heatImage;
    for (const view of this.views) {
      view.count = volume.shape[view.plane.axis];
      view.slice = Math.floor(view.count / 2);
    }
    this.changed();
  }

  setTool(tool) {
    this.tool = tool;
    this.changed();
  }

  setWindow(width, level) {
    this.window = Math.max(1, Math.round(width));
    this.level = Math.round(level);
    this.changed();
  }

  setOverlays(on) {
    this.overlays = on;
    this.changed();
  }

  setSlice(view, slice) {
    if (!this.volume) return;
    view.slice = clamp(Math.round(slice), 0, view.count - 1);
    this.changed();
  }

  // The crosshair: the other planes move to `voxel` (the crosshair lines move even where no
  // slice changes).
  crossAt(view, voxel) {
    for (const other of this.views) {
      if (other !== view) other.slice = clamp(voxel[other.plane.axis], 0, other.count - 1);
    }
    this.changed();
  }

  pan(view, dx, dy) {
    view.panX += dx;
    view.panY += dy;
    this.changed();
  }

  // Zoom by `factor`, keeping the image point under `point` (CSS pixels of a canvas of
  // `size`) where it is.
  zoomAt(view, point, size, factor) {
    if (!this.volume) return;
    const zoom = clamp(view.zoom * factor, ZOOM_LIMITS[0], ZOOM_LIMITS[1]);
    Object.assign(view, zoomedAbout(this.volume, view, size, point, zoom));
    this.active = view;
    this.changed();
  }

  resetView() {
    this.views.forEach((view) => Object.assign(view, { zoom: 1, panX: 0, panY: 0 }));
    this.changed();
  }

  proposeMark(mark) {
    this.pendingMark = mark;
    this.changed();
  }

  addMarker({ z, y, x, label = "" }) {
    this.markers.push({ z, y, x, label });
    this.pendingMark = null;
    this.changed();
  }

  snapshot() {
    const slices = { axial: null, coronal: null, sagittal: null };
    if (this.volume && this.kind === "ct") this.views.forEach((view) => { slices[view.key] = view.slice; });
    const { window, level, tool, overlays } = this;
    return { window, level, zoom: this.active.zoom, slices, overlays, tool };
  }
}
