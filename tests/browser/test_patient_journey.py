"""A patient's whole journey in a real browser on a phone-sized screen."""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from studies.models import Study
from tests import images

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-Password-123"


def sign_up(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/signup/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_load_state()
    assert User.objects.filter(username=username).exists()


def test_patient_uploads_a_photo_and_gets_a_result_and_report(live_server, phone, celery_worker,
                                                              ml_weights, tmp_path, browser):
    page = phone
    sign_up(page, live_server.url, "pat")

    # A text file named .jpg is refused on the form, and no study is created.
    fake = tmp_path / "mole.jpg"
    fake.write_text("this is not a photo")
    page.goto(f"{live_server.url}/studies/new/")
    page.locator("input[type=file][name=file]").set_input_files(str(fake))
    page.get_by_role("button", name="Analyse the photo").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").filter(has_text="not an image").is_visible()
    assert Study.objects.count() == 0

    # The file input offers the phone's camera.
    file_input = page.locator("input[type=file][name=file]")
    assert file_input.get_attribute("accept") == "image/*"
    assert file_input.get_attribute("capture") is not None

    photo = tmp_path / "spot.jpg"
    photo.write_bytes(images.jpeg_bytes(size=(600, 450)))
    file_input.set_input_files(str(photo))
    page.get_by_role("button", name="Analyse the photo").click()
    page.wait_for_url(re.compile(r"/studies/[0-9a-f-]{36}/$"))
    study = Study.objects.get()
    assert study.owner.username == "pat"

    # The page updates itself: no reload from the test.
    page.get_by_text("Most likely").wait_for(timeout=90_000)
    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    assert page.locator(".bar-row").count() == 7
    assert page.get_by_text(re.compile("decision support", re.I)).first.is_visible()
    assert page.get_by_text("0.0.0-test").first.is_visible()  # model versions are shown
    figures = page.locator("figure img")
    assert figures.count() == 3
    for index in range(3):
        figures.nth(index).scroll_into_view_if_needed()
        loaded = figures.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, f"image {index} did not load"
    no_sideways_scroll = page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert no_sideways_scroll, "the result page is wider than a phone screen"
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)

    report_link = page.get_by_role("link", name="Download the PDF report")
    report = page.request.get(live_server.url + report_link.get_attribute("href"))
    assert report.status == 200
    assert report.headers["content-type"] == "application/pdf"
    assert report.body().startswith(b"%PDF")

    # Another patient cannot open the same files, even with the exact URL.
    outline_url = live_server.url + figures.nth(1).get_attribute("src")
    assert page.request.get(outline_url).status == 200
    other = browser.new_context()
    other_page = other.new_page()
    sign_up(other_page, live_server.url, "other")
    assert other_page.request.get(outline_url).status == 404
    assert other_page.goto(page.url).status == 404
    other.close()

    # Switching the language to Russian.
    page.locator("#language-select").select_option("ru")
    page.wait_for_function("document.documentElement.lang === 'ru'")
    assert re.search("[А-Яа-я]{4,}", page.locator("main").inner_text())

    # The study list shows it; deleting it removes it.
    page.goto(f"{live_server.url}/studies/")
    assert page.locator(f"a[href*='{study.id}']").count() >= 1
