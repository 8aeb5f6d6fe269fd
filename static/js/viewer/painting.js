// Drawing the state on the canvases, once per animation frame: each plane's slice goes
// through the window/level look-up table into an offscreen canvas at its native size, then
// onto its canvas through the plane's transform, with the heatmap, boxes, markers and
// crosshair over it.
import { cssSize, planeSize, transform } from "./geometry.js";

const MARKER_NEAR_SLICES = 3; // a marker shows on planes this many slices away, fainter
const COLOURS = { box: "#ffd23f", marker: "#3fd8ff", mark: "#7cfc5a", crosshair: "rgba(90, 200, 255, 0.7)" };

export class Painter {
  // `viewports`: [{view, canvas}]; `drawn` is called after every frame.
  constructor(state, viewports, drawn) {
    this.state = state;
    this.viewports = viewports;
    this.drawn = drawn;
    this.frame = 0;
    this.lut = null;
    this.lutWindow = null; // the [window, level] the table was built for
    this.slices = new Map(); // viewport -> {image, pixels, slice}: the windowed slice drawn
  }

  requestDraw() {
    if (this.state.volume && !this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    const rewindowed = this.updateLut();
    for (const viewport of this.viewports) {
      const slice = this.windowedSlice(viewport, rewindowed);
      paint(this.state, viewport, slice.image);
    }
    this.drawn();
  }

  // Grey level for every storable value, at index value + offset (int16 values are
  // signed); true when the window changed since the last frame.
  updateLut() {
    const { volume, window, level } = this.state;
    if (this.lutWindow && this.lutWindow[0] === window && this.lutWindow[1] === level) return false;
    const { offset, lutSize } = volume;
    this.lut = this.lut || new Uint8ClampedArray(lutSize);
    const lower = level - window / 2;
    for (let i = 0; i < lutSize; i++) {
      this.lut[i] = ((i - offset - lower) / window) * 255;
    }
    this.lutWindow = [window, level];
    return true;
  }

  windowedSlice(viewport, rewindowed) {
    const { view } = viewport;
    let slice = this.slices.get(viewport);
    if (!slice) {
      const [width, height] = planeSize(this.state.volume, view.plane);
      slice = { image: Object.assign(document.createElement("canvas"), { width, height }),
        pixels: new ImageData(width, height), slice: null };
      this.slices.set(viewport, slice);
    }
    if (rewindowed || slice.slice !== view.slice) {
      renderSlice(this.state.volume, this.lut, view, slice);
      slice.slice = view.slice;
    }
    return slice;
  }
}

// The windowed slice, at native resolution, into the offscreen canvas.
function renderSlice(volume, lut, view, { image, pixels }) {
  const { values, shape, offset } = volume;
  const strides = [shape[1] * shape[2], shape[2], 1];
  const { axis, u, v } = view.plane;
  const [width, height] = planeSize(volume, view.plane);
  const out = pixels.data;
  for (let row = 0, o = 0; row < height; row++) {
    let i = view.slice * strides[axis] + row * strides[v];
    for (let column = 0; column < width; column++, i += strides[u], o += 4) {
      out[o] = out[o + 1] = out[o + 2] = lut[values[i] + offset];
      out[o + 3] = 255;
    }
  }
  image.getContext("2d").putImageData(pixels, 0, 0);
}

function paint(state, { view, canvas }, image) {
  const ratio = window.devicePixelRatio || 1;
  const ctx = canvas.getContext("2d");
  const size = cssSize(canvas);
  const backingWidth = Math.round(size.width * ratio);
  const backingHeight = Math.round(size.height * ratio);
  if (canvas.width !== backingWidth || canvas.height !== backingHeight) {
    Object.assign(canvas, { width: backingWidth, height: backingHeight });
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const m = transform(state.volume, view, size);
  const [width, height] = planeSize(state.volume, view.plane);
  ctx.setTransform(ratio * m.sx, 0, 0, ratio * m.sy, ratio * m.ox, ratio * m.oy);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(image, 0, 0);
  if (state.overlays && state.heatImage) ctx.drawImage(state.heatImage, 0, 0, width, height);
  // Lines and text in CSS pixels, placed through the same transform (m), so they keep
  // their thickness at any zoom.
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  if (state.tool === "crosshair") paintCrosshair(ctx, state, view, m, width, height);
  ctx.lineWidth = 2;
  if (state.overlays) {
    if (state.kind === "xray") state.boxes.forEach((box) => paintBox(ctx, m, box));
    state.markers.forEach((marker) => paintMarker(ctx, view, m, marker, COLOURS.marker));
  }
  if (state.pendingMark) paintMarker(ctx, view, m, state.pendingMark, COLOURS.mark);
}

// Where the other planes cut this one.
function paintCrosshair(ctx, state, view, m, width, height) {
  const sliceAlong = (axis) => state.views.find((other) => other.plane.axis === axis).slice + 0.5;
  const x = m.ox + sliceAlong(view.plane.u) * m.sx;
  const y = m.oy + sliceAlong(view.plane.v) * m.sy;
  ctx.strokeStyle = COLOURS.crosshair;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x, m.oy);
  ctx.lineTo(x, m.oy + height * m.sy);
  ctx.moveTo(m.ox, y);
  ctx.lineTo(m.ox + width * m.sx, y);
  ctx.stroke();
}

function paintBox(ctx, m, box) {
  const x = m.ox + Math.min(box.x0, box.x1) * m.sx;
  const y = m.oy + Math.min(box.y0, box.y1) * m.sy;
  ctx.strokeStyle = COLOURS.box;
  ctx.strokeRect(x, y, Math.abs(box.x1 - box.x0) * m.sx, Math.abs(box.y1 - box.y0) * m.sy);
  const score = Number.isFinite(box.score) ? " " + box.score.toFixed(2) : "";
  drawLabel(ctx, (box.label || "") + score, x + 2, Math.max(14, y - 4), COLOURS.box);
}

// A circle on the marker's own slice, fainter within a few slices of it.
function paintMarker(ctx, view, m, marker, colour) {
  const voxel = [marker.z, marker.y, marker.x];
  const distance = Math.abs(voxel[view.plane.axis] - view.slice);
  if (distance > MARKER_NEAR_SLICES) return;
  const x = m.ox + (voxel[view.plane.u] + 0.5) * m.sx;
  const y = m.oy + (voxel[view.plane.v] + 0.5) * m.sy;
  ctx.globalAlpha = distance === 0 ? 1 : 0.55;
  ctx.strokeStyle = colour;
  ctx.beginPath();
  ctx.arc(x, y, 10, 0, 2 * Math.PI);
  ctx.stroke();
  if (marker.label) drawLabel(ctx, marker.label, x + 13, y - 8, colour);
  ctx.globalAlpha = 1;
}

function drawLabel(ctx, label, x, y, colour) {
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.fillStyle = "rgba(0, 0, 0, 0.65)";
  ctx.fillRect(x - 2, y - 13, ctx.measureText(label).width + 4, 16);
  ctx.fillStyle = colour;
  ctx.fillText(label, x, y);
}
