"""Benchmark of archive from a file (SPEC §12): validating a CSV of 50,000 rows across 10 plans.

`run()` seeds (once) 10 plans with 5,000 learners enrolled in each, writes the CSV (username, plan_code), then
measures in child processes (their peak RSS is the run's) the median of several validations — wall time, queries
counted through Django's execute wrapper, peak RSS — beside the floor measured in the same run: `COPY` of the same
file into a temporary table and the resolving joins (users, plans, enrollments) in bare SQL.

    python -m bench --only import      # or: python -m bench.imports
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO_ROOT, bench_admin, run_child

PLANS = 10
LEARNERS = 5_000  # each enrolled in every plan: 50,000 rows
PLAN_CODE_PREFIX = "BENCH-IMPORT-"
USER_PREFIX = "bench_imp_"
REPEAT = 3
TARGET_SECONDS = 5.0
TARGET_QUERIES = 20
TARGET_RSS_MB = 300.0

FLOOR_SQL = """
CREATE TEMPORARY TABLE bench_import_floor (username text, plan_code text) ON COMMIT DROP;
"""
FLOOR_RESOLVE_SQL = """
SELECT count(e.id)
FROM bench_import_floor f
JOIN accounts_user u ON u.username = f.username
JOIN enrollments_learningplan p ON p.code = f.plan_code
LEFT JOIN enrollments_learningplanenrollment e ON e.user_id = u.id AND e.learning_plan_id = p.id
"""


def seed() -> list[str]:
    """The bench plans and learners (reused when present), set-based; the plan codes."""
    from django.db import connection, transaction

    from enrollments.models import LearningPlan, LearningPlanEnrollment

    codes = [f"{PLAN_CODE_PREFIX}{n:02d}" for n in range(PLANS)]
    plans = LearningPlan.objects.filter(code__in=codes)
    if plans.count() == PLANS and LearningPlanEnrollment.objects.filter(learning_plan__in=plans).count() == (
        PLANS * LEARNERS
    ):
        return codes
    with transaction.atomic():
        LearningPlanEnrollment.objects.filter(learning_plan__in=plans).delete()
        plans.delete()
        created = LearningPlan.objects.bulk_create(
            LearningPlan(title=f"Bench: import plan {n + 1}", code=code) for n, code in enumerate(codes)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                           is_active, date_joined, language, level)
                SELECT '!', false, %(prefix)s || lpad(i::text, 5, '0'), 'First' || i, 'Last' || i,
                       %(prefix)s || i || '@example.com', false, true, now(), 'en', 'user'
                FROM generate_series(1, %(n)s) AS i
                ON CONFLICT (username) DO NOTHING
                """,
                {"prefix": USER_PREFIX, "n": LEARNERS},
            )
            cursor.execute(
                """
                INSERT INTO enrollments_learningplanenrollment (user_id, learning_plan_id, enrolled_at, updated_at,
                       status, round)
                SELECT u.id, p.id, now(), now(), 0, 1
                FROM accounts_user u CROSS JOIN unnest(%(plans)s::bigint[]) AS p(id)
                WHERE u.username LIKE %(like)s
                """,
                {"plans": [plan.pk for plan in created], "like": USER_PREFIX + "%"},
            )
    return codes


def csv_bytes(codes: list[str]) -> bytes:
    lines = ["username,plan_code"]
    lines += [f"{USER_PREFIX}{i:05d},{code}" for code in codes for i in range(1, LEARNERS + 1)]
    return ("\n".join(lines) + "\n").encode()


def run() -> list[dict]:
    from django.conf import settings

    codes = seed()
    bench_admin()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bench-import.csv"
        path.write_bytes(csv_bytes(codes))
        megabytes = path.stat().st_size / 1e6
        runs = {
            kind: [_child(kind, path, settings.DATABASE_URL, Path(scratch)) for _ in range(REPEAT)]
            for kind in ("floor", "import")
        }
    for result in runs["import"]:
        if result["valid"] != PLANS * LEARNERS:
            raise RuntimeError(f"the import validated {result['valid']} rows, not {PLANS * LEARNERS}")
    floor = statistics.median(r["seconds"] for r in runs["floor"])
    seconds = statistics.median(r["seconds"] for r in runs["import"])
    queries = max(r["queries"] for r in runs["import"])
    rss = max(r["rss_mb"] for r in runs["import"])
    data = f"{PLANS * LEARNERS:,} rows, {PLANS} plans, {megabytes:.1f} MB; median of {REPEAT}"
    return [
        {
            "figure": "import: validate a 50,000-row file (parse, resolve, store rows)",
            "floor": f"{floor:.2f} s",
            "target": f"≤ {TARGET_SECONDS:.0f} s",
            "measured": f"{seconds:.2f} s",
            "ratio": f"{seconds / floor:.1f}× floor",
            "data": data,
        },
        {
            "figure": "import: queries for the validation",
            "floor": "",
            "target": f"≤ {TARGET_QUERIES}",
            "measured": str(queries),
            "ratio": f"{queries / TARGET_QUERIES:.2f}× target",
            "data": "constant in the number of rows (the rows themselves go in one COPY besides)",
        },
        {
            "figure": "import: peak RSS of the validating process",
            "floor": f"{max(r['rss_mb'] for r in runs['floor']):.0f} MB",
            "target": f"≤ {TARGET_RSS_MB:.0f} MB",
            "measured": f"{rss:.0f} MB",
            "ratio": f"{rss / TARGET_RSS_MB:.2f}× target",
            "data": "the whole Django process",
        },
    ]


def _child(kind: str, path: Path, database: str, media: Path) -> dict:
    return run_child("bench.imports", [kind, str(path)], database=database, media=media)


# ---------------------------------------------------------------------------------------------------------
# The child: one measured validation, or one floor.


def measure(kind: str, path: Path) -> dict:
    from django.db import connection, transaction

    from archive.models import ArchiveImport
    from archive.services import form_options, validate_import
    from lms_admin.accounts.models import User

    admin = User.objects.get(username="bench_admin")
    connection.ensure_connection()
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    valid = 0
    started = time.monotonic()
    with connection.execute_wrapper(count):
        if kind == "import":
            options = form_options(mode="reenroll", reset_tracking="false", notify="true")
            archive_import, _ = validate_import(
                data=path.read_bytes(), file_name=path.name, actor=admin, options=options
            )
            valid = archive_import.valid_rows
        else:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(FLOOR_SQL)
                with cursor.cursor.copy("COPY bench_import_floor FROM STDIN (FORMAT csv, HEADER true)") as copy:
                    copy.write(path.read_bytes())
                queries += 1
                cursor.execute("ANALYZE bench_import_floor")
                cursor.execute(FLOOR_RESOLVE_SQL)
                valid = cursor.fetchone()[0]
    seconds = time.monotonic() - started
    if kind == "import":
        ArchiveImport.objects.filter(pk=archive_import.pk).delete()  # the next run must not find it (same sha256)
    return {
        "seconds": seconds,
        "queries": queries,
        "valid": valid,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str]) -> None:
    import django

    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    django.setup()
    if argv:
        print(json.dumps(measure(argv[0], Path(argv[1]))))
        return
    for row in run():
        print(f"{row['figure']:<70} {row['measured']:>10}  floor {row['floor']:>8}  target {row['target']}")


if __name__ == "__main__":
    main(sys.argv[1:])
