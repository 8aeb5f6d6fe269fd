// What the server tells every viewer on the page (radiology/viewing.py, viewer_config): the
// viewer's words in the page's language and its window presets. They arrive as JSON in
// <script type="application/json" id="viewer-config">, which a Content-Security-Policy
// that forbids inline scripts still allows, and the viewer keeps no copy of its own.

let config = null;

function read() {
  if (config === null) {
    const node = document.getElementById("viewer-config");
    if (!node) throw new Error("viewer: the page has no #viewer-config element");
    config = JSON.parse(node.textContent);
  }
  return config;
}

// The words under `key`, with their {placeholders} filled in from `values`.
export function text(key, values) {
  const words = read().strings[key] ?? key;
  return words.replace(/\{(\w+)\}/g, (match, name) =>
    values && name in values ? String(values[name]) : match);
}

// [{name, width, level}, ...] for "ct" or "xray"; the viewer opens with the first.
export function presets(kind) {
  return read().presets[kind];
}
