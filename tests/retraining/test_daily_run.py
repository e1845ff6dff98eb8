"""The daily run on real workers (SPEC §11): two workers reaching the run hour together make one run and archive
each round once; a worker SIGKILLed mid-run is finished by the others' reconciler — 0 lost, 0 duplicated."""

from __future__ import annotations

import datetime

import pytest

from archive.models import ArchivedPlanEnrollment, ArchiveJob, RetrainingRun
from archive.services.retraining import utc_today
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from tests.factories import enroll_in_bulk, make_plan
from tests.workers import kill_worker_tree, wait_for, worker_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The run hour already reached, and the periodic tick every second.
DAILY = {"RETRAINING_RUN_HOUR_UTC": "0", "ARCHIVE_RECONCILE_INTERVAL_SECONDS": "1", "ARCHIVE_JOB_LEASE_SECONDS": "3"}


def due_plan(superadmin, learners: int):
    plan = make_plan(title="Forklift licence")
    rule = RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"], saved_by=superadmin
    )
    enrollments = enroll_in_bulk(plan, learners, prefix="fork")
    LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in enrollments]).update(
        status=2,
        completed_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC),
        certified_until=utc_today() + datetime.timedelta(days=10),
    )
    return rule, enrollments


def assert_each_round_archived_once(rule, enrollments) -> None:
    assert RetrainingRun.objects.filter(rule=rule).count() == 1
    archived = list(ArchivedPlanEnrollment.objects.values_list("enrollment_id", "round"))
    assert sorted(archived) == sorted((e.pk, 1) for e in enrollments)
    assert set(LearningPlanEnrollment.objects.values_list("round", flat=True)) == {2}
    assert set(ArchivedPlanEnrollment.objects.values_list("trigger", flat=True)) == {"rule"}


def test_two_workers_at_the_run_hour_make_one_run_and_archive_each_round_once(superadmin, tmp_path):
    rule, enrollments = due_plan(superadmin, 12)
    with (
        worker_process(extra_env=DAILY, log_path=tmp_path / "a.log", clear_queues=True),
        worker_process(extra_env=DAILY, log_path=tmp_path / "b.log"),
    ):
        wait_for(
            lambda: RetrainingRun.objects.filter(rule=rule, status="completed").exists(),
            timeout=90,
            message="today's run did not complete",
        )
    run = RetrainingRun.objects.get(rule=rule)
    assert (run.selected, run.archived) == (12, 12)
    assert_each_round_archived_once(rule, enrollments)


def test_a_worker_killed_mid_run_is_finished_by_the_reconciler(superadmin, tmp_path, settings):
    rule, enrollments = due_plan(superadmin, 30)
    paused = {
        **DAILY,
        "ARCHIVE_BATCH_SIZE": "10",
        "ARCHIVE_TEST_PAUSE_AT": "after_batch:1",
        "ARCHIVE_TEST_PAUSE_DIR": str(tmp_path),
    }
    with worker_process(extra_env=paused, log_path=tmp_path / "a.log", clear_queues=True) as first:
        wait_for(lambda: (tmp_path / "reached-after_batch-1").exists(), timeout=90, message="no batch ran")
        kill_worker_tree(first)
    assert ArchivedPlanEnrollment.objects.count() == 10
    with worker_process(extra_env={**DAILY, "ARCHIVE_BATCH_SIZE": "10"}, log_path=tmp_path / "b.log"):
        wait_for(
            lambda: RetrainingRun.objects.filter(rule=rule, status="completed").exists(),
            timeout=120,
            message="the reconciler did not finish the run",
        )
    assert ArchiveJob.objects.get().counts == {"archived": 30}
    assert_each_round_archived_once(rule, enrollments)
