"""The certification chain (SPEC §11): dated at completion, kept across a rule's re-enroll, carried into a new
enrollment from the archived Completed round, merged as the later date; a rule's archive has no human actor."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment, ArchiveJob, RetrainingRun
from archive.services import archive_batch, archive_enrollments, enroll_learner, merge_users
from archive.services.submission import start_frozen_archive_job
from enrollments.models import LearningPlanEnrollment, RetrainingRule, TrackingStatus, TrainingMaterial
from enrollments.retraining import save_rule
from enrollments.services import enroll_user, record_material_progress
from lms_admin.notifications.models import NotificationRule, OutboxMessage
from tests.factories import UserFactory, make_plan

pytestmark = pytest.mark.django_db


def complete(user, plan) -> None:
    for material in TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan):
        record_material_progress(user=user, material=material, status=TrackingStatus.COMPLETED)


@pytest.fixture
def ruled(superadmin):
    plan = make_plan()
    save_rule(learning_plan=plan, actor=superadmin, data={"valid_for_months": 12, "window_days": 30})
    return plan


def test_a_completion_on_a_plan_with_a_rule_is_dated(ruled):
    learner = UserFactory()
    enrollment = enroll_user(user=learner, learning_plan=ruled)
    complete(learner, ruled)
    enrollment.refresh_from_db()
    assert enrollment.status == 2
    assert enrollment.certified_until == enrollment.completed_at.date().replace(year=enrollment.completed_at.year + 1)


def test_a_rule_archives_with_no_human_actor_and_keeps_the_learner_certified(ruled, superadmin):
    learner = UserFactory()
    enrollment = enroll_user(user=learner, learning_plan=ruled)
    complete(learner, ruled)
    enrollment.refresh_from_db()
    until = enrollment.certified_until
    NotificationRule.objects.filter(event="retraining_started").update(enabled=True)
    rule = RetrainingRule.objects.get(learning_plan=ruled)
    run = RetrainingRun.objects.create(rule=rule, run_date=timezone.now().date(), pairs=[[enrollment.pk, 1]])
    job = start_frozen_archive_job(
        learning_plan=ruled,
        actor=superadmin,
        pairs=[(enrollment.pk, 1)],
        mode="reenroll",
        reset_tracking=True,
        trigger="rule",
        retraining_run=run,
    )
    [result] = archive_batch(
        [(enrollment.pk, 1)],
        actor=superadmin,
        mode="reenroll",
        reset_tracking=True,
        notify=True,
        job=ArchiveJob.objects.get(pk=job.pk),
    )

    snapshot = ArchivedPlanEnrollment.objects.get(pk=result.archive_id)
    assert (snapshot.archived_by_id, snapshot.archived_by_username) == (None, f"retraining rule #{rule.pk}")
    assert (snapshot.trigger, snapshot.certified_until) == ("rule", until)
    enrollment.refresh_from_db()
    assert (enrollment.round, enrollment.enrolled_by_id, enrollment.certified_until) == (2, None, until)
    assert OutboxMessage.objects.filter(event="retraining_started", recipient=learner).count() == 1


def test_an_admin_archive_is_manual_and_sends_no_retraining_notice(ruled, superadmin):
    learner = UserFactory()
    enrollment = enroll_user(user=learner, learning_plan=ruled)
    NotificationRule.objects.filter(event="retraining_started").update(enabled=True)
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert (snapshot.trigger, snapshot.archived_by_id) == ("manual", superadmin.pk)
    assert not OutboxMessage.objects.filter(event="retraining_started").exists()


def test_unenroll_and_enroll_again_does_not_break_the_chain(ruled, superadmin):
    learner = UserFactory()
    enrollment = enroll_user(user=learner, learning_plan=ruled)
    complete(learner, ruled)
    until = LearningPlanEnrollment.objects.get(pk=enrollment.pk).certified_until
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll", reset_tracking=True)
    assert not LearningPlanEnrollment.objects.filter(pk=enrollment.pk).exists()

    again = enroll_learner(user=learner, learning_plan=ruled, enrolled_by=superadmin)
    assert (again.status, again.certified_until) == (0, until)


def test_a_merge_keeps_the_later_certification_date(ruled, superadmin):
    kept, duplicate = UserFactory(), UserFactory()
    first = enroll_user(user=kept, learning_plan=ruled)
    second = enroll_user(user=duplicate, learning_plan=ruled)
    later = datetime.date(2031, 5, 1)
    LearningPlanEnrollment.objects.filter(pk=first.pk).update(certified_until=datetime.date(2029, 1, 1))
    LearningPlanEnrollment.objects.filter(pk=second.pk).update(certified_until=later)
    merge_users(kept=kept, merged=[duplicate], actor=superadmin)
    assert LearningPlanEnrollment.objects.get(user=kept, learning_plan=ruled).certified_until == later
