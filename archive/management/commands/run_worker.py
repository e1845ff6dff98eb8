"""`python manage.py run_worker`: one RQ worker process serving every queue of the project."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run one worker serving every queue of lms_admin (archive jobs, certificates, notifications)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="Stop when the queues are empty.")
        parser.add_argument("--name", default=None, help="Worker name (default: generated).")

    def handle(self, *args, **options):
        import django_rq

        queues = [django_rq.get_queue(name) for name in settings.RQ_QUEUE_NAMES]
        worker = django_rq.get_worker(*[q.name for q in queues], name=options["name"])
        worker.work(burst=options["burst"], with_scheduler=False)
