"""Fault tests of SPEC §10: real signals, real server commands, real dropped connections — then the one
invariant, "0 lost, 0 duplicated". A test-only pause point (ARCHIVE_TEST_PAUSE_AT) makes each fault land
where intended; nothing here sleeps and hopes.
"""

from __future__ import annotations

import logging

import django_rq
import psutil
import psycopg
import pytest
from django.db import connection
from rq.job import Job

from archive.models import ArchiveJob
from archive.services import enqueue_archive_job, start_archive_job
from enrollments.models import LearningPlanEnrollment
from tests.archive.invariants import assert_nothing_lost_or_duplicated
from tests.archive.test_jobs import (  # noqa: F401 - notification_rules is an autouse fixture
    audit_actions,
    empty_job_queues,
    enrolled_plan,
    job_env,
    job_worker,
    notification_rules,
    release,
    wait_for_pause,
    wait_until_finished,
)
from tests.factories import LearningPlanFactory, add_course
from tests.workers import PrivateRedis, kill_worker_tree, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A worker that notices a dead peer quickly: short lease, reconciler every second.
FAST_RECOVERY = {"ARCHIVE_JOB_LEASE_SECONDS": 3, "ARCHIVE_RECONCILE_INTERVAL_SECONDS": 1}
FAST_RECONCILE = {"ARCHIVE_RECONCILE_INTERVAL_SECONDS": 1, "ARCHIVE_RECONCILE_GRACE_SECONDS": 1}


def test_sigkill_of_worker_and_work_horse_mid_job_is_finished_by_a_fresh_workers_own_reconciler(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    # Batch 2 is committed by the engine but its outcomes are not written yet when the kill lands.
    with job_worker(
        tmp_path, "doomed", extra_env=job_env(tmp_path, pause_at="after_engine_batch:2", **FAST_RECOVERY)
    ) as doomed:
        horse_pid = wait_for_pause(tmp_path, "after_engine_batch:2")
        assert horse_pid != doomed.pid and horse_pid in [p.pid for p in psutil.Process(doomed.pid).children()]
        killed = kill_worker_tree(doomed)
        assert {doomed.pid, horse_pid} <= set(killed)
        assert not psutil.pid_exists(horse_pid)
    assert ArchiveJob.objects.get(pk=job.pk).status == "running"

    with job_worker(tmp_path, "fresh", extra_env=job_env(**FAST_RECOVERY)):
        job = wait_until_finished(job, timeout=60)

    assert job.status == "completed" and job.counts == {"archived": 6}
    assert job.attempts == 2  # the fresh worker resumed it; batch 2 re-ran harmlessly
    assert audit_actions(job).count("archive_job.started") == 1
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_flushall_and_a_restart_of_the_tests_own_redis_mid_job_lose_nothing(superadmin, tmp_path, settings):
    redis = PrivateRedis()
    redis.start()
    try:
        settings.RQ_QUEUES = redis.queues_config()
        plan, ids = enrolled_plan(6)
        env = job_env(tmp_path, pause_at="after_batch:1", **FAST_RECONCILE)
        with job_worker(tmp_path, redis_url=redis.url, extra_env=env):
            running = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids[:4])
            wait_for_pause(tmp_path, "after_batch:1")
            waiting = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids[4:])
            assert redis.client().llen("rq:queue:archive") == 1

            redis.client().flushall()
            redis.restart()
            assert redis.client().dbsize() == 0  # the waiting job's RQ entry is gone for good
            release(tmp_path, "after_batch:1")

            jobs = [wait_until_finished(running), wait_until_finished(waiting)]
    finally:
        redis.stop()

    assert [job.status for job in jobs] == ["completed", "completed"]
    assert [job.counts for job in jobs] == [{"archived": 4}, {"archived": 2}]
    assert ArchiveJob.objects.get(pk=waiting.pk).rq_job_id != waiting.rq_job_id  # re-enqueued by the reconciler
    assert assert_nothing_lost_or_duplicated(jobs) == "0 lost, 0 duplicated"


def test_redis_down_at_submit_keeps_the_job_and_the_reconciler_runs_it_once_redis_is_back(
    superadmin, tmp_path, settings, caplog
):
    plan, ids = enrolled_plan(3)
    redis = PrivateRedis()  # not started yet: nothing listens on its port
    settings.RQ_QUEUES = redis.queues_config()

    with caplog.at_level(logging.ERROR, logger="archive.services.submission"):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)

    assert ArchiveJob.objects.get(pk=job.pk).status == "queued" and job.items.count() == 3
    assert f"Could not enqueue archive job #{job.pk}" in caplog.text
    redis.start()
    try:
        with job_worker(tmp_path, redis_url=redis.url, extra_env=job_env(**FAST_RECONCILE)):
            job = wait_until_finished(job)
    finally:
        redis.stop()

    assert job.status == "completed" and job.counts == {"archived": 3}
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_pg_terminate_backend_of_the_workers_connection_mid_batch_is_retried_without_loss(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    database = connection.settings_dict["NAME"]
    # Hold a row of batch 2 so the worker's batch transaction blocks inside the engine, mid-batch.
    params = {"host": "127.0.0.1", "user": connection.settings_dict["USER"] or "postgres", "dbname": database}
    with psycopg.connect(**params) as lock, psycopg.connect(**params, autocommit=True) as admin:
        lock.execute("SELECT 1 FROM enrollments_learningplanenrollment WHERE id = %s FOR UPDATE", [ids[3]])
        with job_worker(tmp_path, extra_env=job_env()):
            job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)

            def blocked_worker_backend() -> int | None:
                row = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [database]
                ).fetchone()
                return row[0] if row else None

            victim = wait_for(blocked_worker_backend, timeout=30, message="the worker never blocked in batch 2")
            assert ArchiveJob.objects.get(pk=job.pk).processed == 2  # batch 1 done, batch 2 in flight
            assert admin.execute("SELECT pg_terminate_backend(%s)", [victim]).fetchone()[0]
            lock.rollback()  # let the retried batch through
            job = wait_until_finished(job)

    assert job.status == "completed" and job.counts == {"archived": 6}
    assert job.attempts == 1  # the same run retried the batch on a fresh connection
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_a_double_submitted_job_archives_each_enrollment_once(superadmin, tmp_path):
    plan, ids = enrolled_plan(4)
    submits = [
        start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids) for _ in range(2)
    ]
    with job_worker(tmp_path, "one", extra_env=job_env()), job_worker(tmp_path, "two", extra_env=job_env()):
        jobs = [wait_until_finished(job) for job in submits]

    totals = [job.counts.get("archived", 0) for job in jobs]
    assert sum(totals) == 4
    assert sum(job.counts.get("skipped_already_archived", 0) for job in jobs) == 4
    assert assert_nothing_lost_or_duplicated(jobs) == "0 lost, 0 duplicated"


def test_a_job_enqueued_twice_is_run_by_one_worker_only_the_lease_holder(superadmin, tmp_path):
    plan, ids = enrolled_plan(4)
    with job_worker(tmp_path, "holder", extra_env=job_env(tmp_path, pause_at="before_batch:1")):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "before_batch:1")
        holder = ArchiveJob.objects.get(pk=job.pk).lease_owner
        with job_worker(tmp_path, "intruder", extra_env=job_env()) as intruder:
            duplicate_id = "archive-duplicate-of-the-same-job"
            assert enqueue_archive_job(job.pk, duplicate_id)
            duplicate = Job.fetch(duplicate_id, connection=django_rq.get_connection("archive"))
            wait_for(lambda: duplicate.get_status(refresh=True) == "finished", timeout=30, message="duplicate not run")
            assert intruder.poll() is None
        during = ArchiveJob.objects.get(pk=job.pk)
        assert (during.lease_owner, during.processed, during.attempts) == (holder, 0, 1)
        release(tmp_path, "before_batch:1")
        job = wait_until_finished(job)

    assert job.status == "completed" and job.counts == {"archived": 4} and job.attempts == 1
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


def test_a_course_shared_while_an_unenroll_job_runs_skips_the_rest(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    with job_worker(tmp_path, extra_env=job_env(tmp_path, pause_at="after_batch:1")):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="unenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "after_batch:1")
        add_course(LearningPlanFactory(title="Another plan"), plan.courses.first())
        release(tmp_path, "after_batch:1")
        job = wait_until_finished(job)

    assert job.status == "completed"
    assert job.counts == {"archived": 2, "skipped_shared_course": 4}
    assert set(LearningPlanEnrollment.objects.filter(pk__in=ids).values_list("pk", flat=True)) == set(ids[2:])
    assert "Another plan" in job.items.filter(outcome="skipped_shared_course").first().message
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"
