"""Benchmark of the reads a hostile or careless caller can make expensive (issue 17), at 300,000 archived records
per plan: the API's deepest pages, the archived export and the Archived view's search.

`run()` seeds (once) two plans of 300,000 archived records each with bench.archived_views' set-based SQL, then
measures, each beside its floor taken in the same run:
- `GET learning-plans/{id}/archived-enrollments` at page 1,500 × 200 (the last page) and page 750 × 200 (the
  deepest walk: half the plan), through Django's test client; floor: the same SQL statements replayed bare;
- the archived export (CSV) of the whole plan in a process of its own: time to the last byte and the process's
  peak RSS; floors: `COPY … TO STDOUT (FORMAT csv)` of the same rows, and the peak RSS of the same export of the
  plan's newest 10,000 records (constant memory: the two peaks match);
- Archived-view searches of different kinds; floor: the view's SQL statements replayed bare.

    python -m bench --only reads [--quick]      # or: python -m bench.bounded_reads [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.archived_views import seed_archived
from bench.common import bench_admin, run_child

PLANS = 2
PER_PLAN = 300_000
QUICK_PER_PLAN = 30_000
PLAN_CODE_PREFIX = "BENCH-DEEP-"
ADMIN = "bench_reads_admin"
REPEAT = 7
PAGE_TARGET_MS = 300.0
SEARCH_TARGET_MS = 150.0
SMALL_EXPORT = 10_000
# (label, search): the kinds of search a reader types, on learners named First<i> Last<i>, record i archived
# after record i - 1 (so a name's number says how old the record is).
SEARCHES = [
    ("a learner's first name (11 records match)", "First4242"),
    ("first and last name of one learner", "First4242 Last4242"),
    ("two common words that never meet (none match)", "First1 Last2"),
    ("a common word, its matches among the newest", "First2"),
    ("a word matching 11,111 records, none of the newest 100,000", "First19"),
    ("a short word (every record matches)", "st"),
    ("worst case: a word matching a third of the plan, none of the newest 100,000", "First1"),
]


def _median_ms(call, repeat: int = REPEAT) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _statements_of(client, url: str, headers: dict) -> tuple[list[str], int]:
    """The SQL statements on archived records one request runs (as sent, parameters inlined), and its query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    statements = [q["sql"] for q in queries.captured_queries if "archive_archivedplanenrollment" in q["sql"]]
    return statements, len(queries.captured_queries)


def _bare_ms(statements: list[str]) -> float:
    """Median time of running the statements one after another on a plain cursor, reading every row."""
    from django.db import connection

    def replay() -> None:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                while True:
                    if cursor.description is not None:
                        cursor.fetchall()
                    if not cursor.nextset():
                        break

    return _median_ms(replay)


def _timed_row(figure: str, url: str, client, headers: dict, target_ms: float, data: str) -> list[dict]:
    statements, queries = _statements_of(client, url, headers)
    measured = _median_ms(lambda: client.get(url, headers=headers, secure=True))
    floor = _bare_ms(statements)
    return [
        {
            "figure": f"{figure}: server time",
            "floor": f"{floor:.1f} ms",
            "target": f"≤ {target_ms:.0f} ms",
            "measured": f"{measured:.1f} ms",
            "ratio": round(measured / floor, 2) if floor else "—",
            "data": data,
        },
        {
            "figure": f"{figure}: queries",
            "floor": "—",
            "target": "≤ 10",
            "measured": str(queries),
            "ratio": round(queries / 10, 2),
            "data": data,
        },
    ]


def run(quick: bool = False) -> list[dict]:
    """Seed if needed; measure the deep API pages, the export and the searches of the first bench plan."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from archive.models import ArchivedPlanEnrollment
    from lms_admin.accounts.tokens import create_api_token

    per_plan = QUICK_PER_PLAN if quick else PER_PLAN
    plan_ids = seed_archived(PLANS, per_plan, prefix="BENCH-DEEPQ-" if quick else PLAN_CODE_PREFIX)
    plan_id = plan_ids[0]
    total = ArchivedPlanEnrollment.objects.count()
    data = f"{PLANS} plans of {per_plan:,} archived records ({total:,} in the table)"
    admin = bench_admin(ADMIN)
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    bearer = {"Authorization": f"Bearer {create_api_token(user=admin, name='bench')[1]}"}
    rows = []

    api = f"/api/v1/learning-plans/{plan_id}/archived-enrollments"
    last_page = per_plan // 200
    for page, label in ((last_page, "the last page"), (last_page // 2, "the middle page: the deepest walk")):
        url = f"{api}?page={page}&page_size=200"
        rows += _timed_row(
            f"API archived list, page {page:,} × 200 ({label})", url, client, bearer, PAGE_TARGET_MS, data
        )

    rows += _export_rows(plan_id, per_plan, settings.DATABASE_URL, data)

    view = reverse("archive:archived_list", args=[plan_id])
    for label, search in SEARCHES:
        url = f"{view}?{urlencode({'search': search})}"
        rows += _timed_row(f"Archived view, search “{search}”, {label}", url, client, {}, SEARCH_TARGET_MS, data)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# The export, in processes of their own (their peak RSS is the export's).


def _export_rows(plan_id: int, per_plan: int, database: str, data: str) -> list[dict]:
    import tempfile

    media = Path(tempfile.mkdtemp(prefix="lms-bench-reads-"))
    whole = run_child("bench.bounded_reads", ["export", str(plan_id)], database=database, media=media)
    small = run_child(
        "bench.bounded_reads", ["export", str(plan_id), str(SMALL_EXPORT)], database=database, media=media
    )
    copy_ms = _median_ms(lambda: _copy_csv(plan_id), repeat=3)
    growth, small_growth = whole["peak_mb"] - whole["before_mb"], small["peak_mb"] - small["before_mb"]
    return [
        {
            "figure": f"Archived export of a whole plan (CSV, {whole['rows']:,} rows, {whole['mb']:.0f} MB): "
            "time to the last byte",
            "floor": f"{copy_ms / 1000:.2f} s",
            "target": "—",
            "measured": f"{whole['seconds']:.2f} s",
            "ratio": round(whole["seconds"] * 1000 / copy_ms, 2),
            "data": data,
        },
        {
            "figure": "Archived export of a whole plan: peak RSS of the streaming process (growth during the export)",
            "floor": f"{small['peak_mb']:.0f} MB (+{small_growth:.0f}) for its newest {small['rows']:,}",
            "target": "constant: the floor's",
            "measured": f"{whole['peak_mb']:.0f} MB (+{growth:.0f})",
            "ratio": round(whole["peak_mb"] / small["peak_mb"], 2),
            "data": data,
        },
    ]


# The export's columns, in its order, written by hand (booleans and timestamps as PostgreSQL prints them).
COPY_SQL = """
    COPY (SELECT id, user_username, user_display_name, user_status, archived_at, archived_by_username, mode, round,
                 plan_status, enrolled_at, completed_at, certificate_id IS NOT NULL
          FROM archive_archivedplanenrollment WHERE learning_plan_id = %s ORDER BY archived_at DESC, id DESC)
    TO STDOUT (FORMAT csv)
"""


def _copy_csv(plan_id: int) -> int:
    """The floor: the export's rows as CSV by PostgreSQL's COPY, read to the end; the bytes read."""
    from django.db import connection

    size = 0
    with connection.cursor() as cursor, cursor.cursor.copy(COPY_SQL, [plan_id]) as copy:
        for block in copy:
            size += len(block)
    return size


def export_child(plan_id: int, newest: int | None) -> dict:
    """Download the plan's archived export as the browser does (its newest `newest` records only, when given)."""
    import psutil
    from django.test import Client
    from django.urls import reverse

    from archive.models import ArchivedPlanEnrollment

    client = Client(HTTP_HOST="localhost")
    client.force_login(bench_admin(ADMIN))
    query = ""
    if newest:
        day = (
            ArchivedPlanEnrollment.objects.filter(learning_plan_id=plan_id)
            .order_by("-archived_at")
            .values_list("archived_at", flat=True)[newest]
        )
        query = "?" + urlencode({"archived_from": (day.date()).isoformat()})
    url = reverse("archive:archived_export", args=[plan_id]) + query
    before_mb = psutil.Process().memory_info().rss / 1024**2
    started = time.perf_counter()
    response = client.get(url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    response.close()
    return {
        "seconds": seconds,
        "rows": lines - 1,
        "mb": size / 1024**2,
        "before_mb": before_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    import django

    django.setup()
    if argv and argv[0] == "export":
        print(json.dumps(export_child(int(argv[1]), int(argv[2]) if len(argv) > 2 else None)))
        return
    from bench.list_views import print_rows

    print_rows(run(quick="--quick" in argv))


if __name__ == "__main__":
    main(sys.argv[1:])
