"""`python manage.py purge_jobs`: delete finished archive jobs past their retention (SPEC §4.5) and request keys
past their 24 hours (SPEC §4.10), and archive imports (with their rows) submitted or expired longer ago than the job
retention (SPEC §12)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from archive.services import purge_expired_request_keys, purge_finished_jobs, purge_imports


class Command(BaseCommand):
    help = (
        "Delete finished archive jobs older than ARCHIVE_JOB_RETENTION_DAYS (archived records keep their data), "
        "request keys older than 24 hours, and archive imports submitted or expired longer ago than that."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=settings.ARCHIVE_JOB_RETENTION_DAYS,
            help="Keep jobs finished within this many days (default: %(default)s).",
        )

    def handle(self, *args, **options):
        deleted = purge_finished_jobs(older_than_days=options["days"])
        self.stdout.write(f"Deleted {deleted} finished job(s) older than {options['days']} days.")
        keys = purge_expired_request_keys()
        self.stdout.write(f"Deleted {keys} request key(s) older than 24 hours.")
        imports = purge_imports(older_than_days=options["days"])
        self.stdout.write(f"Deleted {imports} archive import(s) submitted or expired over {options['days']} days ago.")
