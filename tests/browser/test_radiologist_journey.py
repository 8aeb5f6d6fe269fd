"""X-rays and CT in a real browser: a clinician sends them, the real Celery worker pre-reads
them with the shipped models, a radiologist reads them in the viewer, marks a nodule and
signs a report; the clinician then downloads the signed report."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings

from radiology import review
from radiology.models import Label, Nodule, Report
from studies.models import AuditEvent, Study
from tests.browser.canvas import pixel
from tests.dicom_files import write_ct_series, write_radiograph
from tests.ml.model_fixtures import ungated_copy

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-Password-123"  # the `users` fixture's password
SHIPPED_WEIGHTS = Path(django_settings.BASE_DIR) / "ml" / "weights"
STUDY_URL = re.compile(r"/studies/[0-9a-f-]{36}/$")

# The CT: lung-like air with a soft-tissue sphere of 5 mm radius around CT_CENTRE.
CT_SHAPE = (20, 64, 64)  # slices, rows, columns
CT_SPACING = (2.5, 0.7, 0.7)  # mm per slice, row, column
CT_CENTRE = (10, 32, 32)  # also the axial slice the viewer opens on (20 // 2)
LUNG, MEDIASTINUM = (1500, -600), (350, 50)

# Generous for a 2-core machine running the server, the worker and Chromium at once.
PREREAD_TIMEOUT_S = 180
UI_TIMEOUT_MS = 60_000


@pytest.fixture
def shipped_weights(settings, tmp_path) -> Path:
    """The shipped models with their input gates off: the films here are drawn, and the
    journey is about the radiologist's work (the gate is tested on its own)."""
    settings.ML_WEIGHTS_DIR = ungated_copy(SHIPPED_WEIGHTS, tmp_path / "weights")
    return settings.ML_WEIGHTS_DIR


@pytest.fixture
def desktop(browser):
    """A fresh browser context (its own cookies) on a desktop screen; call it per user."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1,
                                      locale="en-US")
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()


# ---- Files -------------------------------------------------------------------------------

def ct_files(folder: Path) -> list[Path]:
    hu = np.full(CT_SHAPE, -850.0, dtype=np.float32)
    z, y, x = np.indices(CT_SHAPE, dtype=float)
    distance_mm = np.sqrt(((z - CT_CENTRE[0]) * CT_SPACING[0]) ** 2 + ((y - CT_CENTRE[1]) * CT_SPACING[1]) ** 2
                          + ((x - CT_CENTRE[2]) * CT_SPACING[2]) ** 2)
    hu[distance_mm <= 5.0] = 40.0
    return write_ct_series(folder / "ct", hu, spacing=CT_SPACING)


def xray_file(folder: Path) -> Path:
    """A chest radiograph stored inverted (MONOCHROME1): bright lungs on a dark body."""
    rows, columns = np.mgrid[0:200, 0:160]
    lungs = ((rows - 100) ** 2 / 80 ** 2 + (np.abs(columns - 80) - 38) ** 2 / 30 ** 2) < 1
    pixels = np.where(lungs, 40, 200).astype(np.uint8)
    return write_radiograph(folder / "chest.dcm", pixels, photometric="MONOCHROME1")


# ---- Helpers -----------------------------------------------------------------------------

def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()


def send(page, kind_label: str, files: list[Path], patient_name: str) -> Study:
    """Send a study from the "Send X-ray or CT" page; the browser lands on its page."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send X-ray or CT").click()
    page.get_by_role("heading", name="Send an X-ray or a CT").wait_for()
    page.get_by_label(kind_label).check()
    page.locator("input[type=file][name=files]").set_input_files([str(path) for path in files])
    page.get_by_label("Patient's name").fill(patient_name)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(STUDY_URL)
    study_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    return Study.objects.get(id=study_id)


def wait_until(page, condition, what: str, timeout_s: float = PREREAD_TIMEOUT_S) -> None:
    """Poll `condition` (a database check) while the page's event loop keeps running."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        page.wait_for_timeout(250)


def preread_finished(study: Study) -> bool:
    study.refresh_from_db()
    return study.is_finished


def viewer_ready(page) -> None:
    page.locator("[data-viewer][data-ready]").wait_for(state="attached", timeout=UI_TIMEOUT_MS)
    ready = page.locator("[data-viewer]").get_attribute("data-ready")
    assert ready == "true", page.locator("[data-viewer] .viewer-status").inner_text()


def state(page) -> dict:
    return page.evaluate("LesionsViewer.mount(document.querySelector('[data-viewer]')).state()")


def settle(page) -> None:
    """Let the viewer's pending animation frame draw."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def coloured_pixels(page, plane: str) -> int:
    """How many pixels of the plane's canvas are not grey: the AI overlay's colours."""
    return page.evaluate("""(plane) => {
        const canvas = document.querySelector(`canvas[data-plane=${plane}]`);
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
            const high = Math.max(data[i], data[i + 1], data[i + 2]);
            const low = Math.min(data[i], data[i + 1], data[i + 2]);
            if (high - low > 8) count++;
        }
        return count;
    }""", plane)


def screen_point(page, plane_box: dict, size: tuple[int, int], mm: tuple[float, float],
                 across: int, down: int) -> tuple[float, float]:
    """Where the centre of image pixel (across, down) is on the page, at the default zoom and
    pan: the viewer fits the image in the canvas, pixels scaled by their size in mm."""
    (width, height), (mm_across, mm_down) = size, mm
    fit = min(plane_box["width"] / (width * mm_across), plane_box["height"] / (height * mm_down))
    sx, sy = fit * mm_across, fit * mm_down
    left = plane_box["x"] + plane_box["width"] / 2 - width * sx / 2
    top = plane_box["y"] + plane_box["height"] / 2 - height * sy / 2
    return left + (across + 0.5) * sx, top + (down + 0.5) * sy


def worklist_ids(page) -> list[str]:
    hrefs = page.locator("table.worklist tbody tr td a[href*='/radiology/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return [re.search(r"/radiology/([0-9a-f-]{36})/", href).group(1) for href in hrefs]


def actions(study: Study, username: str) -> set[str]:
    return set(AuditEvent.objects.filter(study_id=study.id, username=username).values_list("action", flat=True))


def assert_no_ai_findings(page) -> None:
    """A clinician reads the final report only: no images, no AI findings, no review page."""
    main = page.locator("main").inner_text()
    for words in ("AI pre-read", "AI finding", "AI urgency", "neumonia", "Probability"):
        assert words not in main, f"{words!r} is shown to the clinician"
    assert page.locator("[data-viewer], canvas, main img").count() == 0
    assert page.get_by_role("link", name="Open in the review page").count() == 0


def fetch(page, url: str):
    """GET `url` with the page's cookies (its user's session)."""
    return page.request.get(url, max_redirects=0)


# ---- The journeys ------------------------------------------------------------------------

def test_radiologist_reads_the_xray_and_ct_a_clinician_sent(live_server, desktop, celery_worker, users,
                                                            shipped_weights, tmp_path):
    base = live_server.url

    # A clinician sends a CT series (several files at once) and an X-ray.
    clinician = desktop()
    log_in(clinician, base, users.clinician.username)
    ct = send(clinician, "Chest CT", ct_files(tmp_path), "Carla Tee")
    assert ct.kind == Study.Kind.CT and ct.owner == users.clinician
    assert ct.files.count() == CT_SHAPE[0]
    assert clinician.get_by_role("heading", name=re.compile("CT series")).is_visible()
    assert_no_ai_findings(clinician)
    xray = send(clinician, "Chest X-ray", [xray_file(tmp_path)], "Xavier Ray")
    assert xray.kind == Study.Kind.CHEST_XRAY and xray.image_count == 1
    assert clinician.get_by_text("The report will be available here once a radiologist has signed it").is_visible()
    assert_no_ai_findings(clinician)

    # The worker pre-reads both with the shipped models.
    for study in (ct, xray):
        wait_until(clinician, lambda study=study: preread_finished(study), f"the pre-read of {study.kind}")
        assert study.status == Study.Status.DONE, study.failure_reason
    assert ct.result.findings["volume"]["shape"] == list(CT_SHAPE)
    assert {m["name"] for m in xray.result.models} >= {"pneumonia", "pneumonia-type"}
    clinician.reload()
    assert_no_ai_findings(clinician)  # not even once it is done

    # A radiologist's worklist holds both, the AI's most urgent first, then the oldest.
    radiologist = desktop()
    log_in(radiologist, base, users.radiologist.username)
    radiologist.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    radiologist.get_by_role("heading", name="Worklist").wait_for()
    expected = [str(pk) for pk in Study.objects.filter(id__in=[ct.id, xray.id])
                .order_by("-urgency", "created_at", "id").values_list("id", flat=True)]
    assert worklist_ids(radiologist) == expected
    assert radiologist.get_by_text("2 studies").is_visible()
    urgencies = [Study.objects.get(id=pk).urgency for pk in expected]
    assert urgencies == sorted(urgencies, reverse=True)
    if Study.Urgency.URGENT in urgencies:
        assert urgencies[0] == Study.Urgency.URGENT
    first_row = radiologist.locator("table.worklist tbody tr").first
    assert Study.objects.get(id=expected[0]).get_urgency_display() in first_row.inner_text()

    # The X-ray: the viewer with the AI's heatmap, which the "AI overlays" switch hides.
    radiologist.get_by_role("link", name="Xavier Ray").click()
    radiologist.wait_for_url(f"**/radiology/{xray.id}/")
    viewer_ready(radiologist)
    # Code only from static files, data only as JSON: ready for a Content-Security-Policy
    # that forbids inline scripts.
    assert radiologist.locator("script:not([src]):not([type='application/json'])").count() == 0
    radiologist.locator("canvas[data-plane=xray]").scroll_into_view_if_needed()
    settle(radiologist)
    assert state(radiologist)["overlays"] is True
    with_overlays = coloured_pixels(radiologist, "xray")
    assert with_overlays > 100, "the AI heatmap is not drawn over the X-ray"
    overlays = radiologist.get_by_label("AI overlays")
    overlays.uncheck()
    settle(radiologist)
    assert state(radiologist)["overlays"] is False
    assert coloured_pixels(radiologist, "xray") == 0
    overlays.check()
    settle(radiologist)
    assert state(radiologist)["overlays"] is True
    assert coloured_pixels(radiologist, "xray") == with_overlays
    assert radiologist.get_by_text("Claim the study to sign its report.").is_visible()

    # Claim, correct the AI's finding, write the impression and sign.
    radiologist.get_by_role("button", name="Claim for review").click()
    radiologist.get_by_role("heading", name="Sign the report").wait_for()
    assert radiologist.get_by_text("claimed by you").is_visible()
    radiologist.get_by_label("I correct it to:").check()
    radiologist.get_by_label("Finding:", exact=True).select_option("other")
    impression = "Ill-defined opacity of the right lower zone.\nSuggest a follow-up film."
    radiologist.get_by_label("Impression").fill(impression)
    radiologist.get_by_role("button", name="Sign", exact=True).click()
    signed = radiologist.locator("section.signed-report")
    signed.get_by_role("heading", name="Signed report").wait_for()
    assert "Corrects the AI finding to: Other abnormality" in signed.inner_text()
    assert signed.locator(".impression").inner_text().strip() == impression
    assert "Signed by rita" in signed.inner_text()
    assert radiologist.get_by_role("button", name="Sign", exact=True).count() == 0

    # Chromium shows an inline PDF rather than downloading it: fetch it with the page's cookies.
    pdf_link = radiologist.get_by_role("link", name="Signed report (PDF)")
    response = fetch(radiologist, base + pdf_link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")

    xray.refresh_from_db()
    assert xray.review == Study.Review.SIGNED and xray.claimed_by == users.radiologist
    report = Report.objects.get(study=xray)
    assert (report.agree, report.corrected_class) == (False, "other")
    assert report.impression == impression  # CRLF from the browser stored as plain newlines
    label = Label.objects.get(study=xray)
    assert (label.report, label.task, label.value, label.agreed) == (report, "chest-xray", "other", False)
    assert label.ai_value == report.ai_findings["ai_class"] and label.ai_value in {"normal", "bacterial", "viral"}
    assert actions(xray, "rita") >= {"viewed", "claimed", "signed", "downloaded"}
    assert AuditEvent.objects.get(study_id=xray.id, action="downloaded").detail == "report.pdf"

    # The clinician reads the signed report, still without the AI's findings.
    clinician.goto(f"{base}/studies/{xray.id}/")
    link = clinician.get_by_role("link", name="Download the signed report (PDF)")
    assert link.is_visible()
    assert_no_ai_findings(clinician)
    response = fetch(clinician, base + link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    assert "downloaded" in actions(xray, "carl")
    # The images, the AI's overlays and the review page stay closed to the clinician.
    assert fetch(clinician, f"{base}/studies/{xray.id}/files/heatmap-layer").status == 404
    assert fetch(clinician, f"{base}/studies/{xray.id}/files/image").status == 404
    assert fetch(clinician, f"{base}/radiology/{xray.id}/").status == 403
    assert fetch(clinician, f"{base}/radiology/").status == 403

    # A patient who guesses the URLs gets nothing.
    patient = desktop()
    log_in(patient, base, users.patient_a.username)
    for url in (f"/radiology/{xray.id}/", f"/radiology/{ct.id}/", f"/studies/{xray.id}/",
                f"/studies/{xray.id}/files/report.pdf"):
        assert fetch(patient, base + url).status in {403, 404}, url
    assert patient.goto(f"{base}/radiology/{xray.id}/").status in {403, 404}
    assert "signed" not in actions(xray, "alice") and not actions(ct, "alice")

    # The CT: three planes, window presets, and a nodule marked on its axial plane.
    radiologist.get_by_role("link", name="← Worklist").click()
    radiologist.get_by_role("heading", name="Worklist").wait_for()
    assert worklist_ids(radiologist) == [str(ct.id)]  # the signed X-ray has left the worklist
    radiologist.get_by_role("link", name="Carla Tee").click()
    radiologist.wait_for_url(f"**/radiology/{ct.id}/")
    viewer_ready(radiologist)
    boxes = []
    for plane in ("axial", "coronal", "sagittal"):
        assert radiologist.locator(f"canvas[data-plane={plane}]").is_visible()
        boxes.append(radiologist.locator(f"canvas[data-plane={plane}]").bounding_box())
    # On a desktop screen the three planes sit side by side, the AI findings below them.
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"] and abs(boxes[0]["y"] - boxes[2]["y"]) < 1
    current = state(radiologist)
    assert (current["window"], current["level"]) == LUNG
    assert current["slices"] == {"axial": CT_CENTRE[0], "coronal": CT_SHAPE[1] // 2, "sagittal": CT_SHAPE[2] // 2}
    radiologist.get_by_role("button", name="Mediastinum").click()
    assert (state(radiologist)["window"], state(radiologist)["level"]) == MEDIASTINUM
    assert radiologist.get_by_label("Window width").input_value() == "350"
    radiologist.get_by_role("button", name="Lung").click()
    assert (state(radiologist)["window"], state(radiologist)["level"]) == LUNG
    assert radiologist.get_by_label("Window level").input_value() == "-600"

    nodules = radiologist.locator("#nodule-list")
    assert nodules.get_by_text("No nodules marked.").is_visible()
    radiologist.get_by_role("button", name="Mark nodule").click()
    assert state(radiologist)["tool"] == "mark"
    axial = radiologist.locator("canvas[data-plane=axial]")
    axial.scroll_into_view_if_needed()
    settle(radiologist)
    centre = screen_point(radiologist, axial.bounding_box(), (CT_SHAPE[2], CT_SHAPE[1]),
                          (CT_SPACING[2], CT_SPACING[1]), CT_CENTRE[2], CT_CENTRE[1])
    radiologist.mouse.click(*centre)

    # The worker scores it with the shipped nodule-malignancy model; the list updates itself.
    scored = nodules.locator("li.nodule[data-status=done]")
    scored.wait_for(timeout=PREREAD_TIMEOUT_S * 1000)
    assert nodules.locator("li.nodule").count() == 1
    assert re.search(r"Malignancy probability: \d+(\.\d+)?\s?%", scored.inner_text()), scored.inner_text()
    assert "nodule-malignancy" in scored.inner_text()
    gradcam = scored.get_by_role("img", name="Grad-CAM of the nodule model in three planes")
    gradcam.scroll_into_view_if_needed()
    radiologist.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=gradcam.element_handle())
    # The viewer keeps the mark as one of the study's markers (cyan), no longer a pending
    # "New mark" (green) that the next click would replace.
    axial.scroll_into_view_if_needed()
    settle(radiologist)
    centre = screen_point(radiologist, axial.bounding_box(), (CT_SHAPE[2], CT_SHAPE[1]),
                          (CT_SPACING[2], CT_SPACING[1]), CT_CENTRE[2], CT_CENTRE[1])
    ring = pixel(radiologist, "axial", (centre[0] + 10, centre[1]))
    assert ring[2] > ring[0] + 60 and ring[1] > 150, ring
    nodule = Nodule.objects.get(study=ct)
    assert nodule.status == Nodule.Status.DONE, nodule.failure_reason
    assert 0.0 <= nodule.probability <= 1.0 and nodule.model["name"] == "nodule-malignancy"
    assert nodule.marked_by == users.radiologist
    assert (nodule.z, nodule.y, nodule.x) == CT_CENTRE
    assert f"slice {CT_CENTRE[0] + 1}, row {CT_CENTRE[1]}, column {CT_CENTRE[2]}" in scored.inner_text()
    assert actions(ct, "rita") >= {"viewed", "marked"}
    assert radiologist.js_errors == [] and clinician.js_errors == []


def test_clinician_reads_only_the_signed_report(live_server, desktop, celery_worker, users,
                                                 shipped_weights, tmp_path):
    base = live_server.url
    clinician = desktop()
    log_in(clinician, base, users.clinician.username)
    xray = send(clinician, "Chest X-ray", [xray_file(tmp_path)], "Xavier Ray")
    wait_until(clinician, lambda: preread_finished(xray), "the X-ray's pre-read")
    assert xray.status == Study.Status.DONE, xray.failure_reason

    # Before signing: where the study is, but neither the AI's findings nor a report.
    clinician.reload()
    assert_no_ai_findings(clinician)
    assert clinician.locator(".badge.review-awaiting").inner_text() == "Awaiting review"
    assert clinician.get_by_text("The report will be available here once a radiologist has signed it").is_visible()
    assert clinician.get_by_role("link", name="Download the signed report (PDF)").count() == 0
    assert fetch(clinician, f"{base}/studies/{xray.id}/files/report.pdf").status == 404

    # A patient who guesses the review URL (or the study's) gets a 404, not the study.
    patient = desktop()
    log_in(patient, base, users.patient_b.username)
    assert patient.goto(f"{base}/radiology/{xray.id}/").status == 404
    assert patient.goto(f"{base}/studies/{xray.id}/").status == 404
    assert fetch(patient, f"{base}/radiology/").status == 403

    # A radiologist signs it (through the service: the browser flow is the test above).
    review.study_claim(user=users.radiologist, study=xray)
    review.report_sign(user=users.radiologist, study=xray, agree=True, impression="No acute findings.")

    clinician.reload()
    assert clinician.locator(".badge.review-signed").inner_text() == "Signed"
    assert_no_ai_findings(clinician)
    link = clinician.get_by_role("link", name="Download the signed report (PDF)")
    response = fetch(clinician, base + link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    assert "downloaded" in actions(xray, "carl")

    # The signed report stays closed to the patient too.
    assert fetch(patient, f"{base}/studies/{xray.id}/files/report.pdf").status == 404
    assert patient.goto(f"{base}/radiology/{xray.id}/").status == 404
    assert clinician.js_errors == [] and patient.js_errors == []
