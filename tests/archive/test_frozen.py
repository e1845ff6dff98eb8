"""SPEC §4.4: nothing in an archived record changes after archiving, whatever happens to the live data."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.forms.models import model_to_dict

from archive.models import ArchivedCertificate, ArchivedPlanEnrollment
from archive.services import archive_enrollments, storage
from enrollments.models import Course, IssuedCertificate
from enrollments.services import enroll_user
from tests.archive.test_engine import complete, give_certificate_file, plan_materials
from tests.factories import make_plan

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 frozen certificate of the learner"


@pytest.fixture
def archived(learner, superadmin):
    """A completed enrollment with a certificate file, archived and re-enrolled; returns (snapshot, frozen state)."""
    plan = make_plan(courses=3, materials_per_course=2, template=True, title="Hazmat")
    enrollment = enroll_user(user=learner, learning_plan=plan, enrolled_by=superadmin)
    complete(learner, plan_materials(plan))
    give_certificate_file(learner, plan, PDF)
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", notify=False)
    snapshot = ArchivedPlanEnrollment.objects.get()
    return snapshot, frozen_state(snapshot)


def frozen_state(snapshot: ArchivedPlanEnrollment) -> dict:
    """Every stored value of the record, its course snapshots and its certificate bytes."""
    snapshot = ArchivedPlanEnrollment.objects.get(pk=snapshot.pk)
    copies = model_to_dict(snapshot, exclude=["user", "learning_plan", "archived_by", "enrolled_by", "job"])
    courses = [
        {k: v for k, v in model_to_dict(c).items() if k != "course"}
        for c in snapshot.course_enrollments.order_by("position")
    ]
    with default_storage.open(snapshot.certificate.file.name, "rb") as handle:
        content = handle.read()
    return {"record": copies, "courses": courses, "certificate": content}


def assert_unchanged(snapshot, before) -> None:
    after = frozen_state(snapshot)
    assert after == before
    assert after["certificate"] == PDF
    certificate = ArchivedPlanEnrollment.objects.get(pk=snapshot.pk).certificate
    assert certificate.sha256 == hashlib.sha256(PDF).hexdigest() == after["record"]["certificate_sha256"]
    assert storage.verify(certificate)


def test_the_snapshot_holds_the_values_of_archive_time(archived, learner):
    snapshot, before = archived
    assert before["record"]["plan_title"] == "Hazmat"
    assert before["record"]["user_username"] == learner.username
    assert len(before["courses"]) == 3 and all(c["status"] == 2 for c in before["courses"])
    assert ArchivedCertificate.objects.get().file.name == storage.path_for(hashlib.sha256(PDF).hexdigest())


def test_renaming_the_plan_changes_nothing(archived):
    snapshot, before = archived
    plan = snapshot.learning_plan
    plan.title, plan.code, plan.validity_days = "Renamed", "NEW", 7
    plan.save()
    assert_unchanged(snapshot, before)


def test_editing_the_user_changes_nothing(archived, learner):
    snapshot, before = archived
    learner.first_name, learner.last_name, learner.username, learner.is_active = "Other", "Name", "renamed", False
    learner.save()
    assert_unchanged(snapshot, before)


def test_deleting_a_course_changes_nothing(archived):
    snapshot, before = archived
    Course.objects.filter(pk=before["courses"][0]["course_number"]).delete()
    assert_unchanged(snapshot, before)


def test_deleting_the_live_certificate_and_its_file_changes_nothing(archived, learner):
    snapshot, before = archived
    # The re-enrolled learner completed again at once: give the new live certificate a file, then remove both.
    live = give_certificate_file(learner, snapshot.learning_plan, b"%PDF-1.4 round two")
    live.file.delete(save=False)
    IssuedCertificate.objects.all().delete()
    assert_unchanged(snapshot, before)


def test_deleting_the_plan_changes_nothing_but_the_live_reference(archived):
    snapshot, before = archived
    snapshot.learning_plan.delete()
    assert_unchanged(snapshot, before)
    assert ArchivedPlanEnrollment.objects.get(pk=snapshot.pk).learning_plan is None


def test_deleting_the_user_changes_nothing_but_the_live_reference(archived, learner):
    snapshot, before = archived
    learner.delete()
    assert_unchanged(snapshot, before)
    assert ArchivedPlanEnrollment.objects.get(pk=snapshot.pk).user is None


def test_two_archives_of_the_same_certificate_content_share_one_stored_file(superadmin):
    plan = make_plan(courses=1, materials_per_course=1, template=True)
    from tests.factories import UserFactory

    ids = []
    for _ in range(2):
        user = UserFactory()
        ids.append(enroll_user(user=user, learning_plan=plan).pk)
        complete(user, plan_materials(plan))
        give_certificate_file(user, plan, PDF)

    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="unenroll", notify=False)

    assert ArchivedCertificate.objects.count() == 1
    assert set(ArchivedPlanEnrollment.objects.values_list("certificate", flat=True)) == {
        ArchivedCertificate.objects.get().pk
    }
