"""SPEC §4.3: what archiving one enrollment does, in both modes, with and without a tracking reset."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from archive.jobs import render_archived_certificates
from archive.models import ArchivedCourseEnrollment, ArchivedPlanEnrollment
from archive.services import archive_enrollments, check_shared_courses
from enrollments.models import (
    CourseEnrollment,
    EnrollmentStatus,
    IssuedCertificate,
    LearningPlanEnrollment,
    MaterialTracking,
    TrackingStatus,
    TrainingMaterial,
)
from enrollments.services import complete_course_enrollment, enroll_user, record_material_progress, validity_for
from lms_admin.audit.models import AuditEvent
from tests.factories import (
    CourseFactory,
    LearningPlanFactory,
    TrainingMaterialFactory,
    UserFactory,
    add_course,
    make_plan,
)

pytestmark = pytest.mark.django_db


def complete(user, materials) -> None:
    for material in materials:
        record_material_progress(user=user, material=material, status=TrackingStatus.COMPLETED)


def plan_materials(plan) -> list[TrainingMaterial]:
    return list(
        TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).order_by("course_id", "position")
    )


def give_certificate_file(user, plan, content: bytes) -> IssuedCertificate:
    """The live certificate with a PDF file (bytes written directly: rendering is not what is tested)."""
    certificate = IssuedCertificate.objects.get(user=user, learning_plan=plan)
    certificate.file.save(f"certificate-{user.pk}.pdf", ContentFile(content), save=True)
    return certificate


def left_to_do(user, plan) -> set[int]:
    done = set(
        MaterialTracking.objects.filter(user=user, status=TrackingStatus.COMPLETED).values_list(
            "material_id", flat=True
        )
    )
    return {m.pk for m in plan_materials(plan)} - done


@pytest.fixture
def plan():
    return make_plan(courses=2, materials_per_course=2, template=True, title="Forklift safety", validity_days=365)


@pytest.fixture
def enrollment(plan, learner, superadmin):
    return enroll_user(user=learner, learning_plan=plan, enrolled_by=superadmin)


def test_reenroll_keeping_tracking_freezes_a_snapshot_and_starts_round_two(plan, learner, superadmin, enrollment):
    first = plan_materials(plan)[0]
    complete(learner, [first])
    record_material_progress(user=learner, material=plan_materials(plan)[2], status=TrackingStatus.IN_PROGRESS)

    outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    assert outcome.counts == {"archived": 1}
    assert outcome.summary() == "1 enrollment archived"
    (item,) = outcome.items
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert item == (enrollment.pk, "archived", snapshot.pk, item.message)
    assert (snapshot.enrollment_id, snapshot.round, snapshot.mode) == (enrollment.pk, 1, "reenroll")
    assert snapshot.user == learner and snapshot.learning_plan == plan
    assert snapshot.user_username == "learner" and snapshot.user_display_name == learner.display_name
    assert snapshot.user_status == "active" and snapshot.user_active and not snapshot.user_suspended
    assert snapshot.plan_title == "Forklift safety" and snapshot.plan_status == EnrollmentStatus.IN_PROGRESS
    assert snapshot.plan_course_list == ", ".join(
        plan.plan_courses.order_by("position").values_list("course__title", flat=True)
    )
    assert snapshot.plan_validity_days == 365 and str(snapshot.plan_credits) == "2.50"
    assert snapshot.enrollment_status == "active" and snapshot.enrolled_by_username == superadmin.username
    assert snapshot.archived_by == superadmin and snapshot.archived_by_username == superadmin.username

    courses = list(ArchivedCourseEnrollment.objects.filter(plan_archive=snapshot).order_by("position"))
    assert [c.course_title for c in courses] == snapshot.plan_course_list.split(", ")
    assert [(c.status, c.materials_completed, c.materials_total) for c in courses] == [(1, 1, 2), (1, 0, 2)]
    assert [entry[:2] for entry in courses[0].tracking] == [
        [first.pk, "completed"],
        [plan_materials(plan)[1].pk, "not_attempted"],
    ]
    assert courses[1].tracking[0][1] == "in_progress"

    live = LearningPlanEnrollment.objects.get()
    assert live.pk == enrollment.pk and live.round == 2
    assert live.enrolled_by == superadmin and live.enrolled_at > enrollment.enrolled_at
    assert live.status == EnrollmentStatus.IN_PROGRESS  # tracking kept: the learner goes on where they were
    assert MaterialTracking.objects.filter(user=learner).count() == 2
    assert set(CourseEnrollment.objects.values_list("enrolled_by", flat=True)) == {superadmin.pk}
    plan.refresh_from_db()
    assert plan.archived_count == 1
    event = AuditEvent.objects.get(action="archive")
    assert (event.object_type, event.object_id, event.actor) == ("archived_plan_enrollment", snapshot.pk, superadmin)


def test_reenroll_recomputes_validity_from_the_plan(learner, superadmin):
    start = (timezone.now() + datetime.timedelta(days=10)).date()
    plan = make_plan(courses=1, validity_days=30, start_date=start)
    enrollment = enroll_user(user=learner, learning_plan=plan)

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    live = LearningPlanEnrollment.objects.get()
    assert (live.validity_start, live.validity_end) == validity_for(plan, live.enrolled_at)
    assert ArchivedPlanEnrollment.objects.get().enrollment_status == "not_yet_valid"


def test_an_enrollment_past_its_validity_is_frozen_as_expired(plan, learner, superadmin, enrollment):
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(
        validity_end=timezone.now() - datetime.timedelta(days=1)
    )
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")
    assert ArchivedPlanEnrollment.objects.get().enrollment_status == "expired"


def test_reenroll_with_reset_deletes_tracking_and_manual_completions(learner, superadmin):
    plan = make_plan(courses=1, materials_per_course=2)
    no_material = CourseFactory(title="Briefing")
    add_course(plan, no_material)
    enrollment = enroll_user(user=learner, learning_plan=plan)
    complete(learner, plan_materials(plan))
    complete_course_enrollment(course_enrollment=CourseEnrollment.objects.get(user=learner, course=no_material))
    assert LearningPlanEnrollment.objects.get().status == EnrollmentStatus.COMPLETED

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", reset_tracking=True)

    assert not MaterialTracking.objects.filter(user=learner).exists()
    assert list(CourseEnrollment.objects.values_list("status", "manually_completed_at", "completed_at")) == [
        (0, None, None),
        (0, None, None),
    ]
    live = LearningPlanEnrollment.objects.get()
    assert (live.round, live.status, live.completed_at) == (2, EnrollmentStatus.ENROLLED, None)
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert snapshot.plan_status == EnrollmentStatus.COMPLETED and snapshot.reset_tracking is True
    assert snapshot.course_enrollments.filter(materials_completed=2).count() == 1


def test_a_course_without_material_is_archived_with_an_empty_tracking(learner, superadmin):
    plan = make_plan(courses=0)
    add_course(plan, CourseFactory(title="Kick-off"))
    enrollment = enroll_user(user=learner, learning_plan=plan)
    complete_course_enrollment(course_enrollment=CourseEnrollment.objects.get(user=learner))

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    course = ArchivedCourseEnrollment.objects.get()
    assert (course.course_title, course.status, course.materials_total, course.tracking) == ("Kick-off", 2, 0, [])
    # Kept tracking includes the manual completion: nothing left to do, Completed again at once.
    assert LearningPlanEnrollment.objects.get().status == EnrollmentStatus.COMPLETED


def test_keep_tracking_reenroll_leaves_exactly_the_material_added_since(
    plan, learner, superadmin, enrollment, django_capture_on_commit_callbacks
):
    complete(learner, plan_materials(plan))  # the certificate is issued; its PDF is not rendered yet
    issued = IssuedCertificate.objects.get()
    added = TrainingMaterialFactory(course=plan.plan_courses.first().course, position=9, title="New regulation")

    with django_capture_on_commit_callbacks() as callbacks:
        archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", notify=False)

    assert left_to_do(learner, plan) == {added.pk}
    live = LearningPlanEnrollment.objects.get()
    assert (live.status, live.completed_at) == (EnrollmentStatus.IN_PROGRESS, None)
    assert not IssuedCertificate.objects.exists()  # the previous round's certificate left the live data
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert snapshot.certificate_assigned_at == issued.issued_at
    assert (snapshot.certificate, snapshot.certificate_pending) == (None, True)
    assert snapshot.certificate_pending_template_number == plan.certificate_template_id
    assert callbacks, "its rendering is asked for once the archive is committed"

    # The certificates queue's job, run here: the PDF from the frozen data, in the archive store.
    assert render_archived_certificates([snapshot.pk]) == 1
    snapshot.refresh_from_db()
    with snapshot.certificate.file.open("rb") as handle:
        content = handle.read()
    assert not snapshot.certificate_pending
    assert snapshot.certificate_sha256 == snapshot.certificate.sha256 == hashlib.sha256(content).hexdigest()
    assert content.startswith(b"%PDF")
    assert not IssuedCertificate.objects.exists()  # the live row does not come back


def test_keep_tracking_reenroll_with_nothing_left_completes_at_once_with_a_new_certificate(
    plan, learner, superadmin, enrollment
):
    complete(learner, plan_materials(plan))
    old = give_certificate_file(learner, plan, b"%PDF-1.4 round one")
    now = timezone.now() + datetime.timedelta(minutes=5)

    from archive.services import archive_batch

    archive_batch([(enrollment.pk, 1)], actor=superadmin, mode="reenroll", reset_tracking=False, notify=False, now=now)

    live = LearningPlanEnrollment.objects.get()
    assert (live.round, live.status, live.completed_at) == (2, EnrollmentStatus.COMPLETED, now)
    new = IssuedCertificate.objects.get(user=learner, learning_plan=plan)
    assert new.pk != old.pk and new.issued_at == now
    assert not new.file  # rendered after commit by the worker, never inside the batch
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert snapshot.certificate_assigned_at == old.issued_at
    assert snapshot.certificate.sha256 == hashlib.sha256(b"%PDF-1.4 round one").hexdigest()
    with snapshot.certificate.file.open("rb") as handle:
        assert handle.read() == b"%PDF-1.4 round one"


def test_reenroll_enqueues_the_new_certificate_rendering_after_commit(
    plan, learner, superadmin, enrollment, django_capture_on_commit_callbacks
):
    complete(learner, plan_materials(plan))
    with django_capture_on_commit_callbacks() as callbacks:
        archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", notify=False)
    assert callbacks, "the certificate rendering is scheduled for after the commit"
    assert not IssuedCertificate.objects.get().file


def test_unenroll_keeps_tracking_so_a_later_enrollment_resumes(plan, learner, superadmin, enrollment):
    materials = plan_materials(plan)
    complete(learner, materials[:3])

    outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")

    assert outcome.counts == {"archived": 1}
    assert not LearningPlanEnrollment.objects.exists() and not CourseEnrollment.objects.exists()
    assert MaterialTracking.objects.filter(user=learner).count() == 3
    again = enroll_user(user=learner, learning_plan=plan)
    assert again.status == EnrollmentStatus.IN_PROGRESS and again.round == 1
    assert left_to_do(learner, plan) == {materials[3].pk}


def test_unenroll_with_reset_deletes_tracking_and_the_live_certificate(plan, learner, superadmin, enrollment):
    complete(learner, plan_materials(plan))
    give_certificate_file(learner, plan, b"%PDF-1.4 unenrolled")

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll", reset_tracking=True)

    assert not MaterialTracking.objects.exists() and not IssuedCertificate.objects.exists()
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert (snapshot.mode, snapshot.plan_status, snapshot.course_enrollments.count()) == ("unenroll", 2, 2)
    assert snapshot.certificate is not None


@pytest.fixture
def shared_setup(learner):
    """Plan A shares its course "Hazards" with plans B (Completed by the learner) and C (in progress)."""
    plan_a = make_plan(courses=1, materials_per_course=1, title="Plan A")
    hazards = CourseFactory(title="Hazards")
    TrainingMaterialFactory(course=hazards)
    add_course(plan_a, hazards)
    plan_b = LearningPlanFactory(title="Plan B")
    add_course(plan_b, hazards)
    plan_c = make_plan(courses=1, materials_per_course=1, title="Plan C")
    add_course(plan_c, hazards)
    enrollments = [enroll_user(user=learner, learning_plan=plan) for plan in (plan_a, plan_b, plan_c)]
    complete(learner, hazards.materials.all())
    return plan_a, plan_b, plan_c, hazards, enrollments


def test_unenroll_is_refused_when_a_course_is_shared_with_another_plan(shared_setup, superadmin, learner):
    plan_a, plan_b, plan_c, hazards, (enrollment, *_) = shared_setup

    outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")

    assert outcome.counts == {"skipped_shared_course": 1}
    message = outcome.items[0].message
    assert message == 'Unenroll is not possible: course "Hazards" is also in learning plans "Plan B", "Plan C".'
    assert not ArchivedPlanEnrollment.objects.exists()
    assert LearningPlanEnrollment.objects.filter(pk=enrollment.pk, round=1).exists()
    assert CourseEnrollment.objects.filter(user=learner).count() == 3
    assert not AuditEvent.objects.filter(action="archive").exists()
    assert [(c.title, [p.title for p in plans]) for c, plans in check_shared_courses(plan_a)] == [
        ("Hazards", ["Plan B", "Plan C"])
    ]


def test_reenroll_with_reset_of_a_shared_course_leaves_the_other_plans_completed_enrollment_completed(
    shared_setup, superadmin, learner
):
    plan_a, plan_b, plan_c, hazards, (enrollment_a, enrollment_b, enrollment_c) = shared_setup
    enrollment_b.refresh_from_db()
    enrollment_c.refresh_from_db()
    assert (enrollment_b.status, enrollment_c.status) == (EnrollmentStatus.COMPLETED, EnrollmentStatus.IN_PROGRESS)

    outcome = archive_enrollments(
        enrollment_ids=[enrollment_a.pk], actor=superadmin, mode="reenroll", reset_tracking=True
    )

    assert outcome.counts == {"archived": 1}
    enrollment_b.refresh_from_db()
    enrollment_c.refresh_from_db()
    assert enrollment_b.status == EnrollmentStatus.COMPLETED  # sticky
    assert enrollment_c.status == EnrollmentStatus.ENROLLED  # recomputed: nothing of plan C is done any more
    assert CourseEnrollment.objects.get(user=learner, course=hazards).status == EnrollmentStatus.ENROLLED


def test_a_second_archive_is_round_two_with_a_second_snapshot(plan, learner, superadmin, enrollment):
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    complete(learner, plan_materials(plan))
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    snapshots = list(
        ArchivedPlanEnrollment.objects.order_by("round").values_list("enrollment_id", "round", "plan_status")
    )
    assert snapshots == [(enrollment.pk, 1, 0), (enrollment.pk, 2, 2)]
    assert LearningPlanEnrollment.objects.get().round == 3
    plan.refresh_from_db()
    assert plan.archived_count == 2


def test_a_power_user_may_not_archive_and_nothing_is_written(enrollment, power_user):
    with pytest.raises(PermissionDenied):
        archive_enrollments(enrollment_ids=[enrollment.pk], actor=power_user, mode="reenroll")
    assert not ArchivedPlanEnrollment.objects.exists()
    assert LearningPlanEnrollment.objects.get().round == 1


def test_a_bad_mode_is_refused_and_nothing_is_written(enrollment, superadmin):
    with pytest.raises(ValidationError) as error:
        archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="delete")
    assert error.value.code == "invalid_mode"
    assert not ArchivedPlanEnrollment.objects.exists()


def test_unknown_ids_are_not_found_next_to_archived_ones(enrollment, superadmin):
    outcome = archive_enrollments(enrollment_ids=[987654, enrollment.pk], actor=superadmin, mode="reenroll")

    assert [(item.enrollment_id, item.outcome, item.archive_id) for item in outcome.items] == [
        (987654, "not_found", None),
        (enrollment.pk, "archived", ArchivedPlanEnrollment.objects.get().pk),
    ]
    assert outcome.summary() == "1 enrollment archived, 1 not found"


def test_unenrolling_the_same_enrollment_again_reports_it_already_archived(enrollment, superadmin):
    first = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")
    again = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")

    assert again.items[0][:3] == (enrollment.pk, "skipped_already_archived", first.items[0].archive_id)
    assert ArchivedPlanEnrollment.objects.count() == 1


def test_a_batch_of_several_plans_and_learners_writes_one_audit_event(superadmin):
    plans = [make_plan(courses=2, materials_per_course=1) for _ in range(2)]
    users = [UserFactory() for _ in range(3)]
    ids = [enroll_user(user=u, learning_plan=p).pk for u in users for p in plans]

    outcome = archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll", reset_tracking=True)

    assert outcome.counts == {"archived": 6}
    assert ArchivedCourseEnrollment.objects.count() == 12
    event = AuditEvent.objects.get(action="archive")
    assert sorted(event.details["enrollment_ids"]) == sorted(ids) and event.details["archived"] == 6
