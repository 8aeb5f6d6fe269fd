"""The CT viewer in a real browser: three planes, window presets, scrolling, crosshair, zoom
and pan, the AI's markers and marking nodules."""

from __future__ import annotations

import json

import pytest

from tests.browser.canvas import pixel
from tests.browser.viewer_pages import (
    AIR,
    LUNG,
    MEDIASTINUM,
    TISSUE,
    bright_extent,
    canvas,
    ct_attributes,
    ct_files,
    grey,
    open_viewer,
    screen_point,
    set_overlays,
    settle,
    state,
)


def test_ct_opens_in_three_planes_with_the_lung_window(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(), ct_files())
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


def test_window_presets_inputs_and_right_drag_change_the_rendering(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(), ct_files())
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


def test_wheel_and_arrow_keys_scroll_slices(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(), ct_files())
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


def test_crosshair_moves_the_other_planes_to_the_clicked_voxel(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(), ct_files())
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


def test_zoom_pan_and_reset_view(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(), ct_files())
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


def test_ai_overlays_toggle_the_markers(desktop_context):
    markers = [{"z": 10, "y": 50, "x": 40, "label": "N1 0.91"}]
    page = open_viewer(desktop_context, ct_attributes(**{"data-markers": json.dumps(markers)}), ct_files())
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


def test_mark_mode_reports_the_clicked_voxel_and_adds_markers(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(**{"data-mark": "true"}), ct_files())
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


def test_mark_tool_is_offered_only_when_asked(desktop_context):
    page = open_viewer(desktop_context, ct_attributes(), ct_files())
    assert page.get_by_role("button", name="Mark nodule").count() == 0
