"""A database made by the earlier layout (one app, label `diagnosis`, migrations 0001-0003)
upgrades to the studies / radiology layout with its data: the radiology models keep their
rows and tables, and permissions given on them keep pointing at them."""
import datetime
import uuid

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from radiology.models import Addendum, Label, Nodule, Report
from studies.models import Study

EARLIER_LAYOUT = [("diagnosis", "0003_study_queue_state"), ("radiology", None)]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def fill_earlier_database(apps) -> dict:
    """Rows as the earlier layout wrote them, through its own (historical) models."""
    user = apps.get_model("accounts", "User").objects.create(username="rita", role="radiologist")
    study = apps.get_model("diagnosis", "Study").objects.create(
        id=uuid.uuid4(), owner=user, kind="ct", review="signed", language="en")
    report = apps.get_model("diagnosis", "Report").objects.create(
        study=study, radiologist=user, radiologist_name="Rita Rad", agree=False, corrected_class="nodule-benign",
        impression="A small nodule.", signed_at=datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC))
    apps.get_model("diagnosis", "Addendum").objects.create(report=report, author=user, author_name="Rita Rad",
                                                           text="Compared with the prior.")
    apps.get_model("diagnosis", "Label").objects.create(study=study, report=report, task="chest-ct",
                                                        value="nodule-benign", ai_value="normal", agreed=False)
    apps.get_model("diagnosis", "Nodule").objects.create(study=study, marked_by=user, z=3, y=40, x=41,
                                                         status="done", probability=0.2, threshold=0.5)
    content_types = apps.get_model("contenttypes", "ContentType")
    report_type, _ = content_types.objects.get_or_create(app_label="diagnosis", model="report")
    permission = apps.get_model("auth", "Permission").objects.create(
        name="Can audit signed reports", codename="audit_report", content_type=report_type)
    apps.get_model("auth", "Group").objects.create(name="auditors").permissions.add(permission)
    return {"study": study.id, "report_type": report_type.id}


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_earlier_layout_upgrades_with_its_data():
    executor = migrate(EARLIER_LAYOUT)
    earlier = executor.loader.project_state(EARLIER_LAYOUT[:1]).apps
    made = fill_earlier_database(earlier)

    executor = migrate(executor.loader.graph.leaf_nodes())
    fresh = MigrationExecutor(connection)
    assert not fresh.migration_plan(fresh.loader.graph.leaf_nodes())

    study = Study.objects.get(id=made["study"])
    report = Report.objects.get(study=study)
    assert (report.radiologist_name, report.corrected_class, report.impression) == (
        "Rita Rad", "nodule-benign", "A small nodule.")
    assert [a.text for a in Addendum.objects.filter(report=report)] == ["Compared with the prior."]
    assert Label.objects.get(study=study).value == "nodule-benign"
    nodule = Nodule.objects.get(study=study)
    assert (nodule.z, nodule.y, nodule.x, nodule.probability) == (3, 40, 41, 0.2)
    assert study.report == report and list(study.nodules.all()) == [nodule]
    assert Report._meta.db_table == "diagnosis_report"

    moved = ContentType.objects.get(id=made["report_type"])
    assert (moved.app_label, moved.model) == ("radiology", "report")
    assert ContentType.objects.get_for_model(Report) == moved
    assert Permission.objects.get(codename="audit_report").content_type == moved
    assert Group.objects.get(name="auditors").permissions.get().content_type == moved
