"""`python manage.py run_worker`: one RQ worker process serving every queue of the project, which also runs
the archive-job reconciler and the retraining tick (daily runs, reminders) at start and every
ARCHIVE_RECONCILE_INTERVAL_SECONDS between jobs."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from rq import Worker


class ReconcilingWorker(Worker):
    """RQ's forking worker with the reconciler hooked into its maintenance step.

    The blocking dequeue wakes up at least every reconcile interval, so an idle worker reconciles on time;
    a busy one reconciles between jobs (archive jobs are minutes at most, and every worker reconciles).
    """

    reconcile_interval = 60.0
    _last_reconciled: float | None = None

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, int(self.reconcile_interval)))

    @property
    def reconcile_due(self) -> bool:
        return self._last_reconciled is None or time.monotonic() - self._last_reconciled >= self.reconcile_interval

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return super().should_run_maintenance_tasks or self.reconcile_due

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
        if self.reconcile_due:
            self._last_reconciled = time.monotonic()
            self.reconcile()

    def reconcile(self) -> None:
        from archive.services import reconcile

        try:
            report = reconcile()
            if report.requeued or report.failed:
                self.log.info("Reconciler: re-enqueued %s, failed %s", report.requeued, report.failed)
        except Exception:
            self.log.exception("Reconciler run failed; retrying at the next interval.")
        try:
            self.retraining()
        except Exception:
            self.log.exception("Retraining tick failed; retrying at the next interval.")
        finally:
            # The work horse is a fork of this process: it must not inherit an open database connection.
            connections.close_all()

    def retraining(self) -> None:
        """Today's retraining runs (from RETRAINING_RUN_HOUR_UTC), finished runs, certification reminders."""
        from archive.services.periodic import retraining_tick

        report = retraining_tick()
        if report["runs_started"] or report["runs_finished"]:
            self.log.info("Retraining: started runs %s, finished %s", report["runs_started"], report["runs_finished"])

    def execute_job(self, job, queue):
        connections.close_all()
        return super().execute_job(job, queue)


class Command(BaseCommand):
    help = "Run one worker serving every queue of lms_admin (archive jobs, certificates, notifications)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="Stop when the queues are empty.")
        parser.add_argument("--name", default=None, help="Worker name (default: generated).")

    def handle(self, *args, **options):
        import django_rq

        # Imported once here, so every forked work horse starts with the job code loaded — WeasyPrint above all:
        # importing it and setting up its fonts take over a second, which every chunk of certificate PDFs would
        # otherwise pay again.
        import archive.jobs  # noqa: F401
        import archive.services  # noqa: F401
        from enrollments.certificates import preload

        preload()

        worker = django_rq.get_worker(*settings.RQ_QUEUE_NAMES, name=options["name"], worker_class=ReconcilingWorker)
        worker.reconcile_interval = float(settings.ARCHIVE_RECONCILE_INTERVAL_SECONDS)
        connections.close_all()
        worker.work(burst=options["burst"], with_scheduler=False)
