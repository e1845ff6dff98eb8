"""The reconciler and the purge of finished jobs (SPEC §4.5): PostgreSQL is the truth, so whatever Redis lost or
a dead worker left behind is found from the job rows and enqueued again. It also drops expired request keys.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from enrollments.jobs import enqueue_stuck_certificates
from lms_admin.audit.services import record
from lms_admin.notifications.services import due_rows, enqueue_outbox_sender

from ..models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem
from .certificates import enqueue_stuck_pending_certificates
from .imports import expire_imports
from .job_runs import close_items, lock_for_takeover
from .request_keys import purge_expired_request_keys
from .submission import ARCHIVE_QUEUE, enqueue_archive_job, new_rq_job_id

logger = logging.getLogger(__name__)

# RQ statuses meaning "a worker will still pick this up, or is running it".
WAITING_RQ_STATUSES = {"queued", "deferred", "scheduled"}
Status = ArchiveJob.Status


@dataclass
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    outbox_sender_enqueued: bool = False
    pending_certificates_enqueued: int = 0
    request_keys_purged: int = 0
    imports_expired: int = 0


# --- reconcile ----------------------------------------------------------------------------------------------


def reconcile() -> ReconcileReport:
    """Re-enqueue jobs Redis lost (queued, no live RQ job) and jobs whose worker died (running, lease expired);
    fail jobs that ran out of attempts; re-enqueue the outbox sender when rows wait unsent. Safe to run
    anywhere, any number of times at once. Request keys past their 24 hours go too (SPEC §4.10), and validated
    imports past their expiry become expired (SPEC §12)."""
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
    report.pending_certificates_enqueued = _nudge_pending_certificates()
    report.request_keys_purged = purge_expired_request_keys()
    report.imports_expired = expire_imports()
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
    rq_job_id = new_rq_job_id()
    if not ArchiveJob.objects.filter(pk=job_id, status=status, rq_job_id=old_rq_job_id).update(
        rq_job_id=rq_job_id, enqueued_at=Now()
    ):
        return False
    return enqueue_archive_job(job_id, rq_job_id)


def _fail_abandoned_job(job_id: int) -> bool:
    """Fail a job out of attempts whose lease expired; a batch still in flight commits first, and its items are
    reported `archived` (close_items), never `not_processed`."""
    with transaction.atomic():
        if not lock_for_takeover(job_id, queued_too=False):
            return False
        ArchiveJob.objects.filter(pk=job_id).update(
            status=Status.FAILED,
            finished_at=Now(),
            lease_owner="",
            lease_expires_at=None,
            error="The job was interrupted too many times; the items not reached were not processed.",
        )
        close_items(job_id)
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
    stuck_before = timezone.now() - datetime.timedelta(minutes=1)
    if not due_rows().filter(created_at__lt=stuck_before).exists():
        return False
    try:
        return enqueue_outbox_sender()
    except Exception:
        logger.exception("Reconciler: could not enqueue the outbox sender.")
        return False


def _nudge_pending_certificates() -> int:
    """Enqueue certificates still unrendered after the render grace — archived ones pending since their archive
    and live ones since they were issued (a lost queue entry, Redis down at commit, a worker killed mid-render)."""
    try:
        return enqueue_stuck_pending_certificates() + enqueue_stuck_certificates()
    except Exception:
        logger.exception("Reconciler: could not enqueue the unrendered certificates.")
        return 0


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
