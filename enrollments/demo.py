"""The live part of the deterministic demo data (SPEC §6): users, plans, courses, enrollments, tracking.

`manage.py seed_demo` runs it through `lms_admin.demo.seed_demo`, which then adds the archived history
(`archive.demo`) and the first certificate PDFs. Everything a person sees — names, usernames, uids, dates,
statuses, tracking — comes from one `random.Random(seed)` and a fixed clock (`demo_builder`), so two runs with the
same options build the same data (password hashes and database ids aside). Rows are written with PostgreSQL COPY
into ids reserved from the tables' sequences in one query each (`demo_load`); statuses are then computed by the
status function (`enrollments.status`) over every pair at once, never row by row.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Sequence

from django.db import connection, transaction

from .demo_builder import LOADED_MODELS, DemoBuilder
from .demo_load import existing_data_counts, flush_data, keys_and_indexes_built_after_loading

DEFAULT_NOW = datetime.datetime(2026, 1, 15, 9, 0, tzinfo=datetime.UTC)
DEFAULT_SEED = 42
DEFAULT_TOTAL_PLAN_ENROLLMENTS = 5_000


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    now: datetime.datetime = DEFAULT_NOW
    seed: int = DEFAULT_SEED
    users: int = 2_000
    plans: int = 6
    courses: int = 20
    enrollments_per_plan: int | None = None
    certificates_max: int = 60

    @property
    def per_plan(self) -> int:
        if self.enrollments_per_plan is not None:
            return min(self.enrollments_per_plan, self.users)
        return min(self.users, -(-DEFAULT_TOTAL_PLAN_ENROLLMENTS // max(self.plans, 1)))


@dataclasses.dataclass
class DemoSummary:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    certificates_rendered: int = 0
    certificates_pending: list[int] = dataclasses.field(default_factory=list)


class DemoDataExists(Exception):
    """The database already holds users or plans; seeding would mix demo data into them."""


def seed_live_data(options: DemoOptions, *, flush: bool = False) -> tuple[DemoSummary, list[int]]:
    """Write the live demo data in one transaction; returns what was done and the certificates issued, team first.

    The archived history and the certificate PDFs come after it: `lms_admin.demo.seed_demo` does the whole."""
    with transaction.atomic():
        if flush:
            started = time.perf_counter()
            flush_data()
            flushed = time.perf_counter() - started
        counts = existing_data_counts()
        if any(counts.values()):
            found = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
            raise DemoDataExists(f"The database already holds data ({found}). Run with --flush to wipe it first.")
        with connection.cursor() as cursor:
            # One big loading transaction: room to hash and sort in memory; demo data needs no synchronous flush.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
        builder = DemoBuilder(
            now=options.now,
            seed=options.seed,
            users=options.users,
            plans=options.plans,
            courses=options.courses,
            per_plan=options.per_plan,
        )
        with keys_and_indexes_built_after_loading(LOADED_MODELS):
            builder.build()
            started = time.perf_counter()
        summary = DemoSummary(counts=builder.counts, timings=builder.timings)
        summary.timings["keys and indexes"] = time.perf_counter() - started
        if flush:
            summary.timings = {"flush": flushed, **summary.timings}
        started = time.perf_counter()
    summary.timings["commit"] = time.perf_counter() - started
    return summary, builder.certificate_ids


def render_certificates_now(certificate_ids: Sequence[int]) -> int:
    """Render these certificates' PDFs in this process (the demo's first ones; the worker renders the rest)."""
    from .jobs import render_certificates

    return render_certificates(list(certificate_ids)) if certificate_ids else 0
