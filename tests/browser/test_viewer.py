"""The image viewer (static/js/viewer/) in a real browser, on synthetic images served by
Playwright's router: no Django server is involved, but the page carries the viewer's words
and presets as the review page does, from radiology.viewing, under a Content-Security-Policy
that forbids inline scripts."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.utils import translation
from django.utils.html import json_script
from PIL import Image

from radiology.viewing import viewer_config
from tests.browser.canvas import pixel

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


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1,
                                  locale="en-US")
    context.set_default_timeout(15_000)
    yield context
    context.close()


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


def test_ct_opens_in_three_planes_with_the_lung_window(desktop):
    page = open_viewer(desktop, ct_attributes(), ct_files())
    assert page.evaluate("LesionsViewer.mount(document.getElementById('viewer')).ready.then(() => true)")
    current = state(page)
    assert (current["window"], current["level"]) == LUNG
    assert current["slices"] == {"axial": 10, "coronal": 32, "sagittal": 24}
    assert current["overlays"] is True and current["tool"] == "pan" and current["zoom"] == 1
    for plane, counter in [("axial", "11 / 20"), ("coronal", "33 / 64"), ("sagittal", "25 / 48")]:
        name = plane.capitalize()
        assert canvas(page, plane).get_attribute("aria-label") == f"{name} image"
        caption = page.locator("figure", has=canvas(page, plane)).locator("figcaption")
        assert caption.locator(".viewer-plane").inner_text() == name
        assert caption.locator(".viewer-counter").inner_text() == counter
    assert page.get_by_role("button", name="Pan").get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="Window", exact=True).get_attribute("aria-pressed") == "false"
    assert page.get_by_label("Window width").input_value() == "1500"
    assert page.get_by_label("Window level").input_value() == "-600"

    set_overlays(page, False)
    sphere = pixel(page, "axial", screen_point(page, "axial", 24, 32))
    air = pixel(page, "axial", screen_point(page, "axial", 3, 3))
    # Lung window: air (-1000 HU) is dark grey, soft tissue (40 HU) nearly white.
    assert grey(sphere) and grey(air)
    assert abs(sphere[0] - round((TISSUE + 1350) / 1500 * 255)) <= 3
    assert abs(air[0] - round((AIR + 1350) / 1500 * 255)) <= 3

    # The three planes sit side by side on a wide screen.
    boxes = [canvas(page, plane).bounding_box() for plane in ("axial", "coronal", "sagittal")]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert abs(boxes[0]["y"] - boxes[2]["y"]) < 1

    # Coronal and sagittal planes are drawn in proportion: the sphere is round on screen,
    # though it spans 6 slices of 2.5 mm and 21 columns of 0.7 mm.
    for plane in ("coronal", "sagittal"):
        count, width, height = bright_extent(page, plane)
        assert count > 100
        assert 0.75 < width / height < 1.33, (plane, width, height)
    assert page.js_errors == []


def test_window_presets_inputs_and_right_drag_change_the_rendering(desktop):
    page = open_viewer(desktop, ct_attributes(), ct_files())
    set_overlays(page, False)
    centre = screen_point(page, "axial", 24, 32)
    lung = pixel(page, "axial", centre)

    page.get_by_role("button", name="Mediastinum").click()
    settle(page)
    assert (state(page)["window"], state(page)["level"]) == MEDIASTINUM
    assert page.get_by_label("Window width").input_value() == "350"
    mediastinum = pixel(page, "axial", centre)
    assert abs(mediastinum[0] - round((TISSUE + 125) / 350 * 255)) <= 3
    assert mediastinum[0] < lung[0] - 80
    assert pixel(page, "axial", screen_point(page, "axial", 3, 3))[0] == 0  # air is black

    page.get_by_role("button", name="Bone").click()
    assert (state(page)["window"], state(page)["level"]) == (2000, 500)

    page.get_by_label("Window width").fill("100")
    page.get_by_label("Window level").fill("40")
    settle(page)
    assert (state(page)["window"], state(page)["level"]) == (100, 40)
    assert abs(pixel(page, "axial", centre)[0] - 128) <= 3  # 40 HU is the middle of the window

    # Right-dragging: across widens the window, down raises the level.
    before = state(page)
    page.mouse.move(*centre)
    page.mouse.down(button="right")
    page.mouse.move(centre[0] + 50, centre[1] + 25, steps=5)
    page.mouse.up(button="right")
    settle(page)
    after = state(page)
    assert after["window"] > before["window"] and after["level"] > before["level"]
    assert page.get_by_label("Window width").input_value() == str(after["window"])
    assert after["tool"] == "pan"

    page.get_by_role("button", name="Lung").click()
    settle(page)
    assert (state(page)["window"], state(page)["level"]) == LUNG
    assert pixel(page, "axial", centre) == lung
    assert page.js_errors == []


def test_wheel_and_arrow_keys_scroll_slices(desktop):
    page = open_viewer(desktop, ct_attributes(), ct_files())
    axial_caption = page.locator("figure", has=canvas(page, "axial")).locator(".viewer-counter")
    page.mouse.move(*screen_point(page, "axial", 24, 32))
    page.mouse.wheel(0, 100)
    page.wait_for_function("LesionsViewer.mount(document.getElementById('viewer')).state().slices.axial === 11")
    assert axial_caption.inner_text() == "12 / 20"
    page.mouse.wheel(0, -100)
    page.mouse.wheel(0, -100)
    page.wait_for_function("LesionsViewer.mount(document.getElementById('viewer')).state().slices.axial === 9")
    assert state(page)["slices"] == {"axial": 9, "coronal": 32, "sagittal": 24}
    assert state(page)["zoom"] == 1  # a plain wheel scrolls, it does not zoom

    # Slice 9 is inside the sphere too, slice 1 is not.
    canvas(page, "axial").focus()
    for _ in range(8):
        page.keyboard.press("ArrowDown")
    assert state(page)["slices"]["axial"] == 1
    assert axial_caption.inner_text() == "2 / 20"
    set_overlays(page, False)
    assert pixel(page, "axial", screen_point(page, "axial", 24, 32))[0] < 100

    # The slider moves its own plane only.
    page.get_by_label("Sagittal slice").fill("5")
    assert state(page)["slices"] == {"axial": 1, "coronal": 32, "sagittal": 4}
    assert page.js_errors == []


def test_crosshair_moves_the_other_planes_to_the_clicked_voxel(desktop):
    page = open_viewer(desktop, ct_attributes(), ct_files())
    page.get_by_role("button", name="Crosshair").click()
    assert page.get_by_role("button", name="Crosshair").get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="Pan").get_attribute("aria-pressed") == "false"

    page.mouse.click(*screen_point(page, "axial", 30, 40))  # x = 30, y = 40
    assert state(page)["slices"] == {"axial": 10, "coronal": 40, "sagittal": 30}
    # On the coronal plane, across is x and down is z (slices of 2.5 mm).
    page.mouse.click(*screen_point(page, "coronal", 12, 4))
    assert state(page)["slices"] == {"axial": 4, "coronal": 40, "sagittal": 12}
    page.mouse.click(*screen_point(page, "sagittal", 50, 17))  # across is y, down is z
    assert state(page)["slices"] == {"axial": 17, "coronal": 50, "sagittal": 12}
    assert state(page)["tool"] == "crosshair"
    assert page.js_errors == []


def test_zoom_pan_and_reset_view(desktop):
    page = open_viewer(desktop, ct_attributes(), ct_files())
    set_overlays(page, False)
    count, width, _ = bright_extent(page, "axial")

    page.get_by_role("button", name="Zoom in").click()
    settle(page)
    assert state(page)["zoom"] == pytest.approx(1.25)
    zoomed_count, zoomed_width, _ = bright_extent(page, "axial")
    assert zoomed_count > count * 1.4
    assert zoomed_width == pytest.approx(width * 1.25, rel=0.1)

    # Ctrl+wheel zooms about the cursor: the voxel under it stays put.
    point = screen_point(page, "axial", 24, 32)
    page.mouse.move(*point)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function("LesionsViewer.mount(document.getElementById('viewer')).state().zoom > 1.3")
    assert state(page)["slices"]["axial"] == 10
    settle(page)
    assert pixel(page, "axial", point)[0] > 200

    # Dragging with the Pan tool moves the image: the sphere follows the mouse.
    page.get_by_role("button", name="Reset view").click()
    settle(page)
    assert state(page)["zoom"] == 1
    start = screen_point(page, "axial", 24, 32)
    beside = screen_point(page, "axial", 24 + 18, 32)
    assert pixel(page, "axial", beside)[0] < 100
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(beside[0], beside[1], steps=5)
    page.mouse.up()
    settle(page)
    assert pixel(page, "axial", beside)[0] > 200
    assert pixel(page, "axial", start)[0] < 100

    page.get_by_role("button", name="Zoom out").click()
    settle(page)
    assert state(page)["zoom"] == pytest.approx(0.8)
    page.get_by_role("button", name="Reset view").click()
    settle(page)
    assert state(page)["zoom"] == 1
    assert pixel(page, "axial", start)[0] > 200
    assert page.js_errors == []


def test_ai_overlays_toggle_the_markers(desktop):
    markers = [{"z": 10, "y": 50, "x": 40, "label": "N1 0.91"}]
    page = open_viewer(desktop, ct_attributes(**{"data-markers": json.dumps(markers)}), ct_files())
    cold = screen_point(page, "axial", 40, 10)
    centre = screen_point(page, "axial", 40, 50)
    on_ring = (centre[0] + 10, centre[1])  # markers are 10-pixel circles

    assert grey(pixel(page, "axial", cold))
    ring = pixel(page, "axial", on_ring)
    assert ring[2] > ring[0] + 60, ring

    set_overlays(page, False)
    assert state(page)["overlays"] is False
    assert grey(pixel(page, "axial", on_ring))

    set_overlays(page, True)
    assert pixel(page, "axial", on_ring) == ring
    # The marker shows only within a few slices of its own.
    page.get_by_label("Axial slice").fill("20")
    settle(page)
    assert grey(pixel(page, "axial", on_ring))
    assert page.js_errors == []


def test_mark_mode_reports_the_clicked_voxel_and_adds_markers(desktop):
    page = open_viewer(desktop, ct_attributes(**{"data-mark": "true"}), ct_files())
    page.evaluate("""window.marks = [];
        document.body.addEventListener("viewer:mark", (event) => window.marks.push(event.detail));""")
    page.get_by_role("button", name="Mark nodule").click()
    assert state(page)["tool"] == "mark"

    page.mouse.click(*screen_point(page, "axial", 10, 20))
    page.mouse.click(*screen_point(page, "sagittal", 40, 3))  # across is y, down is z
    page.mouse.click(*screen_point(page, "coronal", 45, 19))  # across is x, down is z
    marks = page.evaluate("window.marks")
    assert marks == [{"z": 10, "y": 20, "x": 10}, {"z": 3, "y": 40, "x": 24}, {"z": 19, "y": 32, "x": 45}]
    assert state(page)["slices"] == {"axial": 10, "coronal": 32, "sagittal": 24}  # no scrolling

    # The page confirms a marker later; it is drawn with the AI overlays.
    page.evaluate("""LesionsViewer.mount(document.getElementById('viewer'))
        .addMarker({z: 10, y: 50, x: 40, label: "Nodule 1"})""")
    settle(page)
    centre = screen_point(page, "axial", 40, 50)
    ring = pixel(page, "axial", (centre[0] + 10, centre[1]))
    assert ring[2] > ring[0] + 60, ring
    assert page.js_errors == []


def test_mark_tool_is_offered_only_when_asked(desktop):
    page = open_viewer(desktop, ct_attributes(), ct_files())
    assert page.get_by_role("button", name="Mark nodule").count() == 0


XRAY_ATTRIBUTES = {"data-kind": "xray", "data-image-url": "/data/cxr.png",
                   "data-heatmap-url": "/data/cxr-heat.png", "data-boxes": json.dumps([XRAY_BOX])}


def xray_files() -> dict[str, tuple[int, str, bytes]]:
    return {"/data/cxr.png": (200, "image/png", xray_png()),
            "/data/cxr-heat.png": (200, "image/png", xray_heatmap_png())}


def test_xray_with_heatmap_and_boxes(desktop):
    page = open_viewer(desktop, XRAY_ATTRIBUTES, xray_files())
    current = state(page)
    assert (current["window"], current["level"]) == (256, 128)
    assert current["slices"] == {"axial": None, "coronal": None, "sagittal": None}
    assert page.get_by_role("button", name="Full range", exact=True).count() == 1
    assert page.get_by_role("button", name="Lung").count() == 0
    assert page.get_by_role("button", name="Crosshair").count() == 0
    assert page.locator(".viewer-slider").count() == 0
    assert canvas(page, "xray").get_attribute("aria-label") == "X-ray image"

    # The greyscale values come through: W 256 / L 128 maps value v to about v.
    middle = pixel(page, "xray", screen_point(page, "xray", 40, 80))
    assert grey(middle) and abs(middle[0] - 129) <= 4

    heated = screen_point(page, "xray", 10, 10)
    assert pixel(page, "xray", heated)[0] > pixel(page, "xray", heated)[2] + 80
    box_edge = screen_point(page, "xray", 49.5, 75)  # the box's left edge is x = 50
    edge = pixel(page, "xray", box_edge)
    assert edge[0] > 200 and edge[1] > 170 and edge[2] < 120, edge

    set_overlays(page, False)
    assert grey(pixel(page, "xray", heated))
    assert grey(pixel(page, "xray", box_edge))

    page.get_by_label("Window width").fill("100")
    page.get_by_label("Window level").fill("100")
    settle(page)
    assert abs(pixel(page, "xray", screen_point(page, "xray", 40, 80))[0] - 201) <= 5
    page.get_by_role("button", name="Full range", exact=True).click()
    assert (state(page)["window"], state(page)["level"]) == (256, 128)

    # On an X-ray the plain wheel zooms.
    page.mouse.move(*screen_point(page, "xray", 40, 80))
    page.mouse.wheel(0, -100)
    page.wait_for_function("LesionsViewer.mount(document.getElementById('viewer')).state().zoom > 1")
    assert page.js_errors == []


def test_missing_volume_shows_the_http_error(desktop):
    files = ct_files()
    del files["/data/ct.raw"]
    page = open_viewer(desktop, ct_attributes(), files, wait=False)
    page.wait_for_selector("#viewer[data-ready=error]")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "The image could not be loaded (HTTP 404)"
    assert page.locator(".viewer-toolbar").is_hidden()
    assert page.evaluate("""LesionsViewer.mount(document.getElementById('viewer')).ready
        .then(() => 'resolved', () => 'rejected')""") == "rejected"
    assert page.js_errors == []


def test_volume_of_the_wrong_size_is_an_error_not_a_crash(desktop):
    files = ct_files()
    files["/data/ct.raw"] = (200, "application/octet-stream", ct_volume()[:19].tobytes())
    page = open_viewer(desktop, ct_attributes(), files, wait=False)
    page.wait_for_selector("#viewer[data-ready=error]")
    expected = SHAPE[0] * SHAPE[1] * SHAPE[2] * 2
    assert page.get_by_role("alert").inner_text() == (
        f"The image data does not match its size ({expected - SHAPE[1] * SHAPE[2] * 2} bytes "
        f"instead of {expected}).")
    assert page.js_errors == []


def test_a_broken_heatmap_leaves_the_image_usable(desktop):
    files = xray_files()
    files["/data/cxr-heat.png"] = (200, "image/png", b"\x00" * 10)
    page = open_viewer(desktop, XRAY_ATTRIBUTES, files)
    assert "AI overlay could not be loaded" in page.locator(".viewer-status").inner_text()
    assert grey(pixel(page, "xray", screen_point(page, "xray", 10, 10)))


def test_translated_loading_text_on_a_phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  locale="ru-RU", is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    try:
        files = ct_files()
        held = []
        volume = files.pop("/data/ct.raw")
        page = open_viewer(context, ct_attributes(), files, language="ru", wait=False)
        # Hold the volume back to see the loading text, then let it through.
        page.route(f"{ORIGIN}/data/ct.raw", lambda route: held.append(route))  # noqa: PLW0108  playwright cannot wrap a builtin
        page.reload()
        page.wait_for_function("document.querySelector('.viewer-status')")
        page.wait_for_timeout(50)
        while not held:
            page.wait_for_timeout(50)
        assert page.locator(".viewer-status").inner_text() == "Загрузка изображения…"
        held[0].fulfill(status=200, body=volume[2], headers={"Content-Type": volume[1]})
        page.wait_for_selector("#viewer[data-ready=true]")
        assert page.get_by_role("button", name="Лёгкие").count() == 1
        assert canvas(page, "axial").get_attribute("aria-label") == "Аксиальная: изображение"

        # Stacked planes on a narrow screen, canvases drawn at the device's pixel ratio.
        axial, coronal = canvas(page, "axial").bounding_box(), canvas(page, "coronal").bounding_box()
        assert coronal["y"] > axial["y"] + axial["height"] - 1
        size = page.evaluate("""(() => { const c = document.querySelector('canvas');
            return [c.width, c.clientWidth]; })()""")
        assert size[0] == size[1] * 2
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()
