"""The X-ray viewer in a real browser with its heatmap and boxes, and what the viewer does
when an image fails to load or is translated on a phone."""

from __future__ import annotations

from tests.browser.canvas import pixel
from tests.browser.viewer_pages import (
    ORIGIN,
    SHAPE,
    XRAY_ATTRIBUTES,
    canvas,
    ct_attributes,
    ct_files,
    ct_volume,
    grey,
    open_viewer,
    screen_point,
    set_overlays,
    settle,
    state,
    xray_files,
)


def test_xray_with_heatmap_and_boxes(desktop_context):
    page = open_viewer(desktop_context, XRAY_ATTRIBUTES, xray_files())
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


def test_missing_volume_shows_the_http_error(desktop_context):
    files = ct_files()
    del files["/data/ct.raw"]
    page = open_viewer(desktop_context, ct_attributes(), files, wait=False)
    page.wait_for_selector("#viewer[data-ready=error]")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "The image could not be loaded (HTTP 404)"
    assert page.locator(".viewer-toolbar").is_hidden()
    assert page.evaluate("""LesionsViewer.mount(document.getElementById('viewer')).ready
        .then(() => 'resolved', () => 'rejected')""") == "rejected"
    assert page.js_errors == []


def test_volume_of_the_wrong_size_is_an_error_not_a_crash(desktop_context):
    files = ct_files()
    files["/data/ct.raw"] = (200, "application/octet-stream", ct_volume()[:19].tobytes())
    page = open_viewer(desktop_context, ct_attributes(), files, wait=False)
    page.wait_for_selector("#viewer[data-ready=error]")
    expected = SHAPE[0] * SHAPE[1] * SHAPE[2] * 2
    assert page.get_by_role("alert").inner_text() == (
        f"The image data does not match its size ({expected - SHAPE[1] * SHAPE[2] * 2} bytes "
        f"instead of {expected}).")
    assert page.js_errors == []


def test_a_broken_heatmap_leaves_the_image_usable(desktop_context):
    files = xray_files()
    files["/data/cxr-heat.png"] = (200, "image/png", b"\x00" * 10)
    page = open_viewer(desktop_context, XRAY_ATTRIBUTES, files)
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
