"""`python manage.py seed_demo`: deterministic demo data (SPEC §6) — same options, same data."""

from __future__ import annotations

import contextlib
import datetime
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from enrollments.demo import DEFAULT_NOW, DEFAULT_SEED, DemoDataExists, DemoOptions
from lms_admin.demo import seed_demo
from lms_admin.queues import enqueues_held

DEMO_ROLES = {
    "admin": "superadmin (and the Django admin)",
    "power": "power user with two plans",
    "manager": "first-level manager of 10 learners",
    "director": "manager of manager and of other managers (second level for their teams)",
}


def aware_datetime(value: str) -> datetime.datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 datetime: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


class Command(BaseCommand):
    help = (
        "Fill an empty database with deterministic demo data: plans, courses, learners, enrollments, tracking, "
        "managers, certificates and the demo logins (admin, power, manager, director)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", type=aware_datetime, default=DEFAULT_NOW, help="The demo's clock (ISO 8601).")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Seed of the random generator.")
        parser.add_argument("--users", type=int, default=2_000, help="Number of learners.")
        parser.add_argument("--plans", type=int, default=6, help="Number of learning plans.")
        parser.add_argument("--courses", type=int, default=20, help="Number of courses.")
        parser.add_argument(
            "--enrollments-per-plan",
            type=int,
            default=None,
            help="Learners enrolled in each plan (default: about 5,000 plan enrollments in all).",
        )
        parser.add_argument(
            "--certificates-max",
            type=int,
            default=60,
            help="Certificate PDFs rendered now; the other certificate rows are queued for the worker.",
        )
        parser.add_argument("--no-enqueue", action="store_true", help="Do not queue the remaining certificate PDFs.")
        parser.add_argument("--flush", action="store_true", help="Wipe users, learning data and archives first.")

    def handle(self, *args, **options):
        for name in ("users", "plans", "courses", "certificates_max"):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} cannot be negative.")
        if options["courses"] < 1 and options["plans"] > 0:
            raise CommandError("Plans need at least one course.")
        demo = DemoOptions(
            now=options["now"],
            seed=options["seed"],
            users=options["users"],
            plans=options["plans"],
            courses=options["courses"],
            enrollments_per_plan=options["enrollments_per_plan"],
            certificates_max=options["certificates_max"],
        )
        started = time.perf_counter()
        try:
            # With --no-enqueue nothing goes on a queue: not the renders or the sender the history's archives ask for.
            with enqueues_held() if options["no_enqueue"] else contextlib.nullcontext():
                summary = seed_demo(demo, flush=options["flush"])
        except DemoDataExists as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started

        queued = False
        if summary.certificates_pending and not options["no_enqueue"]:
            queued = self.enqueue(summary.certificates_pending)

        out = self.stdout.write
        out(self.style.SUCCESS(f"Demo data seeded in {elapsed:.1f} s (seed {demo.seed}, clock {demo.now.isoformat()})"))
        for what, count in summary.counts.items():
            out(f"  {what:<22} {count:>9,}")
        out(f"  {'certificate PDFs':<22} {summary.certificates_rendered:>9,} rendered now")
        if summary.certificates_pending:
            where = "queued for the worker" if queued else "not queued: their rows wait for a render job"
            out(f"  {'':<22} {len(summary.certificates_pending):>9,} {where}")
        out("  timings: " + ", ".join(f"{label} {seconds:.2f} s" for label, seconds in summary.timings.items()))
        out("Logins (username/password):")
        for username, role in DEMO_ROLES.items():
            out(f"  {username + '/' + username:<20} {role}")

    def enqueue(self, certificate_ids: list[int]) -> bool:
        from enrollments.jobs import enqueue_certificate_rendering

        try:
            with transaction.atomic():
                for start in range(0, len(certificate_ids), 200):
                    enqueue_certificate_rendering(certificate_ids[start : start + 200])
        except Exception as exc:  # Redis down: the rows stay, their PDFs can be rendered later.
            self.stderr.write(f"Could not queue certificate rendering: {exc}")
            return False
        return True
