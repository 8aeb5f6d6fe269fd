"""The worklist (radiology.worklist) and its page."""
import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import user_create
from radiology import review, worklist
from studies.models import Study
from tests.conftest import PASSWORD
from tests.radiology_studies import make_ct, make_xray

pytestmark = pytest.mark.django_db

URGENT, NOT_ASSESSED, ROUTINE = Study.Urgency.URGENT, Study.Urgency.NOT_ASSESSED, Study.Urgency.ROUTINE


def uploaded(study: Study, days_ago: float) -> Study:
    Study.objects.filter(id=study.id).update(created_at=timezone.now() - datetime.timedelta(days=days_ago))
    study.refresh_from_db()
    return study


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def queue(users):
    owner = users.clinician
    return {
        "routine_old": uploaded(make_xray(owner, urgency=ROUTINE, pneumonia=0.1, with_files=False), 5),
        "urgent_new": uploaded(make_xray(owner, urgency=URGENT, with_files=False), 1),
        "urgent_old": uploaded(make_ct(owner, urgency=URGENT, with_files=False), 3),
        "unassessed": uploaded(make_ct(owner, urgency=NOT_ASSESSED, with_files=False), 2),
        "routine_new": uploaded(make_xray(owner, urgency=ROUTINE, pneumonia=0.2, with_files=False), 0),
    }


def ids(studies) -> list:
    return [study.id for study in studies]


def test_urgent_first_then_oldest(users, queue, analysed_study):
    expected = ["urgent_old", "urgent_new", "unassessed", "routine_old", "routine_new"]
    assert ids(worklist.worklist_for(user=users.radiologist)) == [queue[name].id for name in expected]


def test_only_open_radiology_studies_by_default(users, queue, analysed_study):
    admin = user_create(username="ada", password=PASSWORD, role=User.Role.ADMIN)
    Study.objects.filter(id=queue["routine_new"].id).update(review=Study.Review.SIGNED)
    Study.objects.filter(id=queue["routine_old"].id).update(review=Study.Review.NONE)
    listed = set(ids(worklist.worklist_for(user=admin)))
    assert analysed_study.id not in listed  # a skin photo, even for an admin
    assert listed == {queue[name].id for name in ("urgent_new", "urgent_old", "unassessed")}
    assert set(ids(worklist.worklist_for(user=admin, review=Study.Review.SIGNED))) == {queue["routine_new"].id}


def test_filters(users, queue):
    rita = users.radiologist
    assert set(ids(worklist.worklist_for(user=rita, kind=Study.Kind.CT))) == {queue["urgent_old"].id, queue["unassessed"].id}
    review.study_claim(user=rita, study=queue["unassessed"])
    assert ids(worklist.worklist_for(user=rita, mine=True)) == [queue["unassessed"].id]
    assert ids(worklist.worklist_for(user=rita, review=Study.Review.IN_REVIEW)) == [queue["unassessed"].id]
    assert queue["unassessed"].id not in ids(worklist.worklist_for(user=rita, review=Study.Review.AWAITING))
    today = timezone.localdate()
    recent = worklist.worklist_for(user=rita, date_from=today - datetime.timedelta(days=2))
    assert set(ids(recent)) == {queue[name].id for name in ("urgent_new", "unassessed", "routine_new")}
    older = worklist.worklist_for(user=rita, date_to=today - datetime.timedelta(days=3))
    assert set(ids(older)) == {queue["routine_old"].id, queue["urgent_old"].id}


def test_patients_and_clinicians_see_only_their_own(users, queue):
    assert not worklist.worklist_for(user=users.patient_a).exists()
    assert len(worklist.worklist_for(user=users.clinician)) == 5  # theirs: the selector decides


def test_ai_summary(users, queue):
    rows = {study.id: worklist.ai_summary(study=study) for study in worklist.worklist_for(user=users.radiologist)}
    assert rows[queue["urgent_new"].id] == worklist.AiSummary("bacterial", "Bacterial pneumonia", pytest.approx(0.91))
    assert rows[queue["routine_old"].id].code == "normal"
    assert rows[queue["unassessed"].id] == worklist.AiSummary("", "", None)


def page_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_constant_queries_with_3_and_30_studies(users):
    rita = users.radiologist
    client = logged_in(rita)
    html_url, api_url = reverse("radiology:worklist"), reverse("radiology-api:worklist")
    for _ in range(3):
        make_xray(users.clinician, with_files=False)
    review.study_claim(user=rita, study=Study.objects.first())
    page_queries(client, html_url)  # warm up: session, content types
    small = (page_queries(client, html_url), page_queries(client, api_url))
    for index in range(27):
        study = make_ct(users.clinician, with_files=False) if index % 2 else make_xray(users.clinician, with_files=False)
        if index % 3 == 0:
            review.study_claim(user=rita if index % 2 else users.radiologist, study=study)
    assert (page_queries(client, html_url), page_queries(client, api_url)) == small


# the page

def test_worklist_page_lists_the_rows(users, queue):
    rita = users.radiologist
    review.study_claim(user=rita, study=queue["urgent_old"])
    html = logged_in(rita).get(reverse("radiology:worklist")).content.decode()
    assert html.index(str(queue["urgent_old"].id)) < html.index(str(queue["routine_new"].id))
    for expected in ("Jane Roe", "PID-0001", "054Y", "Chest PA", "Bacterial pneumonia", "91.0 %",
                     "Urgent", "Not assessed by the AI", "Done", "by me", "5 studies"):
        assert expected in html, expected
    assert reverse("radiology:review", kwargs={"study_id": queue["urgent_new"].id}) in html


def test_worklist_page_filters_and_paginates_keeping_them(users, queue, monkeypatch):
    monkeypatch.setattr(worklist, "PAGE_SIZE", 2)
    client = logged_in(users.radiologist)
    response = client.get(reverse("radiology:worklist"), {"kind": "chest_xray"})
    html = response.content.decode()
    assert "3 studies" in html and "Page 1 of 2" in html
    assert "?kind=chest_xray&amp;page=2" in html
    html = client.get(reverse("radiology:worklist"), {"kind": "chest_xray", "page": 2}).content.decode()
    assert "Page 2 of 2" in html and str(queue["routine_new"].id) in html
    review.study_claim(user=users.radiologist, study=queue["unassessed"])
    html = client.get(reverse("radiology:worklist"), {"review": "mine"}).content.decode()
    assert "1 study" in html and str(queue["unassessed"].id) in html
    html = client.get(reverse("radiology:worklist"), {"date_from": "not a date"}).content.decode()
    assert "Enter a valid date." in html and "5 studies" in html


def test_worklist_page_only_for_radiologists_and_admins(users, client):
    url = reverse("radiology:worklist")
    assert logged_in(users.patient_a).get(url).status_code == 403
    assert logged_in(users.clinician).get(url).status_code == 403
    assert client.get(url).status_code == 302
    admin = user_create(username="ada", password=PASSWORD, role=User.Role.ADMIN)
    assert logged_in(admin).get(url).status_code == 200
    assert url in logged_in(users.radiologist).get(reverse("home")).content.decode()  # in the nav
    assert url not in logged_in(users.patient_a).get(reverse("home")).content.decode()
