"""Running a background archive job: the lease, the batches, retries and bisection, progress (SPEC §4.5).

Every step is safe to repeat: a second RQ job for the same archive job finds the lease taken and returns, and
a batch re-run after a crash is idempotent in the engine.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce, Now

from lms_admin.audit.services import record
from lms_admin.pause import pause_point

from ..models import ArchiveJob, ArchiveJobItem, Outcome
from .engine import ItemResult, archive_batch

logger = logging.getLogger(__name__)

Status = ArchiveJob.Status


class LeaseLost(Exception):
    """Another worker took this job over (our lease expired); stop without writing anything more."""


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
            reset_connection_if_broken()
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

    def record_batch(self, results: Sequence[ItemResult]) -> bool:
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
            refresh_counts(self.job.pk, rate=self.done_in_run / elapsed)
        return cancel_requested

    def finish(self, status: str, error: str = "") -> ArchiveJob:
        job = self.job
        with transaction.atomic():
            if not ArchiveJob.objects.filter(pk=job.pk, lease_owner=self.owner, status=Status.RUNNING).update(
                status=status, finished_at=Now(), lease_owner="", lease_expires_at=None, error=error
            ):
                raise LeaseLost
            close_items(job.pk)
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

    def archive(self, pairs: Sequence[tuple[int, int]]) -> list[ItemResult]:
        try:
            return self.call_engine(pairs)
        except Exception as exc:
            logger.warning("Archive job #%s: batch of %s raised %r; retrying once.", self.job.pk, len(pairs), exc)
            reset_connection_if_broken()
        try:
            return self.call_engine(pairs)
        except (OperationalError, InterfaceError):
            raise  # the database is unreachable, not these items: hand the job back instead of failing them
        except Exception as exc:
            reset_connection_if_broken()
            return self.bisect(pairs, exc)

    def bisect(self, pairs: Sequence[tuple[int, int]], error: Exception) -> list[ItemResult]:
        if len(pairs) == 1:
            logger.error("Archive job #%s: enrollment %s failed: %r", self.job.pk, pairs[0][0], error)
            return [ItemResult(pairs[0][0], Outcome.FAILED.value, None, f"{type(error).__name__}: {error}"[:2000])]
        middle = len(pairs) // 2
        results: list[ItemResult] = []
        for half in (pairs[:middle], pairs[middle:]):
            try:
                results.extend(self.call_engine(half))
            except Exception as exc:
                reset_connection_if_broken()
                results.extend(self.bisect(half, exc))
        return results

    def call_engine(self, pairs: Sequence[tuple[int, int]]) -> list[ItemResult]:
        """The engine's results for one batch; a pair it did not answer for counts as failed, so counts add up."""
        job = self.job
        results = archive_batch(
            list(pairs),
            actor=job.requested_by,
            mode=job.mode,
            reset_tracking=job.reset_tracking,
            notify=job.notify,
            job=job,
        )
        answered = {result.enrollment_id for result in results}
        results.extend(
            ItemResult(enrollment_id, Outcome.FAILED.value, None, "The archive engine reported no outcome for it.")
            for enrollment_id, _ in pairs
            if enrollment_id not in answered
        )
        return results


def close_items(job_id: int) -> None:
    """Items never reached become not_processed; counts are recomputed from the items (they add up)."""
    ArchiveJobItem.objects.filter(job_id=job_id, outcome="").update(outcome=Outcome.NOT_PROCESSED)
    refresh_counts(job_id)


def refresh_counts(job_id: int, *, rate: float | None = None) -> None:
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


def reset_connection_if_broken() -> None:
    """After a dropped connection (pg_terminate_backend, failover) the next query opens a fresh one."""
    if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
        connection.close()
