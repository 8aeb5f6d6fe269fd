"""Pages and readings for the viewer's browser tests: synthetic images served by Playwright's
router (no Django server is involved), the page carrying the viewer's words and presets as
the review page does (radiology.viewing), under a Content-Security-Policy that forbids
inline scripts."""
from __future__ import annotations

import html
import io
import json
from pathlib import Path

import numpy as np
from django.utils import translation
from django.utils.html import json_script
from PIL import Image

from radiology.viewing import viewer_config

ORIGIN = "http://viewer.test"
STATIC = Path(__file__).resolve().parents[2] / "static"

# A CT volume: air with a soft-tissue sphere of 7 mm radius in the middle.
SHAPE = (20, 64, 48)  # slices, rows, columns
SPACING = (2.5, 0.7, 0.7)  # mm per slice, row, column
CENTRE = (10, 32, 24)  # also the slice each plane opens on
AIR, TISSUE = -1000, 40
# Per plane: image size across and down (voxels) and pixel size across and down (mm).
GEOMETRY = {
    "axial": (SHAPE[2], SHAPE[1], SPACING[2], SPACING[1]),
    "coronal": (SHAPE[2], SHAPE[0], SPACING[2], SPACING[0]),
    "sagittal": (SHAPE[1], SHAPE[0], SPACING[1], SPACING[0]),
    "xray": (80, 100, 1, 1),
}
LUNG, MEDIASTINUM = (1500, -600), (350, 50)


def ct_volume() -> np.ndarray:
    z, y, x = np.indices(SHAPE, dtype=float)
    distance_mm = np.sqrt(((z - CENTRE[0]) * SPACING[0]) ** 2 + ((y - CENTRE[1]) * SPACING[1]) ** 2
                          + ((x - CENTRE[2]) * SPACING[2]) ** 2)
    return np.where(distance_mm <= 7.0, TISSUE, AIR).astype("<i2")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def xray_png() -> bytes:
    """80 x 100 pixels, dark on the left to bright on the right: value = x * 255 / 79."""
    row = np.round(np.arange(80) * 255 / 79).astype(np.uint8)
    return png(Image.fromarray(np.tile(row, (100, 1)), "L"))


def xray_heatmap_png() -> bytes:
    """10 x 10, stretched over the X-ray: red over its top-left quarter, clear elsewhere."""
    heat = np.zeros((10, 10, 4), dtype=np.uint8)
    heat[:5, :5] = (255, 0, 0, 200)
    return png(Image.fromarray(heat, "RGBA"))


XRAY_BOX = {"x0": 50, "y0": 60, "x1": 70, "y1": 90, "label": "nodule", "score": 0.87}


def ct_attributes(**extra: str) -> dict[str, str]:
    return {
        "data-kind": "ct", "data-volume-url": "/data/ct.raw", "data-shape": json.dumps(SHAPE),
        "data-spacing": json.dumps(SPACING), **extra,
    }


def ct_files() -> dict[str, tuple[int, str, bytes]]:
    return {"/data/ct.raw": (200, "application/octet-stream", ct_volume().tobytes())}


def page_html(attributes: dict[str, str], language: str) -> str:
    attrs = " ".join(f'{name}="{html.escape(value)}"' for name, value in attributes.items())
    with translation.override(language):
        config = json_script(viewer_config(), "viewer-config")
    return (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/css/viewer.css"></head>'
            f'<body><div id="viewer" data-viewer {attrs}></div>{config}'
            f'<script type="module" src="/static/js/viewer/main.js"></script></body></html>')


STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}
CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


def static_file(path: str) -> tuple[int, str, bytes] | None:
    file = (STATIC / path.removeprefix("/static/")).resolve()
    if not path.startswith("/static/") or not file.is_relative_to(STATIC) or not file.is_file():
        return None
    return 200, STATIC_TYPES.get(file.suffix, "application/octet-stream"), file.read_bytes()


def open_viewer(context, attributes: dict[str, str], files: dict[str, tuple[int, str, bytes]],
                language: str = "en", wait: bool = True):
    """A page with one viewer, its words in `language`; `files` maps paths to (status,
    content type, body), and /static/ is served from the project's static folder."""
    served = {"/viewer.html": (200, "text/html", page_html(attributes, language).encode()), **files}
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.js_errors = errors

    def handle(route):
        path = route.request.url[len(ORIGIN):].split("?")[0]
        status, content_type, body = served.get(path) or static_file(path) or (404, "text/plain", b"Not found")
        headers = {"Content-Type": content_type}
        if path == "/viewer.html":
            headers["Content-Security-Policy"] = CSP
        route.fulfill(status=status, body=body, headers=headers)

    page.route(f"{ORIGIN}/**", handle)
    page.goto(f"{ORIGIN}/viewer.html")
    if wait:
        page.wait_for_selector("#viewer[data-ready=true]")
    return page


def state(page) -> dict:
    return page.evaluate("LesionsViewer.mount(document.getElementById('viewer')).state()")


def settle(page) -> None:
    """Let the viewer's pending animation frame draw."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def canvas(page, plane: str):
    return page.locator(f"canvas[data-plane={plane}]")


def screen_point(page, plane: str, across: float, down: float) -> tuple[float, float]:
    """Where the centre of the plane's image pixel (across, down) is on the page, at the
    default zoom and pan: the image fits the canvas, pixels scaled by their size in mm."""
    box = canvas(page, plane).bounding_box()
    width, height, mm_across, mm_down = GEOMETRY[plane]
    fit = min(box["width"] / (width * mm_across), box["height"] / (height * mm_down))
    sx, sy = fit * mm_across, fit * mm_down
    left = box["x"] + box["width"] / 2 - width * sx / 2
    top = box["y"] + box["height"] / 2 - height * sy / 2
    return left + (across + 0.5) * sx, top + (down + 0.5) * sy


def bright_extent(page, plane: str, threshold: int = 150) -> tuple[int, int, int]:
    """Count, width and height (canvas pixels) of the pixels brighter than `threshold`."""
    return tuple(page.evaluate("""([plane, threshold]) => {
        const canvas = document.querySelector(`canvas[data-plane=${plane}]`);
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0, left = Infinity, right = -1, top = Infinity, bottom = -1;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i] > threshold && data[i + 1] > threshold && data[i + 2] > threshold) {
                const x = (i / 4) % canvas.width, y = Math.floor(i / 4 / canvas.width);
                count++; left = Math.min(left, x); right = Math.max(right, x);
                top = Math.min(top, y); bottom = Math.max(bottom, y);
            }
        }
        return [count, right - left + 1, bottom - top + 1];
    }""", [plane, threshold]))


def grey(colour: tuple[int, int, int]) -> bool:
    return max(colour) - min(colour) <= 2


def set_overlays(page, on: bool) -> None:
    page.get_by_label("AI overlays").set_checked(on)
    settle(page)



XRAY_ATTRIBUTES = {"data-kind": "xray", "data-image-url": "/data/cxr.png",
                   "data-heatmap-url": "/data/cxr-heat.png", "data-boxes": json.dumps([XRAY_BOX])}


def xray_files() -> dict[str, tuple[int, str, bytes]]:
    return {"/data/cxr.png": (200, "image/png", xray_png()),
            "/data/cxr-heat.png": (200, "image/png", xray_heatmap_png())}
