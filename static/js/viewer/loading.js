// A study's pixels, fetched and checked: a CT's int16 volume or an X-ray's greyscale image
// (a volume of one slice), and the X-ray's AI heatmap. A volume's `values` are read through
// a look-up table indexed by value + offset (see painting.js).
import { text } from "./config.js";

// An error whose message is meant for the person looking at the viewer.
export class ViewerError extends Error {}

async function fetchBytes(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin" });
  } catch (networkError) {
    throw new ViewerError(text("loadFailed"));
  }
  if (!response.ok) throw new ViewerError(text("loadFailedHttp", { status: response.status }));
  return response.arrayBuffer();
}

function parseJson(json, fallback) {
  if (json === undefined || json === "") return fallback;
  try {
    return JSON.parse(json);
  } catch (syntaxError) {
    throw new ViewerError(text("badDescription"));
  }
}

function triple(json, name, fallback) {
  const value = parseJson(json, fallback);
  const valid = Array.isArray(value) && value.length === 3 &&
    value.every((n) => Number.isFinite(n) && n > 0 && (name !== "shape" || Number.isInteger(n)));
  if (!valid) throw new ViewerError(text("badDescription"));
  return value;
}

// Overlays are optional: a malformed list is left out rather than hiding the image.
export function overlayList(json, keys) {
  let list;
  try {
    list = parseJson(json, []);
  } catch (error) {
    console.warn("viewer: ignoring a malformed overlay list", json);
    return [];
  }
  return Array.isArray(list) ? list.filter((item) => keys.every((key) => Number.isFinite(item[key]))) : [];
}

function checkSize(buffer, shape, bytesPerValue) {
  const expected = shape[0] * shape[1] * shape[2] * bytesPerValue;
  if (buffer.byteLength !== expected) {
    throw new ViewerError(text("sizeMismatch", { got: buffer.byteLength, expected }));
  }
}

function int16LittleEndian(buffer) {
  const platformIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (platformIsLittleEndian) return new Int16Array(buffer);
  const view = new DataView(buffer);
  return Int16Array.from({ length: buffer.byteLength / 2 }, (_, i) => view.getInt16(i * 2, true));
}

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
    throw new ViewerError(text("loadFailed"));
  }
}

async function loadXrayVolume(data) {
  const bitmap = await loadBitmap(data.imageUrl, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = Object.assign(document.createElement("canvas"), { width: bitmap.width, height: bitmap.height });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const grey = new Uint8Array(bitmap.width * bitmap.height);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = rgba[i * 4]; // a greyscale image decodes to R = G = B
  }
  return { values: grey, shape: [1, bitmap.height, bitmap.width], spacing: [1, 1, 1], offset: 0, lutSize: 256 };
}

// {volume, heatImage} from the viewer's data attributes (see main.js). The heatmap is
// optional: when it cannot be loaded, `overlayFailed` is called and heatImage is null.
export async function loadImages(kind, data, overlayFailed) {
  if (kind === "ct") return { volume: await loadCtVolume(data), heatImage: null };
  const heat = data.heatmapUrl ? loadBitmap(data.heatmapUrl).catch((error) => {
    console.warn("viewer: overlay not loaded", error);
    overlayFailed();
    return null;
  }) : null;
  const [volume, heatImage] = await Promise.all([loadXrayVolume(data), heat]);
  return { volume, heatImage };
}
