"""Background archive jobs: submit, limits, a real worker, cancel, CSV, reconciler, purge (SPEC §4.5)."""

from __future__ import annotations

import contextlib
import csv
import datetime
import importlib
import io
from collections.abc import Iterator
from pathlib import Path

import django_rq
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from archive.exports import job_items_csv_lines
from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, ArchiveMode
from archive.services import archive_batch, cancel_archive_job, reconcile, start_archive_job
from enrollments.models import IssuedCertificate, LearningPlan, LearningPlanEnrollment, TrackingStatus, TrainingMaterial
from enrollments.services import enroll_user, record_material_progress
from lms_admin.accounts.models import User
from lms_admin.audit.models import AuditEvent
from lms_admin.notifications.models import NotificationRule
from tests.archive.invariants import assert_nothing_lost_or_duplicated
from tests.factories import LearningPlanFactory, UserFactory, add_course, make_plan
from tests.workers import empty_queues, release, wait_for, wait_for_pause, worker_process

# --- helpers shared with test_faults.py ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def empty_job_queues() -> None:
    """Start from empty queues in our own Redis DB: an earlier test's leftovers must not run here."""
    empty_queues(django_settings.REDIS_URL)


@pytest.fixture(autouse=True)
def notification_rules(django_db_blocker):
    """The six default rules (a data migration creates them; transactional tests flush them away)."""
    rules = importlib.import_module("lms_admin.notifications.migrations.0002_default_rules").DEFAULT_RULES
    with django_db_blocker.unblock():
        for event, (subject, body) in rules.items():
            NotificationRule.objects.get_or_create(
                event=event, defaults={"subject_template": subject, "body_template": body, "to_learner": True}
            )


def enrolled_plan(
    count: int, *, courses: int = 2, name: str = "learner", completed: int = 1
) -> tuple[LearningPlan, list[int]]:
    """A plan of `courses` courses with a certificate template and `count` learners enrolled through the real
    services; the first `completed` of them completed it and hold a certificate PDF. Enrollment ids."""
    plan = make_plan(courses=courses, materials_per_course=2, template=True)
    users = [UserFactory(username=f"{name}{plan.pk}-{i}", first_name=name) for i in range(count)]
    ids = [enroll_user(user=user, learning_plan=plan).pk for user in users]
    materials = list(TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan))
    for user in users[:completed]:
        for material in materials:
            record_material_progress(user=user, material=material, status=TrackingStatus.COMPLETED)
        certificate = IssuedCertificate.objects.get(user=user, learning_plan=plan)
        certificate.file.save(f"certificate-{user.pk}.pdf", ContentFile(f"%PDF {user.username}".encode()))
    # The bytes above stand in for the renderer: its queued jobs must not rewrite the files mid-test.
    django_rq.get_queue("certificates").empty()
    return plan, sorted(ids)


def bulk_enrolled_plan(count: int) -> tuple[LearningPlan, list[int]]:
    """A plan with `count` enrollments written set-based (no courses): for the selection limits."""
    plan = LearningPlanFactory()
    users = User.objects.bulk_create(
        User(username=f"bulk{plan.pk}-{i}", first_name="Bulk", last_name=str(i), password="!") for i in range(count)
    )
    enrollments = LearningPlanEnrollment.objects.bulk_create(
        LearningPlanEnrollment(user=user, learning_plan=plan) for user in users
    )
    return plan, sorted(e.pk for e in enrollments)


def wait_until_finished(job: ArchiveJob, *, timeout: float = 60) -> ArchiveJob:
    def finished() -> ArchiveJob | None:
        fresh = ArchiveJob.objects.get(pk=job.pk)
        return fresh if fresh.is_finished else None

    return wait_for(finished, timeout=timeout, interval=0.1, message=f"job #{job.pk} did not finish in {timeout} s")


def job_env(pause_dir: Path | None = None, *, pause_at: str = "", batch_size: int = 2, **extra) -> dict:
    env = {"ARCHIVE_BATCH_SIZE": batch_size, "ARCHIVE_TEST_PAUSE_AT": pause_at}
    if pause_dir is not None:
        env["ARCHIVE_TEST_PAUSE_DIR"] = str(pause_dir)
    env.update({key.upper(): value for key, value in extra.items()})
    return env


@contextlib.contextmanager
def job_worker(tmp_path: Path, name: str = "worker", **kwargs) -> Iterator:
    """A real `run_worker` process with its log under tmp_path; it finds jobs submitted before it started."""
    with worker_process(log_path=tmp_path / f"{name}.log", **kwargs) as proc:
        yield proc


def audit_actions(job: ArchiveJob) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="archive_job", object_id=job.pk, action__startswith="archive_job.")
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- submit: selection, limits, refusals (no worker needed) --------------------------------------------------


@pytest.mark.django_db
def test_a_job_freezes_the_selected_ids_and_rounds_and_enqueues_only_the_job_id_on_commit(
    superadmin, django_capture_on_commit_callbacks
):
    plan, ids = enrolled_plan(3)
    LearningPlanEnrollment.objects.filter(pk=ids[0]).update(round=4)
    queue = django_rq.get_queue("archive")
    queue.empty()

    with django_capture_on_commit_callbacks(execute=True):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids[::-1])

    assert (job.status, job.total, job.processed) == ("queued", 3, 0)
    assert list(job.items.order_by("position").values_list("enrollment_id", "round")) == [
        (ids[0], 4),
        (ids[1], 1),
        (ids[2], 1),
    ]
    [rq_job] = queue.get_jobs()
    assert rq_job.id == job.rq_job_id and rq_job.args == (job.pk,)
    assert rq_job.timeout >= 3600  # liveness is the lease, not RQ's timeout
    queue.empty()


@pytest.mark.django_db
def test_select_all_resolves_the_filtered_enrollments_on_the_server(superadmin):
    plan, _ = enrolled_plan(3, name="Alice")
    others = [
        enroll_user(user=UserFactory(username=f"bob{i}", first_name="Bob"), learning_plan=plan).pk for i in range(2)
    ]

    job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={"search": "bob"})

    assert job.select_all and job.filters == {"search": "bob"}
    assert sorted(job.items.values_list("enrollment_id", flat=True)) == sorted(others)
    with pytest.raises(ValidationError) as nothing:
        start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={"search": "zed"})
    assert nothing.value.code == "invalid_selection"
    with pytest.raises(ValidationError) as bad_filter:
        start_archive_job(
            learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={"enrolled_from": "yesterday"}
        )
    assert bad_filter.value.code == "invalid_request"
    assert ArchiveJob.objects.count() == 1


@pytest.mark.django_db
def test_201_hand_picked_ids_are_refused_and_200_accepted(superadmin):
    plan, ids = bulk_enrolled_plan(201)

    with pytest.raises(ValidationError) as refused:
        start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    assert refused.value.code == "limit_exceeded"
    assert "at most 200" in refused.value.message
    assert not ArchiveJob.objects.exists() and not ArchiveJobItem.objects.exists()

    job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids[:200])
    assert job.total == 200 == job.items.count()


@pytest.mark.django_db
def test_select_all_accepts_10000_and_refuses_10001(superadmin, django_assert_max_num_queries):
    plan, ids = bulk_enrolled_plan(10_000)

    with django_assert_max_num_queries(12):  # set-based: the item rows go in two INSERTs of 5,000
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={})
    assert job.total == 10_000 == job.items.count()
    assert list(job.items.order_by("position").values_list("enrollment_id", flat=True)) == ids

    bulk_user = User.objects.create(username="one-too-many")
    LearningPlanEnrollment.objects.create(user=bulk_user, learning_plan=plan)
    with pytest.raises(ValidationError) as refused:
        start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={})
    assert refused.value.code == "limit_exceeded"
    assert "10001 enrollments match" in refused.value.message and "at most 10000" in refused.value.message
    assert ArchiveJob.objects.count() == 1 and ArchiveJobItem.objects.count() == 10_000


@pytest.mark.django_db
def test_bad_submissions_are_refused_with_their_code_and_create_nothing(superadmin, power_user):
    plan, ids = enrolled_plan(2)
    other_plan, other_ids = enrolled_plan(1)
    shared_plan = LearningPlanFactory()
    add_course(shared_plan, plan.courses.first())

    cases = [
        ({"enrollment_ids": ids, "select_all_filters": {}}, "invalid_selection"),
        ({}, "invalid_selection"),
        ({"enrollment_ids": []}, "invalid_selection"),
        ({"enrollment_ids": ["1", "2"]}, "invalid_selection"),
        ({"enrollment_ids": [*ids, *other_ids, 999_999]}, "invalid_selection"),
        ({"enrollment_ids": ids, "mode": "delete"}, "invalid_mode"),
        ({"enrollment_ids": ids, "mode": "unenroll"}, "shared_course"),
    ]
    for kwargs, code in cases:
        kwargs = {"mode": "reenroll", **kwargs}
        with pytest.raises(ValidationError) as refused:
            start_archive_job(learning_plan=plan, actor=superadmin, **kwargs)
        assert refused.value.code == code, kwargs
    with pytest.raises(ValidationError) as foreign:
        start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=[*ids, *other_ids])
    assert str(other_ids[0]) in foreign.value.message and str(ids[0]) not in foreign.value.message
    with pytest.raises(ValidationError) as shared:
        start_archive_job(learning_plan=plan, actor=superadmin, mode="unenroll", enrollment_ids=ids)
    assert shared_plan.title in shared.value.message
    with pytest.raises(PermissionDenied):
        start_archive_job(learning_plan=plan, actor=power_user, mode="reenroll", enrollment_ids=ids)
    assert not ArchiveJob.objects.exists() and not ArchiveJobItem.objects.exists()


@pytest.mark.django_db
def test_cancelling_a_queued_job_marks_every_item_not_processed_and_a_finished_job_cannot_be_cancelled(superadmin):
    plan, ids = enrolled_plan(3)
    job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)

    job = cancel_archive_job(job, superadmin)

    assert job.status == "cancelled" and job.finished_at is not None
    assert job.counts == {"not_processed": 3} and job.processed == 3
    assert "archive_job.cancelled" in audit_actions(job)
    with pytest.raises(ValidationError) as refused:
        cancel_archive_job(job, superadmin)
    assert refused.value.code == "invalid_request" and "cancelled" in refused.value.message


# --- a real worker ------------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_three_enrollment_job_completes_on_a_real_worker_with_counts_items_and_csv(superadmin, rq_worker):
    plan, ids = enrolled_plan(3)

    job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    job = wait_until_finished(job)

    assert job.status == "completed" and job.error == ""
    assert (job.total, job.processed, job.counts, job.progress) == (3, 3, {"archived": 3}, 100)
    assert job.started_at and job.finished_at and job.rate and job.eta_seconds is None
    archives = dict(ArchivedPlanEnrollment.objects.filter(job=job).values_list("enrollment_id", "id"))
    items = list(job.items.order_by("position").values_list("enrollment_id", "round", "outcome", "archive_id"))
    assert items == [(pk, 1, "archived", archives[pk]) for pk in ids]
    rows = list(csv.reader(io.StringIO("".join(job_items_csv_lines(job)))))
    assert rows[0] == ["enrollment_id", "round", "outcome", "archive_id", "message"]
    assert [row[:4] for row in rows[1:]] == [[str(pk), "1", "archived", str(archives[pk])] for pk in ids]
    assert audit_actions(job) == ["archive_job.submitted", "archive_job.started", "archive_job.finished"]
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_cancel_mid_job_keeps_the_done_batch_archived_and_leaves_the_rest_not_processed(superadmin, tmp_path):
    plan, ids = enrolled_plan(6)
    with job_worker(tmp_path, extra_env=job_env(tmp_path, pause_at="after_batch:1")):
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
        wait_for_pause(tmp_path, "after_batch:1")
        running = cancel_archive_job(job, superadmin)
        assert running.status == "running" and running.cancel_requested
        release(tmp_path, "after_batch:1")
        job = wait_until_finished(job)

    assert job.status == "cancelled"
    assert job.counts == {"archived": 2, "not_processed": 4} and job.processed == 6
    assert list(job.items.filter(outcome="archived").values_list("enrollment_id", flat=True)) == ids[:2]
    assert set(ArchivedPlanEnrollment.objects.values_list("enrollment_id", flat=True)) == set(ids[:2])
    assert list(LearningPlanEnrollment.objects.filter(pk__in=ids).order_by("pk").values_list("round", flat=True)) == [
        2,
        2,
        1,
        1,
        1,
        1,
    ]
    assert audit_actions(job)[-2:] == ["archive_job.cancelled", "archive_job.finished"]
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"


# --- reconciler and purge (in-process, our own Redis DB) ----------------------------------------------------


@pytest.mark.django_db
def test_the_reconciler_requeues_lost_and_abandoned_jobs_and_leaves_live_ones_alone(superadmin):
    plan, ids = enrolled_plan(2)
    queue = django_rq.get_queue("archive")
    queue.empty()
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    lost = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    abandoned = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    alive = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    fresh = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    ArchiveJob.objects.filter(pk__in=[lost.pk, abandoned.pk, alive.pk]).update(enqueued_at=long_ago)
    ArchiveJob.objects.filter(pk=abandoned.pk).update(status="running", lease_owner="dead", lease_expires_at=long_ago)
    ArchiveJob.objects.filter(pk=alive.pk).update(
        status="running", lease_owner="busy", lease_expires_at=timezone.now() + datetime.timedelta(minutes=1)
    )

    report = reconcile()

    assert sorted(report.requeued) == sorted([lost.pk, abandoned.pk])
    enqueued = {rq_job.args[0]: rq_job.id for rq_job in queue.get_jobs()}
    assert enqueued == {job.pk: ArchiveJob.objects.get(pk=job.pk).rq_job_id for job in (lost, abandoned)}
    assert reconcile().requeued == []  # their new RQ jobs are waiting: no second copy
    assert fresh.pk not in enqueued  # still inside its on-commit grace period
    queue.empty()


@pytest.mark.django_db
def test_purge_jobs_removes_finished_jobs_past_retention_and_snapshots_keep_their_data(superadmin):
    plan, ids = enrolled_plan(2)
    old = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    [result, _] = archive_batch(
        list(old.items.values_list("enrollment_id", "round")),
        actor=superadmin,
        mode=ArchiveMode.REENROLL,
        reset_tracking=False,
        notify=False,
        job=old,
    )
    recent = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    still_running = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    fourteen_days_ago = timezone.now() - datetime.timedelta(days=14)
    ArchiveJob.objects.filter(pk=old.pk).update(status="completed", finished_at=fourteen_days_ago)
    ArchiveJob.objects.filter(pk=recent.pk).update(status="completed", finished_at=timezone.now())
    ArchiveJob.objects.filter(pk=still_running.pk).update(status="running", created_at=fourteen_days_ago)

    out = io.StringIO()
    call_command("purge_jobs", stdout=out)

    assert "Deleted 1 finished job" in out.getvalue()
    assert set(ArchiveJob.objects.values_list("pk", flat=True)) == {recent.pk, still_running.pk}
    assert not ArchiveJobItem.objects.filter(job_id=old.pk).exists()
    snapshot = ArchivedPlanEnrollment.objects.get(pk=result.archive_id)
    assert snapshot.job is None and snapshot.plan_title == plan.title and snapshot.round == 1


@pytest.mark.django_db
def test_a_job_interrupted_too_many_times_is_failed_and_its_committed_batch_still_reads_archived(superadmin, settings):
    plan, ids = enrolled_plan(3)
    job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    # The last run committed the first enrollment's batch, and its worker died before writing the outcome.
    [committed] = archive_batch(
        [(ids[0], 1)], actor=superadmin, mode=ArchiveMode.REENROLL, reset_tracking=False, notify=True, job=job
    )
    ArchiveJob.objects.filter(pk=job.pk).update(
        status="running",
        attempts=settings.ARCHIVE_JOB_MAX_ATTEMPTS,
        lease_owner="crashed",
        lease_expires_at=timezone.now() - datetime.timedelta(hours=1),
    )

    report = reconcile()

    job.refresh_from_db()
    assert report.failed == [job.pk] and report.requeued == []
    assert job.status == "failed" and "interrupted too many times" in job.error
    assert job.counts == {"archived": 1, "not_processed": 2} and job.processed == 3
    assert job.items.get(enrollment_id=ids[0]).archive_id == committed.archive_id
    assert audit_actions(job)[-1] == "archive_job.finished"
    assert assert_nothing_lost_or_duplicated([job]) == "0 lost, 0 duplicated"
