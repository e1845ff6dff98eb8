"""RQ entry points of the archive app: load, call a service (the work is in `archive.services`)."""

from __future__ import annotations

from . import services
from .services.certificates import render_pending_certificates


def run_archive_job(job_id: int) -> None:
    """Run or resume archive job `job_id`; a no-op when another worker holds its lease or it is finished."""
    services.run_job(job_id)


def render_archived_certificates(archive_ids: list[int]) -> int:
    """Render the pending certificates of these archived records (the `certificates` queue)."""
    return render_pending_certificates(archive_ids)


def reconcile() -> dict:
    """Re-enqueue archive jobs Redis lost or whose worker died, and nudge the outbox sender."""
    report = services.reconcile()
    return {
        "requeued": report.requeued,
        "failed": report.failed,
        "outbox_sender_enqueued": report.outbox_sender_enqueued,
        "pending_certificates_enqueued": report.pending_certificates_enqueued,
    }
