"""The invariant helper of the fault tests sees what a user would notice, and says so (SPEC §10)."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.storage import default_storage

from archive.models import ArchivedCourseEnrollment, ArchivedPlanEnrollment, ArchiveJob
from archive.services import archive_enrollments, run_job, start_archive_job
from enrollments.models import CourseEnrollment, LearningPlanEnrollment, MaterialTracking, TrainingMaterial
from lms_admin.notifications.models import NotificationRule, OutboxMessage
from tests.archive.invariants import assert_nothing_lost_or_duplicated
from tests.archive.test_jobs import enrolled_plan, notification_rules  # noqa: F401 - an autouse fixture

pytestmark = pytest.mark.django_db


def finished_job(actor, *, mode: str = "reenroll", reset_tracking: bool = False, count: int = 3) -> ArchiveJob:
    """A job over `count` learners (the first one completed, with a certificate) run to its end in this process."""
    plan, ids = enrolled_plan(count)
    job = start_archive_job(
        learning_plan=plan, actor=actor, mode=mode, reset_tracking=reset_tracking, enrollment_ids=ids
    )
    run_job(job.pk)
    return ArchiveJob.objects.get(pk=job.pk)


def completed_learners_snapshot(job: ArchiveJob) -> ArchivedPlanEnrollment:
    return ArchivedPlanEnrollment.objects.filter(job=job, plan_status=2).get()


def test_a_job_run_to_its_end_keeps_the_invariant_in_both_modes_with_and_without_reset(superadmin):
    jobs = [
        finished_job(superadmin, mode=mode, reset_tracking=reset)
        for mode in ("reenroll", "unenroll")
        for reset in (False, True)
    ]

    assert [job.counts for job in jobs] == [{"archived": 3}] * 4
    assert all(completed_learners_snapshot(job).certificate_id for job in jobs)
    assert assert_nothing_lost_or_duplicated(jobs) == "0 lost, 0 duplicated"


def delete_one_outbox_row(job: ArchiveJob) -> None:
    OutboxMessage.objects.filter(event="course_user_enrolled").first().delete()


def delete_one_course_snapshot(job: ArchiveJob) -> None:
    ArchivedCourseEnrollment.objects.filter(plan_archive__job=job).first().delete()


def report_an_archived_item_as_not_processed(job: ArchiveJob) -> None:
    job.items.filter(position=1).update(outcome="not_processed", archive_id=None)
    counts = dict(job.counts, archived=job.counts["archived"] - 1, not_processed=1)
    ArchiveJob.objects.filter(pk=job.pk).update(counts=counts)


def move_a_live_enrollment_on_a_round(job: ArchiveJob) -> None:
    LearningPlanEnrollment.objects.filter(pk=job.items.get(position=2).enrollment_id).update(round=3)


def delete_an_archived_certificate_file(job: ArchiveJob) -> None:
    default_storage.delete(completed_learners_snapshot(job).certificate.file.name)


def lose_the_kept_tracking(job: ArchiveJob) -> None:
    MaterialTracking.objects.filter(user_id=completed_learners_snapshot(job).user_id).delete()


def drop_a_re_enrolled_course_enrollment(job: ArchiveJob) -> None:
    CourseEnrollment.objects.filter(user_id=completed_learners_snapshot(job).user_id).first().delete()


def notify_superadmins_of_archives_now(job: ArchiveJob) -> None:
    # The rules no longer match the outbox rows written under the rules enabled at archive time.
    NotificationRule.objects.filter(event="lp_enrollment_archived").update(to_superadmins=True)


@pytest.mark.parametrize(
    ("corrupt", "reported"),
    [
        (delete_one_outbox_row, "lost notifications: 1 outbox rows missing"),
        (delete_one_course_snapshot, "1 course snapshots, not 2"),
        (report_an_archived_item_as_not_processed, "is reported archived by no outcome"),
        (move_a_live_enrollment_on_a_round, "is at round 3, not at the next round"),
        (delete_an_archived_certificate_file, "lost certificate"),
        (lose_the_kept_tracking, "the tracking of materials"),
        (drop_a_re_enrolled_course_enrollment, "was not re-enrolled with it"),
        (notify_superadmins_of_archives_now, "lost notifications: 3 outbox rows missing"),
    ],
)
def test_the_invariant_names_what_was_lost(superadmin, corrupt, reported):
    job = finished_job(superadmin)
    assert_nothing_lost_or_duplicated([job])

    corrupt(job)

    with pytest.raises(AssertionError, match=reported):
        assert_nothing_lost_or_duplicated([job])


def test_tracking_older_than_a_reset_archive_is_caught(superadmin):
    job = finished_job(superadmin, reset_tracking=True)
    snapshot = completed_learners_snapshot(job)
    material = TrainingMaterial.objects.filter(course__plan_links__learning_plan_id=snapshot.learning_plan_id).first()
    MaterialTracking.objects.create(user_id=snapshot.user_id, material=material, status="completed")
    MaterialTracking.objects.filter(user_id=snapshot.user_id).update(
        updated_at=snapshot.archived_at - datetime.timedelta(minutes=1)
    )

    with pytest.raises(AssertionError, match="survived the reset"):
        assert_nothing_lost_or_duplicated([job])


def test_a_second_report_of_one_snapshot_is_a_duplicate_and_an_unenrolled_course_left_behind_is_caught(superadmin):
    plan, ids = enrolled_plan(2, completed=0)
    outcome = archive_enrollments(enrollment_ids=ids[:1], actor=superadmin, mode="unenroll", notify=False)
    assert assert_nothing_lost_or_duplicated(outcomes=[outcome]) == "0 lost, 0 duplicated"

    with pytest.raises(AssertionError, match="reported archived 2 times"):
        assert_nothing_lost_or_duplicated(outcomes=[outcome, outcome])

    learner = ArchivedPlanEnrollment.objects.get().user
    CourseEnrollment.objects.create(user=learner, course=plan.courses.first())
    with pytest.raises(AssertionError, match="is still there"):
        assert_nothing_lost_or_duplicated(outcomes=[outcome])
