"""Benchmark of the archiving engine (SPEC §9): archive the 10,000 bench enrollments with `archive_enrollments`
in each mode, beside our own hand-written set-based SQL doing the same writes (the floor).

The data is seeded once into a template database; every run starts from a fresh copy of it
(`CREATE DATABASE … TEMPLATE …`) and of the certificate files, in a process of its own (so its peak RSS
is the run's). Databases `lms_bench_engine_tpl` and `lms_bench_engine` live on DATABASE_URL's server.

    python -m bench --only engine [--quick]
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from bench.common import REPO_ROOT, SeededCopies, run_child
from bench.seeding import PLAN_CODE

TEMPLATE_DB = "lms_bench_engine_tpl"
WORK_DB = "lms_bench_engine"
LEARNERS = 10_000
QUICK_LEARNERS = 1_000
QUERIES_PER_BATCH_TARGET = 15
RSS_TARGET_MB = 300

# name, mode, reset_tracking, notify, target seconds (SPEC §9 ceilings for 10,000)
SCENARIOS = [
    ("re-enroll, keep tracking, notifications on", "reenroll", False, True, 16.0),
    ("re-enroll, keep tracking, notifications off", "reenroll", False, False, 10.0),
    ("re-enroll, reset tracking, notifications on", "reenroll", True, True, 14.0),
    ("unenroll, keep tracking, notifications on", "unenroll", False, True, 13.0),
]


# ---------------------------------------------------------------------------------------------------------
# The parent: databases, copies, subprocesses, rows.


def run(quick: bool = False) -> list[dict]:
    """Seed the template once, then each scenario twice (engine, floor) on a fresh copy; one row per figure."""
    from django.conf import settings

    learners = QUICK_LEARNERS if quick else LEARNERS
    with SeededCopies("engine", settings.DATABASE_URL, template=TEMPLATE_DB, work=WORK_DB) as copies:
        sizes = copies.seed("bench.engine", ["seed", "--learners", str(learners)])
        data = (
            f"1 plan (5 courses × 5 materials), {sizes['enrollments']:,} enrollments, "
            f"{sizes['tracking']:,} tracking rows ({sizes['completed_tracking_pct']}% completed), "
            f"{sizes['certificates']:,} certificates, batch {sizes['batch_size']}"
        )
        rows = []
        for name, mode, reset, notify, target in SCENARIOS:
            results = {}
            for kind in ("engine", "floor"):
                copies.fresh_copy()
                results[kind] = child(
                    measure_args(kind, mode, reset=reset, notify=notify), copies.work_url, copies.media
                )
            engine, floor = results["engine"], results["floor"]
            scaled_target = target * learners / LEARNERS
            outbox = f", {engine['outbox']:,} outbox rows" if notify else ""
            rows.append(
                {
                    "figure": f"Archive {engine['archived']:,}: {name}",
                    "floor": f"{floor['seconds']:.1f} s",
                    "target": f"≤ {scaled_target:g} s",
                    "measured": f"{engine['seconds']:.1f} s",
                    "ratio": round(engine["seconds"] / floor["seconds"], 2),
                    "data": data + outbox,
                }
            )
            rows.append(
                {
                    "figure": f"Archive {engine['archived']:,}: {name} — queries per batch",
                    "floor": f"{floor['queries_per_batch']:.1f}",
                    "target": f"≤ {QUERIES_PER_BATCH_TARGET}",
                    "measured": (
                        f"{engine['queries_per_batch']:.1f} ({engine['queries']} in {engine['batches']} batches)"
                    ),
                    "ratio": round(engine["queries_per_batch"] / QUERIES_PER_BATCH_TARGET, 2),
                    "data": data,
                }
            )
            rows.append(
                {
                    "figure": f"Archive {engine['archived']:,}: {name} — peak RSS of the process",
                    "floor": f"{floor['rss_mb']:.0f} MB",
                    "target": f"≤ {RSS_TARGET_MB} MB",
                    "measured": f"{engine['rss_mb']:.0f} MB",
                    "ratio": round(engine["rss_mb"] / RSS_TARGET_MB, 2),
                    "data": data,
                }
            )
        return rows


def measure_args(kind: str, mode: str, *, reset: bool, notify: bool) -> list[str]:
    """The child's command line measuring one run: `kind` is "engine" or "floor"."""
    return ["measure", "--kind", kind, "--mode", mode, "--reset", str(int(reset)), "--notify", str(int(notify))]


def child(args: list[str], database: str, media: Path) -> dict:
    """`python -m bench.engine *args` (seed or measure) on this database and MEDIA_ROOT; its JSON result."""
    return run_child("bench.engine", args, database=database, media=media)


# ---------------------------------------------------------------------------------------------------------
# The child: measuring one run (bench/seeding.py seeds the template, bench/floor.py is the floor).


def measure(kind: str, mode: str, reset: bool, notify: bool) -> dict:
    """One run on a fresh copy: wall time, queries (counted, not kept), peak RSS, rows written."""
    import django_rq
    from django.conf import settings
    from django.db import connection

    from archive.services import archive_enrollments
    from bench.floor import floor
    from enrollments.models import LearningPlanEnrollment
    from lms_admin.accounts.models import User
    from lms_admin.notifications.models import OutboxMessage

    ids = list(
        LearningPlanEnrollment.objects.filter(learning_plan__code=PLAN_CODE).order_by("pk").values_list("pk", flat=True)
    )
    admin = User.objects.get(username="bench_admin")
    connection.ensure_connection()
    queues = [django_rq.get_queue(name) for name in ("notifications", "certificates")]
    queued_before = {queue.name: set(queue.get_job_ids()) for queue in queues}
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    started = time.monotonic()
    with connection.execute_wrapper(count):
        if kind == "engine":
            outcome = archive_enrollments(
                enrollment_ids=ids, actor=admin, mode=mode, reset_tracking=reset, notify=notify
            )
            archived = outcome.counts.get("archived", 0)
            if archived != len(ids):
                raise RuntimeError(f"the engine archived {outcome.counts}")
        else:
            archived = floor(ids, admin=admin, mode=mode, reset=reset, notify=notify)
    seconds = time.monotonic() - started
    for queue in queues:
        # Take back only what this run enqueued on commit: the data it points at is thrown away.
        for job_id in set(queue.get_job_ids()) - queued_before[queue.name]:
            queue.remove(job_id)
            job = queue.fetch_job(job_id)
            if job is not None:
                job.delete()
    batches = -(-len(ids) // settings.ARCHIVE_BATCH_SIZE)
    return {
        "seconds": seconds,
        "queries": queries,
        "batches": batches,
        "queries_per_batch": queries / batches,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "archived": archived,
        "outbox": OutboxMessage.objects.count(),
    }


def main(argv: list[str]) -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--learners", type=int, default=LEARNERS)
    measuring = sub.add_parser("measure")
    measuring.add_argument("--kind", choices=["engine", "floor"], required=True)
    measuring.add_argument("--mode", choices=["reenroll", "unenroll"], required=True)
    measuring.add_argument("--reset", type=int, default=0)
    measuring.add_argument("--notify", type=int, default=1)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    django.setup()
    if args.command == "seed":
        from bench.seeding import seed

        result = seed(args.learners)
    else:
        result = measure(args.kind, args.mode, bool(args.reset), bool(args.notify))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
