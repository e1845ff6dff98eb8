"""Two jobs with overlapping selections really running at the same time on two worker processes (SPEC §10):
each (enrollment, round) is archived once, whichever job gets there first.
"""

from __future__ import annotations

import pytest
from django.db.models.functions import Now

from archive.models import ArchiveJob
from archive.services import start_archive_job
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

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_overlapping_jobs_running_at_once_on_two_workers_archive_each_round_once(superadmin, tmp_path):
    plan, ids = enrolled_plan(16, completed=2)
    pause_dirs = [tmp_path / "one", tmp_path / "two"]
    for directory in pause_dirs:
        directory.mkdir()
    envs = [job_env(directory, pause_at="before_batch:1") for directory in pause_dirs]

    with job_worker(tmp_path, "one", extra_env=envs[0]), job_worker(tmp_path, "two", extra_env=envs[1]):
        reenroll = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids[:12])
        unenroll = start_archive_job(
            learning_plan=plan, actor=superadmin, mode="unenroll", reset_tracking=True, enrollment_ids=ids[4:]
        )
        for directory in pause_dirs:
            wait_for_pause(directory, "before_batch:1")
        # Both jobs hold a live lease, each on its own worker: neither can finish before the other starts.
        running = ArchiveJob.objects.filter(
            pk__in=[reenroll.pk, unenroll.pk], status="running", lease_expires_at__gt=Now()
        )
        assert len({job.lease_owner for job in running}) == 2
        for directory in pause_dirs:
            release(directory, "before_batch:1")
        jobs = [wait_until_finished(reenroll), wait_until_finished(unenroll)]

    assert [job.status for job in jobs] == ["completed", "completed"]
    archived = sorted(
        pk for job in jobs for pk in job.items.filter(outcome="archived").values_list("enrollment_id", flat=True)
    )
    assert archived == ids  # each enrollment archived by exactly one of the jobs
    skipped = sorted(
        pk
        for job in jobs
        for pk in job.items.filter(outcome="skipped_already_archived").values_list("enrollment_id", flat=True)
    )
    assert skipped == ids[4:12]
    assert assert_nothing_lost_or_duplicated(jobs) == "0 lost, 0 duplicated"
