"""Background archive jobs: submit, run (lease + batches), cancel, reconcile, purge (SPEC §4.5).

PostgreSQL is the truth: the job row holds the frozen selection, the progress and a lease. RQ is only the
trigger, so every step here is safe to repeat — a second RQ job for the same archive job finds the lease
taken and returns, a batch re-run after a crash is idempotent in the engine, and the reconciler re-enqueues
whatever Redis lost.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from enrollments.models import LearningPlan, LearningPlanEnrollment
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record
from lms_admin.pause import pause_point

from .models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, ArchiveMode, Outcome

logger = logging.getLogger(__name__)

ARCHIVE_QUEUE = "archive"
RUN_ARCHIVE_JOB = "archive.jobs.run_archive_job"
# RQ statuses meaning "a worker will still pick this up, or is running it".
WAITING_RQ_STATUSES = {"queued", "deferred", "scheduled"}
Status = ArchiveJob.Status


class LeaseLost(Exception):
    """Another worker took this job over (our lease expired); stop without writing anything more."""


@dataclass(frozen=True)
class BatchItem:
    enrollment_id: int
    outcome: str
    archive_id: int | None
    message: str


@dataclass
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    outbox_sender_enqueued: bool = False


# --- submit -------------------------------------------------------------------------------------------------


def start_archive_job(
    *,
    learning_plan: LearningPlan,
    actor: User,
    mode: str,
    reset_tracking: bool = False,
    notify: bool = True,
    enrollment_ids: Sequence[int] | None = None,
    select_all_filters: Mapping[str, Any] | None = None,
) -> ArchiveJob:
    """Freeze the selection's (id, round) pairs on a new job row and enqueue it once the row is committed.

    Raises PermissionDenied, or ValidationError coded invalid_mode, invalid_selection, limit_exceeded or
    shared_course; nothing is created when it raises. A failed enqueue (Redis down) is logged, not raised:
    the reconciler enqueues the committed job later.
    """
    require_superadmin(actor)
    if mode not in ArchiveMode.values:
        raise ValidationError(
            f"Unknown archive mode {mode!r}: choose {' or '.join(ArchiveMode.values)}.", code="invalid_mode"
        )
    pairs = _resolve_selection(learning_plan, enrollment_ids, select_all_filters)
    if mode == ArchiveMode.UNENROLL:
        from .services import check_shared_courses, shared_course_message

        shares = check_shared_courses(learning_plan)
        if shares:
            raise ValidationError(shared_course_message(shares), code="shared_course")

    with transaction.atomic():
        job = ArchiveJob.objects.create(
            learning_plan=learning_plan,
            learning_plan_title=learning_plan.title,
            mode=mode,
            reset_tracking=bool(reset_tracking),
            notify=bool(notify),
            select_all=select_all_filters is not None,
            filters=dict(select_all_filters or {}),
            total=len(pairs),
            requested_by=actor,
            requested_by_username=actor.username,
            rq_job_id=_new_rq_job_id(),
            enqueued_at=timezone.now(),
        )
        ArchiveJobItem.objects.bulk_create(
            (
                ArchiveJobItem(job=job, position=position, enrollment_id=enrollment_id, round=round_)
                for position, (enrollment_id, round_) in enumerate(pairs, start=1)
            ),
            batch_size=5000,
        )
        record(
            actor=actor,
            action="archive_job.submitted",
            object_type="archive_job",
            object_id=job.pk,
            details={"learning_plan_id": learning_plan.pk, "total": len(pairs), "mode": mode},
        )
        job_id, rq_job_id = job.pk, job.rq_job_id
        transaction.on_commit(lambda: enqueue_archive_job(job_id, rq_job_id))
    return job


def _resolve_selection(
    plan: LearningPlan, enrollment_ids: Sequence[int] | None, select_all_filters: Mapping[str, Any] | None
) -> list[tuple[int, int]]:
    """The (enrollment id, round) pairs to freeze, in id order (the order the engine locks rows in)."""
    if (enrollment_ids is None) == (select_all_filters is None):
        raise ValidationError(
            "Choose the enrollments to archive: either a list of enrollment ids or select all with filters.",
            code="invalid_selection",
        )
    if select_all_filters is not None:
        return _resolve_select_all(plan, select_all_filters)

    if isinstance(enrollment_ids, str | bytes) or not all(
        isinstance(pk, int) and not isinstance(pk, bool) for pk in enrollment_ids
    ):
        raise ValidationError("Enrollment ids must be a list of integers.", code="invalid_selection")
    ids = sorted(set(enrollment_ids))
    if not ids:
        raise ValidationError("No enrollment selected.", code="invalid_selection")
    limit = settings.ARCHIVE_MAX_MANUAL_SELECTION
    if len(ids) > limit:
        raise ValidationError(
            f"{len(ids)} enrollments were picked by hand; at most {limit} can be. "
            f"Use “Select all” with filters for up to {settings.ARCHIVE_MAX_SELECT_ALL}.",
            code="limit_exceeded",
        )
    pairs = list(
        LearningPlanEnrollment.objects.filter(learning_plan=plan, pk__in=ids).order_by("pk").values_list("pk", "round")
    )
    missing = sorted(set(ids) - {pk for pk, _ in pairs})
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:20]) + (" …" if len(missing) > 20 else "")
        raise ValidationError(f"Not active enrollments of “{plan.title}”: {shown}.", code="invalid_selection")
    return pairs


def _resolve_select_all(plan: LearningPlan, filters: Mapping[str, Any]) -> list[tuple[int, int]]:
    from enrollments.selectors import filter_plan_enrollments

    if not isinstance(filters, Mapping):
        raise ValidationError("Select all needs the list's filters as an object.", code="invalid_selection")
    queryset = filter_plan_enrollments(plan, filters)
    limit = settings.ARCHIVE_MAX_SELECT_ALL
    pairs = list(queryset.order_by("pk").values_list("pk", "round")[: limit + 1])
    if len(pairs) > limit:
        matching = queryset.order_by().count()
        raise ValidationError(
            f"{matching} enrollments match these filters; “Select all” archives at most {limit}. "
            "Narrow the filters and run it in several jobs.",
            code="limit_exceeded",
        )
    if not pairs:
        raise ValidationError("No active enrollment matches these filters.", code="invalid_selection")
    return pairs


def _new_rq_job_id() -> str:
    return f"archive-{uuid.uuid4().hex}"


def enqueue_archive_job(job_id: int, rq_job_id: str) -> bool:
    """Put the RQ trigger for a committed job on the archive queue; False (logged) when Redis refused it."""
    import django_rq

    try:
        django_rq.get_queue(ARCHIVE_QUEUE, commit_mode="auto").enqueue(
            RUN_ARCHIVE_JOB,
            job_id,
            job_id=rq_job_id,
            job_timeout=settings.ARCHIVE_JOB_RQ_TIMEOUT,
            description=f"archive job #{job_id}",
        )
    except Exception:
        logger.exception("Could not enqueue archive job #%s; the reconciler will enqueue it later.", job_id)
        return False
    return True


# --- cancel -------------------------------------------------------------------------------------------------


def cancel_archive_job(job: ArchiveJob, actor: User) -> ArchiveJob:
    """Queued → cancelled at once; running → the runner stops after its current batch. Done batches stay."""
    require_superadmin(actor)
    with transaction.atomic():
        if ArchiveJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, cancel_requested=True, finished_at=Now()
        ):
            _close_items(job.pk)
        elif not ArchiveJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(cancel_requested=True):
            job.refresh_from_db(fields=["status"])
            raise ValidationError(
                f"Job #{job.pk} is {job.get_status_display().lower()}; only a queued or running job can be cancelled.",
                code="invalid_request",
            )
        record(actor=actor, action="archive_job.cancelled", object_type="archive_job", object_id=job.pk)
    job.refresh_from_db()
    return job


# --- run ----------------------------------------------------------------------------------------------------


def lease_owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease_expiry() -> ExpressionWrapper:
    lease = datetime.timedelta(seconds=settings.ARCHIVE_JOB_LEASE_SECONDS)
    return ExpressionWrapper(Now() + Value(lease), output_field=DateTimeField())


def run_job(job_id: int) -> ArchiveJob | None:
    """Run (or resume) one job if its lease can be taken; None when another worker holds it or it is finished."""
    owner = lease_owner_name()
    job = _take_lease(job_id, owner)
    if job is None:
        logger.info("Archive job #%s is finished or leased by another worker; nothing to do.", job_id)
        return None
    return JobRun(job, owner).run()


def _take_lease(job_id: int, owner: str) -> ArchiveJob | None:
    """The conditional UPDATE that makes one worker the job's only runner (SPEC §4.5)."""
    with transaction.atomic():
        taken = ArchiveJob.objects.filter(
            Q(status=Status.QUEUED) | Q(status=Status.RUNNING, lease_expires_at__lt=Now()), pk=job_id
        ).update(
            status=Status.RUNNING,
            lease_owner=owner,
            lease_expires_at=_lease_expiry(),
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), Now()),
        )
        if not taken:
            return None
        job = ArchiveJob.objects.select_related("requested_by").get(pk=job_id)
        if job.attempts == 1:
            record(
                actor=job.requested_by,
                action="archive_job.started",
                object_type="archive_job",
                object_id=job.pk,
                details={"total": job.total},
            )
    return job


class JobRun:
    """One worker's run of one job, while it holds the lease."""

    def __init__(self, job: ArchiveJob, owner: str) -> None:
        self.job = job
        self.owner = owner
        self.batch_size = max(1, settings.ARCHIVE_BATCH_SIZE)
        self.started = time.monotonic()
        self.done_in_run = 0
        self.batch_number = 0

    def run(self) -> ArchiveJob:
        job = self.job
        try:
            if job.attempts > settings.ARCHIVE_JOB_MAX_ATTEMPTS:
                return self.finish(Status.FAILED, f"Gave up after {job.attempts - 1} interrupted runs.")
            while True:
                pairs = list(
                    ArchiveJobItem.objects.filter(job_id=job.pk, outcome="")
                    .order_by("position")
                    .values_list("enrollment_id", "round")[: self.batch_size]
                )
                if not pairs:
                    return self.finish(Status.COMPLETED)
                self.batch_number += 1
                if self.renew_lease():
                    return self.finish(Status.CANCELLED)
                pause_point("before_batch", self.batch_number)
                batch_started = time.monotonic()
                results = self.archive(pairs)
                logger.info(
                    "Archive job #%s: batch %s, %s items in %.2f s",
                    job.pk,
                    self.batch_number,
                    len(pairs),
                    time.monotonic() - batch_started,
                )
                pause_point("after_engine_batch", self.batch_number)
                cancel_requested = self.record_batch(results)
                pause_point("after_batch", self.batch_number)
                if cancel_requested:
                    return self.finish(Status.CANCELLED)
        except LeaseLost:
            logger.warning("Archive job #%s: lease lost to another worker; stopping.", job.pk)
            job.refresh_from_db()
            return job
        except Exception:
            # Hand the job back at once: the reconciler re-enqueues it (up to ARCHIVE_JOB_MAX_ATTEMPTS runs).
            logger.exception("Archive job #%s: run interrupted.", job.pk)
            _reset_connection_if_broken()
            try:
                ArchiveJob.objects.filter(pk=job.pk, lease_owner=self.owner, status=Status.RUNNING).update(
                    lease_expires_at=Now()
                )
            except DatabaseError:
                logger.warning("Archive job #%s: could not hand the lease back; it expires by itself.", job.pk)
            raise

    # Lease and progress

    def renew_lease(self) -> bool:
        """Extend our lease; True when a cancel was requested. Raises LeaseLost when it is not ours any more."""
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE archive_archivejob SET lease_expires_at = now() + %s"
                " WHERE id = %s AND lease_owner = %s AND status = 'running' RETURNING cancel_requested",
                [datetime.timedelta(seconds=settings.ARCHIVE_JOB_LEASE_SECONDS), self.job.pk, self.owner],
            )
            row = cursor.fetchone()
        if row is None:
            raise LeaseLost
        return bool(row[0])

    def record_batch(self, results: Sequence[BatchItem]) -> bool:
        """Write the batch's item outcomes, counts, rate and a renewed lease in one transaction, only if the
        lease is still ours. Returns whether a cancel was requested."""
        self.done_in_run += len(results)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        with transaction.atomic():
            cancel_requested = self.renew_lease()
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE archive_archivejobitem AS i"
                    " SET outcome = v.outcome, archive_id = v.archive_id, message = v.message"
                    " FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::text[])"
                    " AS v(enrollment_id, outcome, archive_id, message)"
                    " WHERE i.job_id = %s AND i.enrollment_id = v.enrollment_id",
                    [
                        [r.enrollment_id for r in results],
                        [r.outcome for r in results],
                        [r.archive_id for r in results],
                        [r.message or "" for r in results],
                        self.job.pk,
                    ],
                )
            _refresh_counts(self.job.pk, rate=self.done_in_run / elapsed)
        return cancel_requested

    def finish(self, status: str, error: str = "") -> ArchiveJob:
        job = self.job
        with transaction.atomic():
            if not ArchiveJob.objects.filter(pk=job.pk, lease_owner=self.owner, status=Status.RUNNING).update(
                status=status, finished_at=Now(), lease_owner="", lease_expires_at=None, error=error
            ):
                raise LeaseLost
            _close_items(job.pk)
            job.refresh_from_db()
            record(
                actor=job.requested_by,
                action="archive_job.finished",
                object_type="archive_job",
                object_id=job.pk,
                details={"status": status, "counts": job.counts, "error": error},
            )
        logger.info("Archive job #%s %s: %s", job.pk, status, job.counts)
        return job

    # Batches: retried once, then bisected to isolate the failing items

    def archive(self, pairs: Sequence[tuple[int, int]]) -> list[BatchItem]:
        try:
            return self.call_engine(pairs)
        except Exception as exc:
            logger.warning("Archive job #%s: batch of %s raised %r; retrying once.", self.job.pk, len(pairs), exc)
            _reset_connection_if_broken()
        try:
            return self.call_engine(pairs)
        except (OperationalError, InterfaceError):
            raise  # the database is unreachable, not these items: hand the job back instead of failing them
        except Exception as exc:
            _reset_connection_if_broken()
            return self.bisect(pairs, exc)

    def bisect(self, pairs: Sequence[tuple[int, int]], error: Exception) -> list[BatchItem]:
        if len(pairs) == 1:
            logger.error("Archive job #%s: enrollment %s failed: %r", self.job.pk, pairs[0][0], error)
            return [BatchItem(pairs[0][0], Outcome.FAILED, None, f"{type(error).__name__}: {error}"[:2000])]
        middle = len(pairs) // 2
        results: list[BatchItem] = []
        for half in (pairs[:middle], pairs[middle:]):
            try:
                results.extend(self.call_engine(half))
            except Exception as exc:
                _reset_connection_if_broken()
                results.extend(self.bisect(half, exc))
        return results

    def call_engine(self, pairs: Sequence[tuple[int, int]]) -> list[BatchItem]:
        from .services import archive_batch

        job = self.job
        results = archive_batch(
            list(pairs),
            actor=job.requested_by,
            mode=job.mode,
            reset_tracking=job.reset_tracking,
            notify=job.notify,
            job=job,
        )
        items = [BatchItem(int(r.enrollment_id), str(r.outcome), r.archive_id, r.message or "") for r in results]
        answered = {item.enrollment_id for item in items}
        items.extend(
            BatchItem(enrollment_id, Outcome.FAILED, None, "The archive engine reported no outcome for it.")
            for enrollment_id, _ in pairs
            if enrollment_id not in answered
        )
        return items


def _close_items(job_id: int) -> None:
    """Items never reached become not_processed; counts are recomputed from the items (they add up)."""
    ArchiveJobItem.objects.filter(job_id=job_id, outcome="").update(outcome=Outcome.NOT_PROCESSED)
    _refresh_counts(job_id)


def _refresh_counts(job_id: int, *, rate: float | None = None) -> None:
    """processed and counts from one GROUP BY over the job's items: always exact, whatever ran twice."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE archive_archivejob AS j SET processed = c.processed, counts = c.counts,"
            " rate = COALESCE(%s, j.rate)"
            " FROM (SELECT COALESCE(SUM(n) FILTER (WHERE outcome <> ''), 0) AS processed,"
            "       COALESCE(jsonb_object_agg(outcome, n) FILTER (WHERE outcome <> ''), '{}'::jsonb) AS counts"
            "       FROM (SELECT outcome, count(*) AS n FROM archive_archivejobitem"
            "             WHERE job_id = %s GROUP BY outcome) AS g) AS c"
            " WHERE j.id = %s",
            [rate, job_id, job_id],
        )


def _reset_connection_if_broken() -> None:
    """After a dropped connection (pg_terminate_backend, failover) the next query opens a fresh one."""
    if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
        connection.close()


# --- reconcile ----------------------------------------------------------------------------------------------


def reconcile() -> ReconcileReport:
    """Re-enqueue jobs Redis lost (queued, no live RQ job) and jobs whose worker died (running, lease expired);
    fail jobs that ran out of attempts; re-enqueue the outbox sender when rows wait unsent. Safe to run
    anywhere, any number of times at once."""
    report = ReconcileReport()
    grace = datetime.timedelta(seconds=settings.ARCHIVE_RECONCILE_GRACE_SECONDS)
    lease = datetime.timedelta(seconds=settings.ARCHIVE_JOB_LEASE_SECONDS)
    now = timezone.now()

    exhausted = list(
        ArchiveJob.objects.filter(
            status=Status.RUNNING, lease_expires_at__lt=Now(), attempts__gte=settings.ARCHIVE_JOB_MAX_ATTEMPTS
        ).values_list("pk", flat=True)
    )
    for job_id in exhausted:
        if _fail_abandoned_job(job_id):
            report.failed.append(job_id)

    candidates = list(
        ArchiveJob.objects.filter(
            Q(status=Status.QUEUED, enqueued_at__lt=now - grace)
            | Q(status=Status.QUEUED, enqueued_at__isnull=True)
            | Q(status=Status.RUNNING, lease_expires_at__lt=Now())
        )
        .exclude(pk__in=report.failed)
        .values_list("pk", "status", "rq_job_id", "enqueued_at")
    )
    if candidates:
        rq_statuses = _rq_statuses([rq_job_id for _, _, rq_job_id, _ in candidates])
        for job_id, status, rq_job_id, enqueued_at in candidates:
            rq_status = rq_statuses.get(rq_job_id)
            if rq_status in WAITING_RQ_STATUSES:
                continue  # a worker will pick it up
            if status == Status.QUEUED and rq_status == "started" and enqueued_at and enqueued_at > now - lease:
                continue  # a worker is taking the lease right now
            if _requeue(job_id, status, rq_job_id):
                report.requeued.append(job_id)

    report.outbox_sender_enqueued = _nudge_outbox()
    if report.requeued or report.failed:
        logger.info("Reconciler: re-enqueued jobs %s, failed jobs %s", report.requeued, report.failed)
    return report


def _rq_statuses(rq_job_ids: Sequence[str]) -> dict[str, str | None]:
    """The RQ status of each job id, in one round trip (None: Redis has no such job)."""
    import django_rq

    redis = django_rq.get_connection(ARCHIVE_QUEUE)
    pipeline = redis.pipeline(transaction=False)
    for rq_job_id in rq_job_ids:
        pipeline.hget(f"rq:job:{rq_job_id}", "status")
    values = pipeline.execute()
    return {rq_job_id: (value.decode() if value else None) for rq_job_id, value in zip(rq_job_ids, values, strict=True)}


def _requeue(job_id: int, status: str, old_rq_job_id: str) -> bool:
    """Point the row at a new RQ job (conditionally, so concurrent reconcilers enqueue once) and enqueue it."""
    new_rq_job_id = _new_rq_job_id()
    if not ArchiveJob.objects.filter(pk=job_id, status=status, rq_job_id=old_rq_job_id).update(
        rq_job_id=new_rq_job_id, enqueued_at=Now()
    ):
        return False
    return enqueue_archive_job(job_id, new_rq_job_id)


def _fail_abandoned_job(job_id: int) -> bool:
    with transaction.atomic():
        if not ArchiveJob.objects.filter(pk=job_id, status=Status.RUNNING, lease_expires_at__lt=Now()).update(
            status=Status.FAILED,
            finished_at=Now(),
            lease_owner="",
            lease_expires_at=None,
            error="The job was interrupted too many times; the items not reached were not processed.",
        ):
            return False
        _close_items(job_id)
        job = ArchiveJob.objects.select_related("requested_by").get(pk=job_id)
        record(
            actor=job.requested_by,
            action="archive_job.finished",
            object_type="archive_job",
            object_id=job_id,
            details={"status": job.status, "counts": job.counts, "error": job.error},
        )
    return True


def _nudge_outbox() -> bool:
    """Re-enqueue the notification sender when outbox rows due now have waited unsent for more than a minute
    (after a mail server failure, a lost queue entry, or the retry time of a temporarily refused message)."""
    try:
        from lms_admin.notifications.jobs import due_rows
        from lms_admin.notifications.services import enqueue_outbox_sender
    except ImportError:
        return False
    stuck_before = timezone.now() - datetime.timedelta(minutes=1)
    if not due_rows().filter(created_at__lt=stuck_before).exists():
        return False
    try:
        return enqueue_outbox_sender()
    except Exception:
        logger.exception("Reconciler: could not enqueue the outbox sender.")
        return False


# --- purge --------------------------------------------------------------------------------------------------


def purge_finished_jobs(*, older_than_days: int | None = None, now: datetime.datetime | None = None) -> int:
    """Delete finished jobs older than the retention (items go with them; snapshots keep their data and lose
    only their job reference). Returns how many jobs were deleted."""
    days = settings.ARCHIVE_JOB_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    with transaction.atomic():
        job_ids = list(
            ArchiveJob.objects.filter(status__in=ArchiveJob.FINISHED, finished_at__lt=cutoff).values_list(
                "pk", flat=True
            )
        )
        if not job_ids:
            return 0
        ArchivedPlanEnrollment.objects.filter(job_id__in=job_ids).update(job=None)
        ArchiveJobItem.objects.filter(job_id__in=job_ids).delete()
        ArchiveJob.objects.filter(pk__in=job_ids).delete()
    return len(job_ids)
