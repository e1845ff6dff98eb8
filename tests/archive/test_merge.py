"""Merging users (SPEC §4.9): learning data moves, conflicts resolve by progress, archives stay put."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from archive.services import merge_users, preview_merge
from enrollments.models import (
    CourseEnrollment,
    EnrollmentStatus,
    IssuedCertificate,
    LearningPlanEnrollment,
    MaterialTracking,
    TrackingStatus,
)
from enrollments.services import enroll_user, record_material_progress
from lms_admin.accounts.models import ManagerLink
from lms_admin.audit.models import AuditEvent
from tests.factories import ManagerLinkFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db


def materials(plan):
    return [m for pc in plan.plan_courses.select_related("course") for m in pc.course.materials.all()]


def complete_plan(user, plan):
    for material in materials(plan):
        record_material_progress(user=user, material=material, status=TrackingStatus.COMPLETED)


@pytest.fixture
def kept():
    return UserFactory(username="kept")


@pytest.fixture
def other():
    return UserFactory(username="other")


def test_enrollments_tracking_certificates_and_links_move_to_the_kept_user(superadmin, kept, other):
    plan = make_plan(courses=2, materials_per_course=1, template=True)
    enroll_user(user=other, learning_plan=plan)
    complete_plan(other, plan)
    boss = UserFactory(username="boss")
    ManagerLinkFactory(manager=boss, employee=other)
    report = UserFactory(username="report")
    ManagerLinkFactory(manager=other, employee=report)

    merge_users(kept=kept, merged=[other], actor=superadmin)

    enrollment = LearningPlanEnrollment.objects.get(learning_plan=plan)
    assert enrollment.user == kept
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert CourseEnrollment.objects.filter(user=kept).count() == 2
    assert MaterialTracking.objects.filter(user=kept, status="completed").count() == 2
    assert IssuedCertificate.objects.get(learning_plan=plan).user == kept
    assert ManagerLink.objects.filter(manager=boss, employee=kept).exists()
    assert ManagerLink.objects.filter(manager=kept, employee=report).exists()
    # The former manager keeps the link to the merged user: their archived records stay visible.
    assert ManagerLink.objects.filter(manager=boss, employee=other).exists()
    assert not ManagerLink.objects.filter(manager=other).exists()


def test_merged_users_are_deactivated_marked_and_audited(superadmin, kept, other):
    merge_users(kept=kept, merged=[other], actor=superadmin)
    other.refresh_from_db()
    assert other.is_active is False
    assert other.merged_into == kept
    event = AuditEvent.objects.get(action="user.merge")
    assert event.details["merged"] == ["other"]
    assert event.actor == superadmin


@pytest.mark.parametrize(
    ("kept_progress", "merged_progress", "winner"),
    [
        ("enrolled", "completed", "merged"),
        ("completed", "in_progress", "kept"),
        ("in_progress", "in_progress", "kept"),
        ("enrolled", "in_progress", "merged"),
    ],
)
def test_plan_conflict_keeps_the_row_further_along(superadmin, kept, other, kept_progress, merged_progress, winner):
    plan = make_plan(courses=1, materials_per_course=2)
    people = {"kept": kept, "merged": other}
    for who, progress in (("kept", kept_progress), ("merged", merged_progress)):
        enroll_user(user=people[who], learning_plan=plan)
        mats = materials(plan)
        if progress == "in_progress":
            record_material_progress(user=people[who], material=mats[0], status=TrackingStatus.IN_PROGRESS)
        elif progress == "completed":
            complete_plan(people[who], plan)
    expected_id = LearningPlanEnrollment.objects.get(user=people[winner], learning_plan=plan).pk

    merge_users(kept=kept, merged=[other], actor=superadmin)

    remaining = LearningPlanEnrollment.objects.get(learning_plan=plan)
    assert remaining.pk == expected_id
    assert remaining.user == kept
    assert CourseEnrollment.objects.filter(course__plan_links__learning_plan=plan).count() == 1


def test_tracking_conflict_completed_beats_in_progress_beats_not_attempted(superadmin, kept, other):
    plan = make_plan(courses=1, materials_per_course=3)
    first, second, third = materials(plan)
    record_material_progress(user=kept, material=first, status=TrackingStatus.IN_PROGRESS)
    record_material_progress(user=other, material=first, status=TrackingStatus.COMPLETED)
    record_material_progress(user=kept, material=second, status=TrackingStatus.IN_PROGRESS)
    record_material_progress(user=other, material=second, status=TrackingStatus.NOT_ATTEMPTED)
    record_material_progress(user=other, material=third, status=TrackingStatus.IN_PROGRESS)

    preview = preview_merge(kept=kept, merged=[other])
    tracking = next(t for t in preview.tables if t.label == "Training material tracking")
    assert (tracking.moving, tracking.conflicts, tracking.kept_wins, tracking.merged_wins) == (1, 2, 1, 1)

    merge_users(kept=kept, merged=[other], actor=superadmin)

    statuses = dict(MaterialTracking.objects.filter(user=kept).values_list("material_id", "status"))
    assert statuses == {first.pk: "completed", second.pk: "in_progress", third.pk: "in_progress"}
    assert not MaterialTracking.objects.filter(user=other).exists()


def test_losing_certificate_is_dropped_and_the_winner_keeps_its_own(superadmin, kept, other):
    plan = make_plan(courses=1, materials_per_course=1, template=True)
    enroll_user(user=kept, learning_plan=plan)
    complete_plan(kept, plan)
    enroll_user(user=other, learning_plan=plan)
    complete_plan(other, plan)
    kept_certificate = IssuedCertificate.objects.get(user=kept)

    merge_users(kept=kept, merged=[other], actor=superadmin)

    assert list(IssuedCertificate.objects.filter(learning_plan=plan)) == [kept_certificate]


def test_preview_changes_nothing_and_merge_rejects_bad_input(superadmin, kept, other, power_user):
    plan = make_plan(courses=1, materials_per_course=1)
    enroll_user(user=other, learning_plan=plan)
    preview_merge(kept=kept, merged=[other])
    assert LearningPlanEnrollment.objects.get().user == other
    with pytest.raises(ValidationError):
        merge_users(kept=kept, merged=[kept], actor=superadmin)
    with pytest.raises(ValidationError):
        merge_users(kept=kept, merged=[], actor=superadmin)
    with pytest.raises(PermissionDenied):
        merge_users(kept=kept, merged=[other], actor=power_user)
    assert LearningPlanEnrollment.objects.get().user == other
    other.refresh_from_db()
    assert other.is_active
