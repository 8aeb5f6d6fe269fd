// Lesions image viewer: a chest X-ray, or a CT series in three planes (axial, coronal,
// sagittal), with window/level, zoom, pan, slice scrolling and the AI overlays (heatmaps,
// boxes, nodule markers). It needs only the canvas 2D API: no WebGL, no libraries, no
// build step. The server has already decoded, de-identified and resampled the DICOMs and
// sends plain pixels, with overlays in the models' own coordinates, so a DICOM toolkit such
// as Cornerstone3D or dwv would add weight without adding anything we use.
// Every [data-viewer] element is mounted on DOMContentLoaded; the data attributes it reads
// are listed above mount(), at the end.
(function () {
  "use strict";

  // Every visible string, in English. A page translates them by defining
  // window.LESIONS_VIEWER_STRINGS = {"English text": "translation", ...} before this script.
  const TEXT = {
    loading: "Loading image…",
    loadFailed: "The image could not be loaded.",
    loadFailedHttp: "The image could not be loaded (HTTP {status})",
    sizeMismatch: "The image data does not match its size ({got} bytes instead of {expected}).",
    badDescription: "The image description is invalid.",
    overlayFailed: "The AI overlay could not be loaded; the image is shown without it.",
    xray: "X-ray", axial: "Axial", coronal: "Coronal", sagittal: "Sagittal",
    planeImage: "{plane} image", slice: "{plane} slice", newMark: "New mark",
    toolbar: "Viewer tools", pan: "Pan", window: "Window", crosshair: "Crosshair", mark: "Mark nodule",
    lung: "Lung", mediastinum: "Mediastinum", bone: "Bone", reset: "Full range",
    widthShort: "W", levelShort: "L", width: "Window width", level: "Window level",
    zoomIn: "Zoom in", zoomOut: "Zoom out", resetView: "Reset view", overlays: "AI overlays",
  };

  function t(text, values) {
    const translated = (window.LESIONS_VIEWER_STRINGS || {})[text] || text;
    return translated.replace(/\{(\w+)\}/g, (match, name) =>
      values && name in values ? String(values[name]) : match);
  }

  const PRESETS = {
    ct: [
      { name: TEXT.lung, width: 1500, level: -600 },
      { name: TEXT.mediastinum, width: 350, level: 50 },
      { name: TEXT.bone, width: 2000, level: 500 },
    ],
    xray: [{ name: TEXT.reset, width: 256, level: 128 }],
  };

  // Volume axes are 0 = slices (z), 1 = rows (y), 2 = columns (x). Each plane cuts across
  // `axis`; its image runs along `u` to the right and along `v` downwards.
  const PLANES = {
    axial: { axis: 0, u: 2, v: 1, name: TEXT.axial },
    coronal: { axis: 1, u: 2, v: 0, name: TEXT.coronal },
    sagittal: { axis: 2, u: 1, v: 0, name: TEXT.sagittal },
  };

  const MARKER_NEAR_SLICES = 3; // a marker shows on planes this many slices away, fainter
  const WHEEL_PIXELS_PER_SLICE = 100; // one mouse-wheel notch; trackpad deltas add up
  const ZOOM_STEP = 1.25;
  const ZOOM_LIMITS = [0.25, 20];
  const COLOURS = { box: "#ffd23f", marker: "#3fd8ff", mark: "#7cfc5a", crosshair: "rgba(90, 200, 255, 0.7)" };

  // An error whose message is meant for the person looking at the viewer.
  class ViewerError extends Error {}

  // ---- Loading -------------------------------------------------------------------------

  async function fetchBytes(url) {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin" });
    } catch (networkError) {
      throw new ViewerError(t(TEXT.loadFailed));
    }
    if (!response.ok) throw new ViewerError(t(TEXT.loadFailedHttp, { status: response.status }));
    return response.arrayBuffer();
  }

  function parseJson(text, fallback) {
    if (text === undefined || text === "") return fallback;
    try {
      return JSON.parse(text);
    } catch (syntaxError) {
      throw new ViewerError(t(TEXT.badDescription));
    }
  }

  function triple(text, name, fallback) {
    const value = parseJson(text, fallback);
    const valid = Array.isArray(value) && value.length === 3 &&
      value.every((n) => Number.isFinite(n) && n > 0 && (name !== "shape" || Number.isInteger(n)));
    if (!valid) throw new ViewerError(t(TEXT.badDescription));
    return value;
  }

  // Overlays are optional: a malformed list is left out rather than hiding the image.
  function overlayList(text, keys) {
    let list;
    try {
      list = parseJson(text, []);
    } catch (error) {
      console.warn("viewer: ignoring a malformed overlay list", text);
      return [];
    }
    return Array.isArray(list) ? list.filter((item) => keys.every((key) => Number.isFinite(item[key]))) : [];
  }

  function checkSize(buffer, shape, bytesPerValue) {
    const expected = shape[0] * shape[1] * shape[2] * bytesPerValue;
    if (buffer.byteLength !== expected) {
      throw new ViewerError(t(TEXT.sizeMismatch, { got: buffer.byteLength, expected }));
    }
  }

  function int16LittleEndian(buffer) {
    const platformIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if (platformIsLittleEndian) return new Int16Array(buffer);
    const view = new DataView(buffer);
    return Int16Array.from({ length: buffer.byteLength / 2 }, (_, i) => view.getInt16(i * 2, true));
  }

  // `values` are read through a look-up table indexed by value + offset (see updateLut).
  async function loadCtVolume(data) {
    const shape = triple(data.shape, "shape");
    const spacing = triple(data.spacing, "spacing", [1, 1, 1]);
    const buffer = await fetchBytes(data.volumeUrl);
    checkSize(buffer, shape, 2);
    return { values: int16LittleEndian(buffer), shape, spacing, offset: 32768, lutSize: 65536 };
  }

  async function loadBitmap(url, options) {
    const buffer = await fetchBytes(url);
    try {
      return await createImageBitmap(new Blob([buffer]), options);
    } catch (decodeError) {
      throw new ViewerError(t(TEXT.loadFailed));
    }
  }

  async function loadXrayVolume(data) {
    const bitmap = await loadBitmap(data.imageUrl, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    const canvas = el("canvas", { width: bitmap.width, height: bitmap.height });
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const grey = new Uint8Array(bitmap.width * bitmap.height);
    for (let i = 0; i < grey.length; i++) {
      grey[i] = rgba[i * 4]; // a greyscale image decodes to R = G = B
    }
    return { values: grey, shape: [1, bitmap.height, bitmap.width], spacing: [1, 1, 1], offset: 0, lutSize: 256 };
  }

  async function loadHeatVolume(data) {
    const shape = triple(data.heatmapShape, "shape");
    const buffer = await fetchBytes(data.heatmapVolumeUrl);
    checkSize(buffer, shape, 1);
    return { values: new Uint8Array(buffer), shape };
  }

  // ---- DOM helpers ---------------------------------------------------------------------

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

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function drawLabel(ctx, text, x, y, colour) {
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.fillStyle = "rgba(0, 0, 0, 0.65)";
    ctx.fillRect(x - 2, y - 13, ctx.measureText(text).width + 4, 16);
    ctx.fillStyle = colour;
    ctx.fillText(text, x, y);
  }

  // ---- The viewer ----------------------------------------------------------------------

  class Viewer {
    constructor(element) {
      const data = element.dataset;
      this.element = element;
      this.kind = data.kind === "ct" ? "ct" : "xray";
      this.volume = null; // {values, shape, spacing, offset, lutSize}
      this.heatVolume = null; // CT: uint8 volume sampled by normalised position
      this.heatImage = null; // X-ray: RGBA bitmap stretched over the image
      this.boxes = overlayList(data.boxes, ["x0", "y0", "x1", "y1"]);
      this.markers = overlayList(data.markers, ["z", "y", "x"]);
      this.pendingMark = null;
      this.window = PRESETS[this.kind][0].width;
      this.level = PRESETS[this.kind][0].level;
      this.lut = null;
      this.tool = "pan";
      this.overlays = true;
      this.frame = 0;
      this.ready = new Promise((resolve, reject) => {
        this.resolveReady = resolve;
        this.rejectReady = reject;
      });
      this.ready.catch(() => {}); // a failure is shown in the viewer; callers may still await it
      this.build(data.mark === "true" && this.kind === "ct");
      this.load();
    }

    build(canMark) {
      this.status = el("p", { className: "viewer-status", role: "status", textContent: t(TEXT.loading) });
      this.toolbar = this.buildToolbar(canMark);
      this.grid = el("div", { className: "viewer-grid viewer-grid-" + this.kind });
      const planes = this.kind === "ct" ? ["axial", "coronal", "sagittal"] : ["xray"];
      this.viewports = planes.map((key) => this.buildViewport(key));
      this.active = this.viewports[0]; // the one state().zoom reports: the last one used
      this.element.classList.add("viewer");
      this.element.replaceChildren(this.toolbar, this.status, this.grid);
      const observer = new ResizeObserver(() => this.requestDraw());
      this.viewports.forEach((vp) => observer.observe(vp.stage));
      this.setTool(this.tool);
      this.syncInputs();
    }

    buildToolbar(canMark) {
      const tools = [["pan", TEXT.pan], ["window", TEXT.window]];
      if (this.kind === "ct") tools.push(["crosshair", TEXT.crosshair]);
      if (canMark) tools.push(["mark", TEXT.mark]);
      this.toolButtons = tools.map(([tool, label]) =>
        button(t(label), () => this.setTool(tool), { "data-tool": tool }));
      const presets = PRESETS[this.kind].map((preset) =>
        button(t(preset.name), () => this.setWindow(preset.width, preset.level)));

      const number = (label) => el("input", { type: "number", step: 1, "aria-label": t(label) });
      this.widthInput = number(TEXT.width);
      this.levelInput = number(TEXT.level);
      const onInput = () => {
        const [width, level] = [this.widthInput.value, this.levelInput.value];
        if (width !== "" && level !== "" && Number.isFinite(+width) && Number.isFinite(+level)) {
          this.setWindow(+width, +level);
        }
      };
      const field = (short, input) => {
        input.addEventListener("input", onInput);
        input.addEventListener("change", () => this.syncInputs(true));
        const shortLabel = el("span", { "aria-hidden": "true", textContent: t(short) });
        return el("label", { className: "viewer-field" }, shortLabel, input);
      };

      const centre = (vp) => ({ x: vp.canvas.clientWidth / 2, y: vp.canvas.clientHeight / 2 });
      const zoomAll = (factor) => this.viewports.forEach((vp) => this.zoomAt(vp, centre(vp), factor));
      const checkbox = el("input", { type: "checkbox", checked: true });
      checkbox.addEventListener("change", () => {
        this.overlays = checkbox.checked;
        this.requestDraw();
      });
      const group = (...nodes) => el("div", { className: "viewer-group" }, ...nodes);
      return el("div", { className: "viewer-toolbar", role: "toolbar", "aria-label": t(TEXT.toolbar) },
        group(...this.toolButtons),
        group(...presets),
        group(field(TEXT.widthShort, this.widthInput), field(TEXT.levelShort, this.levelInput)),
        group(button("−", () => zoomAll(1 / ZOOM_STEP), { "aria-label": t(TEXT.zoomOut) }),
          button("+", () => zoomAll(ZOOM_STEP), { "aria-label": t(TEXT.zoomIn) }),
          button(t(TEXT.resetView), () => this.resetView())),
        group(el("label", { className: "viewer-check" }, checkbox, " " + t(TEXT.overlays))));
    }

    buildViewport(key) {
      const plane = PLANES[key] || PLANES.axial; // an X-ray is a volume of one axial slice
      const name = this.kind === "ct" ? t(plane.name) : t(TEXT.xray);
      const canvas = el("canvas", { tabIndex: 0, "data-plane": key,
        "aria-label": t(TEXT.planeImage, { plane: name }) });
      const vp = {
        key, plane, canvas, ctx: canvas.getContext("2d"),
        stage: el("div", { className: "viewer-stage" }, canvas),
        counter: el("span", { className: "viewer-counter" }),
        slider: null,
        image: el("canvas"), pixels: null, heat: null, // offscreen, at the plane's native size
        slice: 0, count: 1, stale: true, zoom: 1, panX: 0, panY: 0, wheel: 0,
      };
      const caption = el("figcaption", { className: "viewer-caption" },
        el("span", { className: "viewer-plane", textContent: name }), vp.counter);
      const figure = el("figure", { className: "viewer-viewport" }, caption, vp.stage);
      if (this.kind === "ct") {
        vp.slider = el("input", { type: "range", min: 1, className: "viewer-slider",
          "aria-label": t(TEXT.slice, { plane: name }) });
        vp.slider.addEventListener("input", () => this.setSlice(vp, vp.slider.value - 1));
        figure.append(vp.slider);
      }
      this.grid.append(figure);
      this.bindPointer(vp);
      this.bindWheelAndKeys(vp);
      return vp;
    }

    async load() {
      const data = this.element.dataset;
      const optional = (promise) => promise.catch((error) => {
        console.warn("viewer: overlay not loaded", error);
        this.status.textContent = t(TEXT.overlayFailed);
        return null;
      });
      try {
        if (this.kind === "ct") {
          [this.volume, this.heatVolume] = await Promise.all([
            loadCtVolume(data), data.heatmapVolumeUrl ? optional(loadHeatVolume(data)) : null]);
        } else {
          [this.volume, this.heatImage] = await Promise.all([
            loadXrayVolume(data), data.heatmapUrl ? optional(loadBitmap(data.heatmapUrl)) : null]);
        }
      } catch (error) {
        this.fail(error);
        return;
      }
      this.status.hidden = this.status.textContent === t(TEXT.loading);
      for (const vp of this.viewports) {
        const [width, height] = this.planeSize(vp);
        Object.assign(vp.image, { width, height });
        vp.pixels = new ImageData(width, height);
        vp.heat = this.heatVolume ? el("canvas", { width, height }) : null;
        vp.count = this.volume.shape[vp.plane.axis];
        vp.slice = Math.floor(vp.count / 2);
        this.showSlice(vp);
      }
      this.updateLut();
      this.requestDraw();
    }

    fail(error) {
      if (!(error instanceof ViewerError)) console.error(error);
      this.status.textContent = error instanceof ViewerError ? error.message : t(TEXT.loadFailed);
      this.status.setAttribute("role", "alert");
      this.status.classList.add("viewer-error");
      this.status.hidden = false;
      this.toolbar.hidden = true;
      this.grid.hidden = true;
      this.element.dataset.ready = "error";
      this.rejectReady(error);
    }

    // ---- State changes -----------------------------------------------------------------

    setTool(tool) {
      this.tool = tool;
      this.element.dataset.tool = tool; // for the cursor
      this.toolButtons.forEach((node) => node.setAttribute("aria-pressed", String(node.dataset.tool === tool)));
    }

    setWindow(width, level) {
      this.window = Math.max(1, Math.round(width));
      this.level = Math.round(level);
      this.syncInputs();
      if (this.volume) {
        this.updateLut();
        this.viewports.forEach((vp) => { vp.stale = true; });
        this.requestDraw();
      }
    }

    // The field being typed in is left alone until it is left (`all`).
    syncInputs(all = false) {
      for (const [input, value] of [[this.widthInput, this.window], [this.levelInput, this.level]]) {
        if (all || document.activeElement !== input) input.value = String(value);
      }
    }

    setSlice(vp, slice) {
      if (!this.volume) return;
      const clamped = clamp(Math.round(slice), 0, vp.count - 1);
      if (clamped !== vp.slice) {
        vp.slice = clamped;
        vp.stale = true;
        this.requestDraw();
      }
      this.showSlice(vp);
    }

    showSlice(vp) {
      if (!vp.slider) return;
      vp.slider.max = String(vp.count);
      vp.slider.value = String(vp.slice + 1);
      vp.counter.textContent = `${vp.slice + 1} / ${vp.count}`;
    }

    // Zoom by `factor`, keeping the image point under `point` (CSS pixels) where it is.
    zoomAt(vp, point, factor) {
      if (!this.volume) return;
      const before = this.transform(vp);
      const imageX = (point.x - before.ox) / before.sx;
      const imageY = (point.y - before.oy) / before.sy;
      vp.zoom = clamp(vp.zoom * factor, ZOOM_LIMITS[0], ZOOM_LIMITS[1]);
      const after = this.transform(vp);
      vp.panX += point.x - (after.ox + imageX * after.sx);
      vp.panY += point.y - (after.oy + imageY * after.sy);
      this.active = vp;
      this.requestDraw();
    }

    resetView() {
      this.viewports.forEach((vp) => Object.assign(vp, { zoom: 1, panX: 0, panY: 0 }));
      this.requestDraw();
    }

    addMarker({ z, y, x, label = "" }) {
      this.markers.push({ z, y, x, label });
      this.pendingMark = null;
      this.requestDraw();
    }

    snapshot() {
      const slices = { axial: null, coronal: null, sagittal: null };
      if (this.volume && this.kind === "ct") this.viewports.forEach((vp) => { slices[vp.key] = vp.slice; });
      const { window, level, tool, overlays } = this;
      return { window, level, zoom: this.active.zoom, slices, overlays, tool };
    }

    // ---- Geometry ----------------------------------------------------------------------

    planeSize(vp) {
      return [this.volume.shape[vp.plane.u], this.volume.shape[vp.plane.v]];
    }

    // CSS pixels per image pixel across (sx) and down (sy), and where the image's top-left
    // corner lies (ox, oy). Pixels are scaled by their size in mm: anatomical proportion.
    transform(vp) {
      const [width, height] = this.planeSize(vp);
      const mmAcross = this.volume.spacing[vp.plane.u];
      const mmDown = this.volume.spacing[vp.plane.v];
      const { clientWidth, clientHeight } = vp.canvas;
      const fit = Math.min(clientWidth / (width * mmAcross), clientHeight / (height * mmDown));
      const sx = fit * vp.zoom * mmAcross;
      const sy = fit * vp.zoom * mmDown;
      return { sx, sy, ox: (clientWidth - width * sx) / 2 + vp.panX, oy: (clientHeight - height * sy) / 2 + vp.panY };
    }

    // The [z, y, x] voxel under a point of the canvas, or null outside the image.
    voxelAt(vp, point) {
      const m = this.transform(vp);
      const [width, height] = this.planeSize(vp);
      const across = Math.floor((point.x - m.ox) / m.sx);
      const down = Math.floor((point.y - m.oy) / m.sy);
      if (!(across >= 0 && across < width && down >= 0 && down < height)) return null;
      const voxel = [0, 0, 0];
      voxel[vp.plane.axis] = vp.slice;
      voxel[vp.plane.u] = across;
      voxel[vp.plane.v] = down;
      return voxel;
    }

    // ---- Input -------------------------------------------------------------------------

    // Left button or one finger: the current tool; middle button: pan; right button:
    // window/level; two fingers: pinch zoom and pan.
    bindPointer(vp) {
      const canvas = vp.canvas;
      const pointers = new Map();
      let drag = null;
      const local = (event) => {
        const rect = canvas.getBoundingClientRect();
        return { x: event.clientX - rect.left, y: event.clientY - rect.top };
      };
      const pinch = () => {
        const [a, b] = [...pointers.values()];
        return { mode: "pinch", distance: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      };
      canvas.addEventListener("contextmenu", (event) => event.preventDefault());
      canvas.addEventListener("pointerdown", (event) => {
        if (!this.volume) return;
        event.preventDefault();
        canvas.focus({ preventScroll: true });
        canvas.setPointerCapture(event.pointerId);
        this.active = vp;
        const point = local(event);
        pointers.set(event.pointerId, point);
        if (pointers.size === 2) {
          drag = pinch();
          return;
        }
        const mode = { 1: "pan", 2: "window" }[event.button] || this.tool;
        drag = { mode, ...point };
        if (mode === "crosshair" || mode === "mark") this.pick(vp, mode, point);
      });
      canvas.addEventListener("pointermove", (event) => {
        if (!drag || !pointers.has(event.pointerId)) return;
        const point = local(event);
        pointers.set(event.pointerId, point);
        if (drag.mode === "pinch") {
          if (pointers.size !== 2) return;
          const now = pinch();
          vp.panX += now.x - drag.x;
          vp.panY += now.y - drag.y;
          this.zoomAt(vp, now, now.distance / (drag.distance || 1));
          drag = now;
          return;
        }
        const dx = point.x - drag.x;
        const dy = point.y - drag.y;
        Object.assign(drag, point);
        if (drag.mode === "pan") {
          vp.panX += dx;
          vp.panY += dy;
          this.requestDraw();
        } else if (drag.mode === "window") {
          const gain = this.kind === "ct" ? 4 : 1; // values per CSS pixel: HU or grey levels
          this.setWindow(this.window + dx * gain, this.level + dy * gain);
        } else if (drag.mode === "crosshair") {
          this.pick(vp, "crosshair", point);
        }
      });
      const release = (event) => {
        pointers.delete(event.pointerId);
        drag = null; // lifting one finger of a pinch must not turn into a jump
      };
      canvas.addEventListener("pointerup", release);
      canvas.addEventListener("pointercancel", release);
    }

    // The wheel scrolls CT slices (zooms with ctrl, and always on an X-ray); up and down
    // arrows step slices on a focused plane.
    bindWheelAndKeys(vp) {
      vp.canvas.addEventListener("wheel", (event) => {
        if (!this.volume) return;
        event.preventDefault();
        this.active = vp;
        const delta = event.deltaY * [1, 33, 400][event.deltaMode]; // pixels, lines, pages
        if (event.ctrlKey || this.kind === "xray") {
          const rect = vp.canvas.getBoundingClientRect();
          this.zoomAt(vp, { x: event.clientX - rect.left, y: event.clientY - rect.top }, Math.exp(-delta * 0.002));
          return;
        }
        vp.wheel += delta;
        let steps = Math.trunc(vp.wheel / WHEEL_PIXELS_PER_SLICE);
        if (steps === 0 && Math.abs(delta) >= WHEEL_PIXELS_PER_SLICE / 2) {
          steps = Math.sign(delta); // a mouse whose notch is under 100 pixels
        }
        if (steps !== 0) {
          vp.wheel = 0;
          this.setSlice(vp, vp.slice + steps);
        }
      }, { passive: false });
      vp.canvas.addEventListener("keydown", (event) => {
        const step = { ArrowUp: 1, ArrowDown: -1 }[event.key];
        if (!step || this.kind !== "ct") return;
        event.preventDefault();
        this.active = vp;
        this.setSlice(vp, vp.slice + step);
      });
    }

    // A click with the crosshair moves the other planes there; with the mark tool it
    // proposes a nodule at that voxel.
    pick(vp, mode, point) {
      const voxel = this.voxelAt(vp, point);
      if (!voxel) return;
      if (mode === "crosshair") {
        this.viewports.filter((other) => other !== vp)
          .forEach((other) => this.setSlice(other, voxel[other.plane.axis]));
        this.requestDraw(); // the crosshair lines move even where no slice changes
        return;
      }
      const [z, y, x] = voxel;
      this.pendingMark = { z, y, x, label: t(TEXT.newMark) };
      this.requestDraw();
      this.element.dispatchEvent(new CustomEvent("viewer:mark", { bubbles: true, detail: { z, y, x } }));
    }

    // ---- Rendering ---------------------------------------------------------------------

    // Grey level for every storable value, at index value + offset (int16 values are signed).
    updateLut() {
      const { offset, lutSize } = this.volume;
      this.lut = this.lut || new Uint8ClampedArray(lutSize);
      const lower = this.level - this.window / 2;
      for (let i = 0; i < lutSize; i++) {
        this.lut[i] = ((i - offset - lower) / this.window) * 255;
      }
    }

    requestDraw() {
      if (this.volume && !this.frame) this.frame = requestAnimationFrame(() => this.draw());
    }

    draw() {
      this.frame = 0;
      for (const vp of this.viewports) {
        if (vp.stale) {
          this.renderSlice(vp);
          vp.stale = false;
        }
        this.paint(vp);
      }
      if (this.element.dataset.ready !== "true") {
        this.element.dataset.ready = "true";
        this.resolveReady();
      }
    }

    // The windowed slice, at native resolution, into the viewport's offscreen canvas.
    renderSlice(vp) {
      const { values, shape, offset } = this.volume;
      const strides = [shape[1] * shape[2], shape[2], 1];
      const { axis, u, v } = vp.plane;
      const [width, height] = this.planeSize(vp);
      const out = vp.pixels.data;
      for (let row = 0, o = 0; row < height; row++) {
        let i = vp.slice * strides[axis] + row * strides[v];
        for (let column = 0; column < width; column++, i += strides[u], o += 4) {
          out[o] = out[o + 1] = out[o + 2] = this.lut[values[i] + offset];
          out[o + 3] = 255;
        }
      }
      vp.image.getContext("2d").putImageData(vp.pixels, 0, 0);
      if (vp.heat) this.renderHeat(vp, width, height);
    }

    // The heatmap volume has its own size: each pixel samples it at the same relative
    // position. Red for low values through to yellow for high ones, more opaque as it rises.
    renderHeat(vp, width, height) {
      const heat = this.heatVolume;
      const strides = [heat.shape[1] * heat.shape[2], heat.shape[2], 1];
      const offsetAlong = (axis, index) => strides[axis] *
        Math.min(heat.shape[axis] - 1, Math.floor(((index + 0.5) * heat.shape[axis]) / this.volume.shape[axis]));
      const { axis, u, v } = vp.plane;
      const pixels = new ImageData(width, height);
      const out = pixels.data;
      for (let row = 0, o = 0; row < height; row++) {
        const rowStart = offsetAlong(axis, vp.slice) + offsetAlong(v, row);
        for (let column = 0; column < width; column++, o += 4) {
          const value = heat.values[rowStart + offsetAlong(u, column)];
          out[o] = 255;
          out[o + 1] = value;
          out[o + 3] = value * 0.6;
        }
      }
      vp.heat.getContext("2d").putImageData(pixels, 0, 0);
    }

    paint(vp) {
      const ratio = window.devicePixelRatio || 1;
      const { canvas, ctx } = vp;
      const backingWidth = Math.round(canvas.clientWidth * ratio);
      const backingHeight = Math.round(canvas.clientHeight * ratio);
      if (canvas.width !== backingWidth || canvas.height !== backingHeight) {
        Object.assign(canvas, { width: backingWidth, height: backingHeight });
      }
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      const m = this.transform(vp);
      const [width, height] = this.planeSize(vp);
      ctx.setTransform(ratio * m.sx, 0, 0, ratio * m.sy, ratio * m.ox, ratio * m.oy);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(vp.image, 0, 0);
      const heat = vp.heat || this.heatImage;
      if (this.overlays && heat) ctx.drawImage(heat, 0, 0, width, height);
      // Lines and text in CSS pixels, placed through the same transform (m), so they keep
      // their thickness at any zoom.
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      if (this.tool === "crosshair") this.paintCrosshair(ctx, vp, m, width, height);
      ctx.lineWidth = 2;
      if (this.overlays) {
        if (this.kind === "xray") this.boxes.forEach((box) => this.paintBox(ctx, m, box));
        this.markers.forEach((marker) => this.paintMarker(ctx, vp, m, marker, COLOURS.marker));
      }
      if (this.pendingMark) this.paintMarker(ctx, vp, m, this.pendingMark, COLOURS.mark);
    }

    paintCrosshair(ctx, vp, m, width, height) {
      const sliceAlong = (axis) => this.viewports.find((other) => other.plane.axis === axis).slice + 0.5;
      const x = m.ox + sliceAlong(vp.plane.u) * m.sx;
      const y = m.oy + sliceAlong(vp.plane.v) * m.sy;
      ctx.strokeStyle = COLOURS.crosshair;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, m.oy);
      ctx.lineTo(x, m.oy + height * m.sy);
      ctx.moveTo(m.ox, y);
      ctx.lineTo(m.ox + width * m.sx, y);
      ctx.stroke();
    }

    paintBox(ctx, m, box) {
      const x = m.ox + Math.min(box.x0, box.x1) * m.sx;
      const y = m.oy + Math.min(box.y0, box.y1) * m.sy;
      ctx.strokeStyle = COLOURS.box;
      ctx.strokeRect(x, y, Math.abs(box.x1 - box.x0) * m.sx, Math.abs(box.y1 - box.y0) * m.sy);
      const score = Number.isFinite(box.score) ? " " + box.score.toFixed(2) : "";
      drawLabel(ctx, (box.label || "") + score, x + 2, Math.max(14, y - 4), COLOURS.box);
    }

    // A circle on the marker's own slice, fainter within a few slices of it.
    paintMarker(ctx, vp, m, marker, colour) {
      const voxel = [marker.z, marker.y, marker.x];
      const distance = Math.abs(voxel[vp.plane.axis] - vp.slice);
      if (distance > MARKER_NEAR_SLICES) return;
      const x = m.ox + (voxel[vp.plane.u] + 0.5) * m.sx;
      const y = m.oy + (voxel[vp.plane.v] + 0.5) * m.sy;
      ctx.globalAlpha = distance === 0 ? 1 : 0.55;
      ctx.strokeStyle = colour;
      ctx.beginPath();
      ctx.arc(x, y, 10, 0, 2 * Math.PI);
      ctx.stroke();
      if (marker.label) drawLabel(ctx, marker.label, x + 13, y - 8, colour);
      ctx.globalAlpha = 1;
    }
  }

  // ---- Public interface ----------------------------------------------------------------

  const mounted = new WeakMap();

  // mount(element) reads element.dataset:
  //   kind: "xray" | "ct"
  //   xray: imageUrl (8-bit greyscale PNG/JPEG), heatmapUrl (RGBA PNG, optional),
  //         boxes (JSON [{x0, y0, x1, y1, label, score}] in image pixels, optional)
  //   ct:   volumeUrl (int16 little-endian HU, C order), shape [slices, rows, columns],
  //         spacing [mm per slice, row, column], heatmapVolumeUrl + heatmapShape (uint8,
  //         optional), markers (JSON [{z, y, x, label}] voxels, optional),
  //         mark ("true": the "Mark nodule" tool, which dispatches "viewer:mark")
  // Mounting the same element again returns the same viewer.
  function mount(element) {
    if (!mounted.has(element)) {
      const viewer = new Viewer(element);
      mounted.set(element, Object.freeze({
        element,
        ready: viewer.ready,
        state: () => viewer.snapshot(),
        addMarker: (marker) => viewer.addMarker(marker),
      }));
    }
    return mounted.get(element);
  }

  function mountAll() {
    document.querySelectorAll("[data-viewer]").forEach(mount);
  }

  window.LesionsViewer = { mount };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
})();
