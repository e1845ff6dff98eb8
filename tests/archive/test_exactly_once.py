"""SPEC §4.5: double submits and races archive an enrollment exactly once; re-running a batch writes nothing twice."""

from __future__ import annotations

import importlib
import threading
import time

import pytest
from django.db import connection, transaction

from archive.models import ArchivedCourseEnrollment, ArchivedPlanEnrollment, ArchiveJob
from archive.services import archive_batch, archive_enrollments
from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.audit.models import AuditEvent
from lms_admin.notifications.models import NotificationRule, OutboxMessage
from tests.archive.test_engine import complete, plan_materials
from tests.factories import make_plan


def default_rules() -> None:
    """Transactional tests flush the tables, the data migration's rules included: put them back."""
    rules = importlib.import_module("lms_admin.notifications.migrations.0002_default_rules").DEFAULT_RULES
    for event, (subject, body) in rules.items():
        NotificationRule.objects.get_or_create(
            event=event, defaults={"subject_template": subject, "body_template": body}
        )


def archive_concurrently(enrollment_id: int, actor, mode: str) -> list[str]:
    """Two archives of the same enrollment, each on its own thread and connection, released together.

    The row is held locked meanwhile, so both read the round before either can lock it (a true double
    submit); the lock is released once both wait for it.
    """
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def submit() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(archive_enrollments(enrollment_ids=[enrollment_id], actor=actor, mode=mode))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    with transaction.atomic():
        LearningPlanEnrollment.objects.select_for_update().get(pk=enrollment_id)
        for thread in threads:
            thread.start()
        wait_until(lambda: waiting_for_locks() == 2, timeout=30)
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    return sorted(outcome.items[0].outcome for outcome in outcomes)


def waiting_for_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # statistics are cached for the whole transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["reenroll", "unenroll"])
def test_two_concurrent_archives_of_one_enrollment_archive_it_once(superadmin, learner, mode):
    default_rules()
    plan = make_plan(courses=2, materials_per_course=2)
    enrollment = enroll_user(user=learner, learning_plan=plan)
    complete(learner, plan_materials(plan)[:1])

    outcomes = archive_concurrently(enrollment.pk, superadmin, mode)

    assert outcomes == ["archived", "skipped_already_archived"]
    assert list(ArchivedPlanEnrollment.objects.values_list("enrollment_id", "round")) == [(enrollment.pk, 1)]
    assert ArchivedCourseEnrollment.objects.count() == 2
    assert OutboxMessage.objects.filter(event="lp_enrollment_archived").count() == 1
    if mode == "reenroll":
        assert LearningPlanEnrollment.objects.get().round == 2
    plan.refresh_from_db()
    assert plan.archived_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["reenroll", "unenroll"])
def test_rerunning_a_committed_batch_of_a_job_writes_nothing_twice_and_reports_archived(superadmin, mode):
    plan = make_plan(courses=2, materials_per_course=1)
    from tests.factories import UserFactory

    pairs = [(enroll_user(user=UserFactory(), learning_plan=plan).pk, 1) for _ in range(3)]
    job = ArchiveJob.objects.create(learning_plan=plan, mode=mode, total=3, requested_by=superadmin)
    options = {"actor": superadmin, "mode": mode, "reset_tracking": True, "notify": True, "job": job}

    first = archive_batch(pairs, **options)
    written = (ArchivedPlanEnrollment.objects.count(), ArchivedCourseEnrollment.objects.count())
    outbox, audit = OutboxMessage.objects.count(), AuditEvent.objects.count()
    again = archive_batch(pairs, **options)

    assert [r.outcome for r in first] == ["archived"] * 3
    assert again == first  # same outcomes, same archive ids, in input order
    assert (ArchivedPlanEnrollment.objects.count(), ArchivedCourseEnrollment.objects.count()) == written == (3, 6)
    assert (OutboxMessage.objects.count(), AuditEvent.objects.count()) == (outbox, audit)
    plan.refresh_from_db()
    assert plan.archived_count == 3
    assert set(ArchivedPlanEnrollment.objects.values_list("job", flat=True)) == {job.pk}


@pytest.mark.django_db
def test_a_double_submit_without_a_job_reports_the_second_as_already_archived(superadmin, learner):
    plan = make_plan(courses=1)
    enrollment = enroll_user(user=learner, learning_plan=plan)
    frozen = [(enrollment.pk, 1)]  # both submits read round 1 before either locked the row

    first = archive_batch(frozen, actor=superadmin, mode="reenroll", reset_tracking=False, notify=False)
    second = archive_batch(frozen, actor=superadmin, mode="reenroll", reset_tracking=False, notify=False)

    assert [r.outcome for r in first + second] == ["archived", "skipped_already_archived"]
    assert second[0].archive_id == first[0].archive_id
    assert ArchivedPlanEnrollment.objects.count() == 1 and LearningPlanEnrollment.objects.get().round == 2
