"""Training labels from signed reports: the export command and the admin's CSV action."""
import csv
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import user_create
from radiology import review
from radiology.models import Label
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PHI = ("Jane", "Roe", "John", "Doe", "PID-0001", "PID-0002", "054Y", "067Y")


@pytest.fixture
def signed(users, radiology_studies):
    rita = users.radiologist
    review.report_sign(user=rita, study=radiology_studies.xray, agree=True, impression="Consolidation.")
    review.report_sign(user=rita, study=radiology_studies.ct, agree=False, corrected_class="nodule-benign",
                       impression="Calcified granuloma.")
    return radiology_studies


def test_a_signed_report_makes_one_label(signed):
    xray_label = Label.objects.get(study=signed.xray)
    ct_label = Label.objects.get(study=signed.ct)
    assert (xray_label.task, xray_label.value, xray_label.ai_value, xray_label.agreed) == (
        "chest-xray", "bacterial", "bacterial", True)
    assert (ct_label.task, ct_label.value, ct_label.ai_value, ct_label.agreed) == (
        "chest-ct", "nodule-benign", "", False)


def test_export_labels_command(signed, tmp_path):
    out = tmp_path / "export"
    stdout = io.StringIO()
    call_command("export_labels", str(out), stdout=stdout)
    assert "Exported 2 label(s)" in stdout.getvalue()
    text = (out / "labels.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["study_id", "kind", "task", "label", "ai_label", "agreed", "signed_at",
                             "radiologist", "files"]
    by_study = {row["study_id"]: row for row in rows}
    xray, ct = by_study[str(signed.xray.id)], by_study[str(signed.ct.id)]
    assert (xray["kind"], xray["task"], xray["label"], xray["ai_label"], xray["agreed"]) == (
        "chest_xray", "chest-xray", "bacterial", "bacterial", "true")
    assert (ct["label"], ct["ai_label"], ct["agreed"], ct["radiologist"]) == ("nodule-benign", "", "false", "rita")
    assert ct["files"].split(";") == [f"images/{signed.ct.id}/{i:04d}.dcm" for i in (1, 2, 3)]
    for phi in PHI:
        assert phi not in text
    # the stored (de-identified) files, byte for byte, under names free of the original ones
    for study in (signed.xray, signed.ct):
        row = by_study[str(study.id)]
        for path, stored in zip(row["files"].split(";"), study.files.all(), strict=False):
            with stored.file.open("rb") as handle:
                assert (out / path).read_bytes() == handle.read()
    names = [p.name for p in (out / "images").rglob("*")]
    assert not any(phi in name for name in names for phi in PHI)


def test_export_with_no_labels_writes_the_header(db, tmp_path):
    call_command("export_labels", str(tmp_path), stdout=io.StringIO())
    assert (tmp_path / "labels.csv").read_text().strip() == (
        "study_id,kind,task,label,ai_label,agreed,signed_at,radiologist,files")


def test_admin_exports_selected_labels_as_csv(signed):
    client = Client()
    client.force_login(user_create(username="root", password=PASSWORD, role=User.Role.ADMIN, superuser=True))
    label = Label.objects.get(study=signed.ct)
    changelist = reverse("admin:radiology_label_changelist")
    assert "Export selected labels as CSV" in client.get(changelist).content.decode()
    response = client.post(changelist, {"action": "export_csv", "_selected_action": [label.id]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["study_id"] for row in rows] == [str(signed.ct.id)]
    assert not any(phi in response.content.decode() for phi in PHI)
