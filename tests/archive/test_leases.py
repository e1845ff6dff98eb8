"""Jobs that never contradict themselves (SPEC §4.10): the lease held through retries and while a batch writes,
outcomes that agree with committed snapshots, and a job whose requester lost the role. Real workers, real pauses
(lms_admin/pause.py), a real blocked lock and a real terminated backend; no sleeps.
"""

from __future__ import annotations

import django_rq
import psycopg
import pytest
from django.db import connection
from django.db.models.functions import Now
from rq.job import Job

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from archive.services import start_archive_job
from enrollments.models import LearningPlanEnrollment
from lms_admin.accounts.models import Level, User
from lms_admin.audit.models import AuditEvent
from tests.archive.invariants import assert_nothing_lost_or_duplicated
from tests.archive.test_jobs import (  # noqa: F401 - empty_job_queues and notification_rules are autouse fixtures
    empty_job_queues,
    enrolled_plan,
    job_env,
    job_worker,
    notification_rules,
    release,
    wait_for_pause,
    wait_until_finished,
)
from tests.workers import kill_worker_tree, lock_waiters, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SHORT_LEASE = {"ARCHIVE_JOB_LEASE_SECONDS": 2}
# A worker that hands over jobs whose lease expired within a second or two (its own lease is the default minute).
TAKER = {"ARCHIVE_RECONCILE_INTERVAL_SECONDS": 1, "ARCHIVE_RECONCILE_GRACE_SECONDS": 1}


def lease_expired(job: ArchiveJob) -> bool:
    return ArchiveJob.objects.filter(pk=job.pk, lease_expires_at__lt=Now()).exists()


def archived_ids(ids: list[int]) -> list[int]:
    return sorted(ArchivedPlanEnrollment.objects.filter(enrollment_id__in=ids).values_list("enrollment_id", flat=True))


def rq_job_status(rq_job_id: str) -> str:
    return Job.fetch(rq_job_id, connection=django_rq.get_connection("archive")).get_status(refresh=True)


def test_a_worker_whose_lease_was_taken_over_while_it_paused_writes_nothing_more_and_stops(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    first_env = job_env(tmp_path, pause_at="before_batch:2", **SHORT_LEASE)
    with job_worker(tmp_path, "first", extra_env=first_env) as first:
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "before_batch:2")
        first_run = ArchiveJob.objects.get(pk=job.pk)
        wait_for(lambda: lease_expired(job), timeout=10, message="the first worker's lease never expired")

        with job_worker(tmp_path, "second", extra_env=job_env(tmp_path, pause_at="before_batch:1", **TAKER)):
            wait_for_pause(tmp_path, "before_batch:1")  # the second worker took the job over and holds it here
            taken = ArchiveJob.objects.get(pk=job.pk)
            assert taken.lease_owner != first_run.lease_owner and taken.attempts == 2

            release(tmp_path, "before_batch:2")
            wait_for(lambda: rq_job_status(first_run.rq_job_id) == "finished", timeout=30, message="first still runs")
            assert archived_ids(ids) == ids[:2]  # the first worker stopped before writing batch 2
            assert "lease lost to another worker" in first.log_path.read_text()

            release(tmp_path, "before_batch:1")
            job = wait_until_finished(job)

    assert job.status == "completed" and job.counts == {"archived": 6} and job.attempts == 2
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_a_batch_held_inside_its_transaction_past_the_lease_is_not_taken_over_until_it_commits(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    with job_worker(tmp_path, "first", extra_env=job_env(tmp_path, pause_at="in_batch:2", **SHORT_LEASE)):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "in_batch:2")  # lease checked, batch 2's transaction open, nothing written yet
        owner = ArchiveJob.objects.get(pk=job.pk).lease_owner
        wait_for(lambda: lease_expired(job), timeout=10, message="the first worker's lease never expired")

        with job_worker(tmp_path, "second", extra_env=job_env(**TAKER)):

            def taker_blocked_or_job_taken() -> str:
                if lock_waiters("%archive_archivejob%FOR UPDATE%"):
                    return "blocked"
                return "taken" if ArchiveJob.objects.get(pk=job.pk).attempts > 1 else ""

            seen = wait_for(taker_blocked_or_job_taken, timeout=30, message="the second worker never tried")
            during = ArchiveJob.objects.get(pk=job.pk)
            assert (seen, during.lease_owner, during.attempts) == ("blocked", owner, 1)

            release(tmp_path, "in_batch:2")
            job = wait_until_finished(job)

    assert job.status == "completed" and job.counts == {"archived": 6}
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_a_batch_retried_after_its_lease_ran_out_renews_the_lease_first(superadmin, tmp_path):
    plan, ids = enrolled_plan(4)
    database = connection.settings_dict["NAME"]
    params = {"host": "127.0.0.1", "user": connection.settings_dict["USER"] or "postgres", "dbname": database}
    with psycopg.connect(**params) as lock, psycopg.connect(**params, autocommit=True) as admin:
        # Hold a row of batch 1 so the worker's batch blocks inside the engine, past its two-second lease.
        lock.execute("SELECT 1 FROM enrollments_learningplanenrollment WHERE id = %s FOR UPDATE", [ids[0]])
        with job_worker(tmp_path, extra_env=job_env(**SHORT_LEASE)):
            job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
            [victim] = wait_for(lambda: lock_waiters("%enrollments_learningplanenrollment%"), timeout=30)
            wait_for(lambda: lease_expired(job), timeout=10, message="the lease never expired")

            assert admin.execute("SELECT pg_terminate_backend(%s)", [victim]).fetchone()[0]  # the batch fails once
            [retry] = wait_for(
                lambda: [pid for pid in lock_waiters("%enrollments_learningplanenrollment%") if pid != victim],
                timeout=30,
                message="the batch was never retried",
            )
            assert not lease_expired(job)  # the retry renewed the lease before it started
            lock.rollback()
            job = wait_until_finished(job)

    assert job.status == "completed" and job.counts == {"archived": 4} and job.attempts == 1
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def demote(user: User) -> None:
    User.objects.filter(pk=user.pk).update(level=Level.POWER_USER)


def deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def delete(user: User) -> None:
    User.objects.filter(pk=user.pk).delete()


@pytest.mark.parametrize("lose_the_role", [demote, deactivate, delete])
def test_a_job_whose_requester_lost_the_role_stops_with_one_error_and_the_rest_not_processed(
    superadmin, tmp_path, lose_the_role
):
    plan, ids = enrolled_plan(6)
    with job_worker(tmp_path, extra_env=job_env(tmp_path, pause_at="after_batch:1")):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "after_batch:1")
        lose_the_role(superadmin)
        release(tmp_path, "after_batch:1")
        job = wait_until_finished(job)

    assert job.status == "failed"
    assert job.error == "Stopped: root_admin is no longer a superadmin; nothing more was archived."
    assert job.counts == {"archived": 2, "not_processed": 4}
    assert set(job.items.exclude(message="").values_list("outcome", flat=True)) == {"archived"}  # one error: the job's
    assert archived_ids(ids) == ids[:2]
    assert set(LearningPlanEnrollment.objects.filter(pk__in=ids[2:]).values_list("round", flat=True)) == {1}
    finished = AuditEvent.objects.filter(object_type="archive_job", object_id=job.pk, action="archive_job.finished")
    assert finished.get().details["error"] == job.error
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_an_abandoned_job_reports_archived_for_the_batch_its_dead_worker_committed(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    once = {"ARCHIVE_JOB_MAX_ATTEMPTS": 1}
    # Batch 1 is committed by the engine; the worker dies before writing its outcomes.
    with job_worker(
        tmp_path, "doomed", extra_env=job_env(tmp_path, pause_at="after_engine_batch:1", **SHORT_LEASE, **once)
    ) as doomed:
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "after_engine_batch:1")
        kill_worker_tree(doomed)
    assert ArchiveJob.objects.get(pk=job.pk).processed == 0

    with job_worker(tmp_path, "reconciler", extra_env=job_env(**TAKER, **once)):
        job = wait_until_finished(job)

    assert job.status == "failed" and "interrupted too many times" in job.error
    assert job.counts == {"archived": 2, "not_processed": 4}
    snapshots = dict(ArchivedPlanEnrollment.objects.values_list("enrollment_id", "id"))
    assert list(job.items.filter(outcome="archived").values_list("enrollment_id", "archive_id")) == [
        (pk, snapshots[pk]) for pk in ids[:2]
    ]
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_a_job_failed_as_abandoned_while_its_worker_is_mid_batch_waits_for_that_batch_and_reports_it(
    superadmin, tmp_path
):
    plan, ids = enrolled_plan(6)
    once = {"ARCHIVE_JOB_MAX_ATTEMPTS": 1}
    with job_worker(tmp_path, "slow", extra_env=job_env(tmp_path, pause_at="in_batch:1", **SHORT_LEASE, **once)):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "in_batch:1")
        wait_for(lambda: lease_expired(job), timeout=10, message="the lease never expired")

        with job_worker(tmp_path, "reconciler", extra_env=job_env(**TAKER, **once)):

            def reconciler_blocked_or_job_failed() -> str:
                if lock_waiters("%archive_archivejob%FOR UPDATE%"):
                    return "blocked"
                return "failed" if ArchiveJob.objects.get(pk=job.pk).is_finished else ""

            seen = wait_for(reconciler_blocked_or_job_failed, timeout=30, message="the reconciler never came")
            assert seen == "blocked"  # it waits for the batch in flight rather than fail the job under it

            release(tmp_path, "in_batch:1")
            job = wait_until_finished(job)

    assert job.status == "failed"
    assert job.counts == {"archived": 2, "not_processed": 4}
    assert archived_ids(ids) == ids[:2]
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"
