"""RQ entry points of the archive app: load, call a service (the work is in `archive.services`)."""

from __future__ import annotations

from . import services


def run_archive_job(job_id: int) -> None:
    """Run or resume archive job `job_id`; a no-op when another worker holds its lease or it is finished."""
    services.run_job(job_id)


def reconcile() -> dict:
    """Re-enqueue archive jobs Redis lost or whose worker died, and nudge the outbox sender."""
    report = services.reconcile()
    return {
        "requeued": report.requeued,
        "failed": report.failed,
        "outbox_sender_enqueued": report.outbox_sender_enqueued,
    }
