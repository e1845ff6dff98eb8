"""Benchmark of "what changed since the archived round" (SPEC §13): what recording the plan's content adds to the
§9 archive of 10,000 (median of 3 runs with it, 3 without), the diff of a 100-course × 50-material plan, and the
bulk preview of the 10,000 (5 × 5 plan, select all, reset only what changed) after their first round.

Each archive run starts from a fresh copy of a template seeded once (`bench/seeding.py`), in a process of its own.
Databases `lms_bench_content_tpl` and `lms_bench_content` live on DATABASE_URL's server.

    python -m bench --only content [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from bench.common import REPO_ROOT, SeededCopies, bench_admin, recreate_database, run_child
from bench.seeding import PLAN_CODE

TEMPLATE_DB = "lms_bench_content_tpl"
WORK_DB = "lms_bench_content"
LEARNERS, QUICK_LEARNERS = 10_000, 1_000
RUNS = 3
OVERHEAD_TARGET = 0.05
DIFF_TARGET_MS, PREVIEW_TARGET_S = 50, 1.0
BIG_COURSES, BIG_MATERIALS = 100, 50


def run(quick: bool = False) -> list[dict]:
    from django.conf import settings

    learners = QUICK_LEARNERS if quick else LEARNERS
    base_url = settings.DATABASE_URL
    with SeededCopies("content", base_url, template=TEMPLATE_DB, work=WORK_DB) as copies:
        sizes = copies.seed("bench.engine", ["seed", "--learners", str(learners)])
        data = f"1 plan (5 courses × 5 materials), {sizes['enrollments']:,} enrollments, batch {sizes['batch_size']}"
        seconds: dict[str, list[float]] = {"on": [], "off": []}
        preview = None
        for _ in range(RUNS):
            for recording in ("off", "on"):  # interleaved: a slow minute of the shared machine hits both
                copies.fresh_copy()
                result = child(
                    ["measure", "--preview", str(int(recording == "on" and preview is None))],
                    copies.work_url,
                    copies.media,
                    env={"ARCHIVE_RECORD_CONTENT": "1" if recording == "on" else "0"},
                )
                seconds[recording].append(result["seconds"])
                preview = preview or result.get("preview")
        on, off = statistics.median(seconds["on"]), statistics.median(seconds["off"])
        recreate_database(base_url, WORK_DB)
        diff = child(["diff"], copies.work_url, copies.media)
        return [
            {
                "figure": f"Archive {learners:,} (re-enroll, keep, notifications off) with content recording, "
                f"median of {RUNS}",
                "floor": f"{off:.2f} s without recording",
                "target": f"≤ +{OVERHEAD_TARGET:.0%}",
                "measured": f"{on:.2f} s ({(on - off) / off:+.1%}); runs on {fmt(seconds['on'])}, "
                f"off {fmt(seconds['off'])}",
                "ratio": round(on / off, 3),
                "data": data,
            },
            {
                "figure": f"Diff of a {BIG_COURSES}-course × {BIG_MATERIALS}-material plan against the round before "
                "(baseline + one diff statement), median of 5",
                "floor": "",
                "target": f"≤ {DIFF_TARGET_MS} ms",
                "measured": f"{diff['ms']:.1f} ms",
                "ratio": round(diff["ms"] / DIFF_TARGET_MS, 2),
                "data": f"{diff['materials']:,} materials; 50 added, 50 removed, 100 marked changed since",
            },
            {
                "figure": f"Bulk preview of {learners:,} (select all, re-enroll, reset only what changed) after their "
                "first round, median of 3",
                "floor": "",
                "target": f"≤ {PREVIEW_TARGET_S:g} s",
                "measured": f"{preview['seconds']:.2f} s ({preview['queries']} queries)",
                "ratio": round(preview["seconds"] / PREVIEW_TARGET_S, 2),
                "data": data + f"; {preview['completed_again']:,} Completed again at once",
            },
        ]


def fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def child(args: list[str], database: str, media: Path, env: dict | None = None) -> dict:
    return run_child("bench.content", args, database=database, media=media, env=env)


def measure(preview: bool) -> dict:
    """Archive the 10,000 (re-enroll, keep, notifications off) in-process; then, if asked, time the bulk preview of
    their next round."""
    from archive.services import archive_enrollments
    from enrollments.models import LearningPlanEnrollment

    ids = list(
        LearningPlanEnrollment.objects.filter(learning_plan__code=PLAN_CODE).order_by("pk").values_list("pk", flat=True)
    )
    admin = bench_admin()
    started = time.monotonic()
    outcome = archive_enrollments(enrollment_ids=ids, actor=admin, mode="reenroll", notify=False)
    seconds = time.monotonic() - started
    if outcome.counts.get("archived") != len(ids):
        raise RuntimeError(f"the engine archived {outcome.counts}")
    return {"seconds": seconds, "preview": time_preview() if preview else None}


def time_preview() -> dict:
    from django.db import connection

    from archive.previews import preview_changes, preview_selection
    from enrollments.models import LearningPlan
    from enrollments.selectors import filter_plan_enrollments

    plan = LearningPlan.objects.get(code=PLAN_CODE)
    times, queries, shown = [], 0, None
    for _ in range(3):
        counted: list[int] = []

        def count(execute, *args, counted=counted):
            counted.append(1)
            return execute(*args)

        with connection.execute_wrapper(count):
            started = time.monotonic()
            selection = filter_plan_enrollments(plan, {})
            shown = preview_changes(
                plan,
                selection,
                preview_selection(plan, selection, mode="reenroll", reset_tracking="changed", notify=True),
            )
            times.append(time.monotonic() - started)
        queries = len(counted)
    return {"seconds": statistics.median(times), "queries": queries, "completed_again": shown.completed_again}


def diff_of_big_plan() -> dict:
    """A 100 × 50 plan, one enrollment archived; then 50 materials added, 50 removed, 100 marked changed; time what
    the pop-up computes for that enrollment."""
    from django.core.management import call_command
    from django.utils import timezone

    from archive.content import enrollment_diff
    from archive.services import archive_enrollments
    from enrollments.models import Course, LearningPlan, LearningPlanCourse, TrainingMaterial
    from enrollments.services import enroll_user
    from lms_admin.accounts.models import User

    call_command("migrate", verbosity=0)
    plan = LearningPlan.objects.create(title="Bench: big plan", code="BENCH-BIG")
    courses = Course.objects.bulk_create(Course(title=f"Course {i}", code=f"B{i:03d}") for i in range(BIG_COURSES))
    LearningPlanCourse.objects.bulk_create(
        LearningPlanCourse(learning_plan=plan, course=course, position=i) for i, course in enumerate(courses)
    )
    TrainingMaterial.objects.bulk_create(
        TrainingMaterial(course=course, title=f"{course.title} · material {m}", position=m)
        for course in courses
        for m in range(BIG_MATERIALS)
    )
    learner = User.objects.create(username="bench_learner", password="!")
    enrollment = enroll_user(user=learner, learning_plan=plan)
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=bench_admin(), mode="reenroll", notify=False)
    materials = list(TrainingMaterial.objects.order_by("pk").values_list("pk", flat=True))
    TrainingMaterial.objects.filter(pk__in=materials[:50]).delete()
    TrainingMaterial.objects.filter(pk__in=materials[100:200]).update(content_changed_at=timezone.now())
    TrainingMaterial.objects.bulk_create(
        TrainingMaterial(course=courses[i % BIG_COURSES], title=f"New {i}", position=99) for i in range(50)
    )
    times = []
    for _ in range(5):
        started = time.monotonic()
        diff = enrollment_diff(enrollment.pk, plan.pk)
        times.append((time.monotonic() - started) * 1000)
    if (len(diff.added), len(diff.removed), len(diff.changed)) != (50, 50, 100):
        raise RuntimeError("the diff of the big plan is not what was changed")
    return {"ms": statistics.median(times), "materials": diff.materials_total}


def main(argv: list[str]) -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(prog="python -m bench.content")
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--learners", type=int, default=LEARNERS)
    measuring = sub.add_parser("measure")
    measuring.add_argument("--preview", type=int, default=0)
    sub.add_parser("diff")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    django.setup()
    if args.command == "seed":
        from bench.seeding import seed

        result = seed(args.learners)
    elif args.command == "measure":
        result = measure(bool(args.preview))
    else:
        result = diff_of_big_plan()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
