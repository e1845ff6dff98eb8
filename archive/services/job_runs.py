"""Running a background archive job: the lease, the batches, retries and bisection, progress (SPEC §4.5, §4.10).

Every step is safe to repeat: a second RQ job for the same archive job finds the lease taken and returns, and
a batch re-run after a crash is idempotent in the engine. Every engine call renews the lease and then, inside
the batch's own transaction, makes sure it is still ours and that the requester may still archive.
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
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce, Now

from lms_admin.accounts.models import User
from lms_admin.accounts.roles import is_superadmin, require_superadmin
from lms_admin.audit.services import record
from lms_admin.pause import pause_point

from ..models import ArchiveJob, ArchiveJobItem, Outcome, Trigger
from .engine import ItemResult, archive_batch

logger = logging.getLogger(__name__)

Status = ArchiveJob.Status


# Jobs an admin asked for: they stop when that admin may no longer archive. A rule's jobs have no such person.
REQUESTER_CHECKED_TRIGGERS = (Trigger.MANUAL, Trigger.FILE)


class JobStopped(Exception):
    """The run must stop at once: never retried, never bisected into per-item failures."""


class LeaseLost(JobStopped):
    """Another worker took this job over (our lease expired), or the job was finished meanwhile; stop without
    writing anything more."""


class RequesterLost(JobStopped):
    """The admin who started the job is no longer a superadmin; the job fails with this message."""


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


def lock_for_takeover(job_id: int, *, queued_too: bool) -> bool:
    """Lock the job row FOR UPDATE if its lease expired (or, with `queued_too`, it waits to start); False if not.

    Whoever takes a job over (a worker taking the lease, the reconciler failing an abandoned job) calls this first
    in its transaction: it waits for a batch in flight, which holds the row FOR KEY SHARE until it commits
    (`JobRun.hold_lease`), so a job is never taken from a worker in the middle of writing a batch.
    """
    condition = Q(status=Status.RUNNING, lease_expires_at__lt=Now())
    if queued_too:
        condition |= Q(status=Status.QUEUED)
    return ArchiveJob.objects.select_for_update().filter(condition, pk=job_id).exists()


def _take_lease(job_id: int, owner: str) -> ArchiveJob | None:
    """The locked, conditional UPDATE that makes one worker the job's only runner (SPEC §4.5)."""
    with transaction.atomic():
        if not lock_for_takeover(job_id, queued_too=True):
            return None
        taken = ArchiveJob.objects.filter(pk=job_id).update(
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
            try:
                status = self.run_batches()
            except RequesterLost as stop:
                logger.warning("Archive job #%s: %s", job.pk, stop)
                return self.finish(Status.FAILED, str(stop))
            return self.finish(status)
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

    def run_batches(self) -> str:
        """Archive the items not done yet, batch after batch; the status to finish with (completed or cancelled)."""
        job = self.job
        while True:
            pairs = list(
                ArchiveJobItem.objects.filter(job_id=job.pk, outcome="")
                .order_by("position")
                .values_list("enrollment_id", "round")[: self.batch_size]
            )
            if not pairs:
                return Status.COMPLETED
            self.batch_number += 1
            if self.renew_lease():
                return Status.CANCELLED
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
                return Status.CANCELLED

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

    def hold_lease(self) -> None:
        """Inside the batch's transaction, before the engine writes: raise LeaseLost unless the lease is still ours,
        RequesterLost unless the requester may still archive.

        FOR KEY SHARE keeps the lease ours until the batch commits: a worker taking the job over, or the reconciler
        failing it, locks the row FOR UPDATE first (`lock_for_takeover`) and waits for this commit; a cancel request (a
        plain UPDATE) does not wait. Once the row is held, an expired lease no one took is as good as a live one.
        """
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT requested_by_id FROM archive_archivejob"
                " WHERE id = %s AND lease_owner = %s AND status = 'running' FOR KEY SHARE",
                [self.job.pk, self.owner],
            )
            row = cursor.fetchone()
        if row is None:
            raise LeaseLost
        self.check_requester(row[0])

    def check_requester(self, requester_id: int | None) -> None:
        """A job an admin asked for stops once that admin is demoted, deactivated or deleted (SPEC §4.10)."""
        job = self.job
        if job.trigger not in REQUESTER_CHECKED_TRIGGERS:
            return
        requester = User.objects.filter(pk=requester_id).first() if requester_id else None
        if requester is None or not is_superadmin(requester):
            raise RequesterLost(
                f"Stopped: {job.requested_by_username} is no longer a superadmin; nothing more was archived."
            )
        job.requested_by = requester  # the engine checks the actor too: the current row, not the one of the start

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
        except JobStopped:
            raise
        except Exception as exc:
            logger.warning("Archive job #%s: batch of %s raised %r; retrying once.", self.job.pk, len(pairs), exc)
            reset_connection_if_broken()
        try:
            return self.call_engine(pairs)
        except (JobStopped, OperationalError, InterfaceError):
            raise  # stopped, or the database is unreachable, not these items: never fail them one by one
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
            except JobStopped:
                raise
            except Exception as exc:
                reset_connection_if_broken()
                results.extend(self.bisect(half, exc))
        return results

    def call_engine(self, pairs: Sequence[tuple[int, int]]) -> list[ItemResult]:
        """The engine's results for these pairs, written only while the lease is ours (`hold_lease`); a pair it did
        not answer for counts as failed, so counts add up."""
        job = self.job
        self.renew_lease()  # retries and bisection take time too: every engine call starts with a full lease
        with transaction.atomic():
            self.hold_lease()
            pause_point("in_batch", self.batch_number)
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
    """Give every item of a stopping job its outcome; counts are recomputed from the items (they add up).

    An item whose batch committed before the run stopped (its worker died or lost the lease before writing the
    outcomes) has this job's snapshot: it is `archived`, never contradicted. The others become `not_processed`.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE archive_archivejobitem AS i"
            " SET outcome = %s, archive_id = s.id, message = 'Round ' || i.round || ' archived before the job stopped.'"
            " FROM archive_archivedplanenrollment AS s"
            " WHERE i.job_id = %s AND i.outcome = '' AND s.job_id = i.job_id"
            " AND s.enrollment_id = i.enrollment_id AND s.round = i.round",
            [Outcome.ARCHIVED.value, job_id],
        )
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


def cancel_archive_job(job: ArchiveJob, actor: User) -> ArchiveJob:
    """Queued → cancelled at once; running → the runner stops after its current batch. Done batches stay."""
    require_superadmin(actor)
    with transaction.atomic():
        if ArchiveJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, cancel_requested=True, finished_at=Now()
        ):
            close_items(job.pk)
        elif not ArchiveJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(cancel_requested=True):
            job.refresh_from_db(fields=["status"])
            raise ValidationError(
                f"Job #{job.pk} is {job.get_status_display().lower()}; only a queued or running job can be cancelled.",
                code="invalid_request",
            )
        record(actor=actor, action="archive_job.cancelled", object_type="archive_job", object_id=job.pk)
    job.refresh_from_db()
    return job
