// Where things are: voxels of the volume, the planes that cut through it, and where a
// plane's image lies on its canvas, in CSS pixels.

// Volume axes are 0 = slices (z), 1 = rows (y), 2 = columns (x). Each plane cuts across
// `axis`; its image runs along `u` to the right and along `v` downwards. An X-ray is a
// volume of one axial slice.
const PLANES = {
  axial: { axis: 0, u: 2, v: 1 },
  coronal: { axis: 1, u: 2, v: 0 },
  sagittal: { axis: 2, u: 1, v: 0 },
};

export function planeKeys(kind) {
  return kind === "ct" ? ["axial", "coronal", "sagittal"] : ["xray"];
}

export function planeOf(key) {
  return PLANES[key] || PLANES.axial;
}

export function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

export function cssSize(canvas) {
  return { width: canvas.clientWidth, height: canvas.clientHeight };
}

// The plane's image in voxels: [across, down].
export function planeSize(volume, plane) {
  return [volume.shape[plane.u], volume.shape[plane.v]];
}

// CSS pixels per image pixel across (sx) and down (sy), and where the image's top-left
// corner lies (ox, oy), for `view` ({plane, zoom, panX, panY}) on a canvas of `size`.
// Pixels are scaled by their size in mm: anatomical proportion.
export function transform(volume, view, size) {
  const [width, height] = planeSize(volume, view.plane);
  const mmAcross = volume.spacing[view.plane.u];
  const mmDown = volume.spacing[view.plane.v];
  const fit = Math.min(size.width / (width * mmAcross), size.height / (height * mmDown));
  const sx = fit * view.zoom * mmAcross;
  const sy = fit * view.zoom * mmDown;
  return { sx, sy, ox: (size.width - width * sx) / 2 + view.panX, oy: (size.height - height * sy) / 2 + view.panY };
}

// The [z, y, x] voxel under `point` of the canvas, or null outside the image.
export function voxelAt(volume, view, size, point) {
  const m = transform(volume, view, size);
  const [width, height] = planeSize(volume, view.plane);
  const across = Math.floor((point.x - m.ox) / m.sx);
  const down = Math.floor((point.y - m.oy) / m.sy);
  if (!(across >= 0 && across < width && down >= 0 && down < height)) return null;
  const voxel = [0, 0, 0];
  voxel[view.plane.axis] = view.slice;
  voxel[view.plane.u] = across;
  voxel[view.plane.v] = down;
  return voxel;
}

// The view at `zoom`, panned so that the image point under `point` stays where it is.
export function zoomedAbout(volume, view, size, point, zoom) {
  const before = transform(volume, view, size);
  const imageX = (point.x - before.ox) / before.sx;
  const imageY = (point.y - before.oy) / before.sy;
  const after = transform(volume, { ...view, zoom }, size);
  return {
    zoom,
    panX: view.panX + (point.x - (after.ox + imageX * after.sx)),
    panY: view.panY + (point.y - (after.oy + imageY * after.sy)),
  };
}
