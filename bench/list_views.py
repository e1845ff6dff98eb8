"""Benchmark of the Active enrollments view at scale (SPEC §9): server time and queries per page.

`run()` seeds (once) a plan of 100,000 active enrollments with set-based SQL, then requests the pages
through Django's test client inside this process — first page, the page holding row 100,000 in the
default order (by Last and by Next), a filtered page, searches matching few, many and all learners —
and reports the median server time and the query count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lms_bench python -m bench.list_views
"""

from __future__ import annotations

import os
import statistics
import time
from urllib.parse import quote

from bench.common import bench_admin

BENCH_PLAN_CODE = "BENCH-ACTIVE-100K"
ENROLLMENTS = 100_000
TARGET_MS = 150.0
TARGET_QUERIES = 10
REPEAT = 11
ADMIN = "bench_list_admin"  # the list benchmarks' own superadmin: they share a database with no other benchmark


def seed_active_plan(count: int = ENROLLMENTS):
    """The bench plan with `count` learners enrolled (mixed statuses and user statuses); reused when present."""
    from django.db import connection, transaction

    from enrollments.models import LearningPlan

    plan = LearningPlan.objects.filter(code=BENCH_PLAN_CODE).first()
    if plan is not None and plan.enrollments.count() == count:
        return plan
    with transaction.atomic():
        if plan is not None:
            plan.enrollments.all().delete()
        else:
            plan = LearningPlan.objects.create(title="Bench: 100,000 active enrollments", code=BENCH_PLAN_CODE)
        prefix = f"bench{plan.pk}_"
        with connection.cursor() as cursor:
            # Learner i: every 50th deactivated, every 70th expired; names First<i> Last<i>.
            cursor.execute(
                """
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                           is_active, date_joined, language, level, expires_on)
                SELECT '!', false, %(prefix)s || lpad(i::text, 6, '0'), 'First' || i, 'Last' || i,
                       %(prefix)s || i || '@example.com', false, i %% 50 <> 0, now(), 'en', 'user',
                       CASE WHEN i %% 70 = 0 THEN current_date - 1 END
                FROM generate_series(1, %(count)s) AS i
                ON CONFLICT (username) DO NOTHING
                """,
                {"prefix": prefix, "count": count},
            )
            # Three learners per minute (ties on enrolled_at, as bulk enrollments make them); a mix of statuses.
            cursor.execute(
                """
                INSERT INTO enrollments_learningplanenrollment (user_id, learning_plan_id, enrolled_at, updated_at,
                       validity_start, validity_end, status, completed_at, round)
                SELECT u.id, %(plan)s, t.at, t.at, t.at, t.at + interval '365 days',
                       CASE WHEN s.n %% 10 = 0 THEN 2 WHEN s.n %% 3 = 0 THEN 1 ELSE 0 END,
                       CASE WHEN s.n %% 10 = 0 THEN t.at + interval '7 days' END, 1 + s.n %% 2
                FROM generate_series(1, %(count)s) AS s(n)
                JOIN accounts_user u ON u.username = %(prefix)s || lpad(s.n::text, 6, '0')
                CROSS JOIN LATERAL (SELECT now() - interval '1 minute' * ((%(count)s - s.n) / 3) AS at) t
                """,
                {"plan": plan.pk, "prefix": prefix, "count": count},
            )
    # Fresh statistics for the planner and a visibility map for index-only counts, as autovacuum would leave them.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_user")
        cursor.execute("VACUUM ANALYZE enrollments_learningplanenrollment")
    return plan


def _measure(client, url: str) -> tuple[float, int, int]:
    """Median server time (ms), query count and status of GET `url` (one warm-up request first)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, secure=True)
    times = []
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, secure=True)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(queries.captured_queries), response.status_code


def run(plan_id: int | None = None) -> list[dict]:
    """Seed if needed, measure the four pages; one row per (page, server time | queries)."""
    from django.test import Client
    from django.urls import reverse

    from enrollments.models import LearningPlan

    plan = LearningPlan.objects.get(pk=plan_id) if plan_id else seed_active_plan()
    total = plan.enrollments.count()
    client = Client(HTTP_HOST="localhost")
    client.force_login(bench_admin(ADMIN))
    base = reverse("enrollments:plan_enrollments", args=[plan.pk])
    # The Next link of the second-to-last page: a cursor at row total - 25 (found once, with an OFFSET).
    row = plan.enrollments.order_by("-enrolled_at", "-id").values("enrolled_at", "id")[total - 26]
    cursor = quote(f"{row['enrolled_at'].isoformat()}|{row['id']}")
    pages = [
        ("first page", base),
        (f"page holding row {total:,} (Last)", f"{base}?last=1"),
        (f"page holding row {total:,} (Next from the page before)", f"{base}?after={cursor}"),
        ("filtered page (In progress, active users)", f"{base}?status=1&user_status=active"),
        ("search “First4242” (11 learners match)", f"{base}?search=First4242"),
        ("search “First1” (11,112 learners match)", f"{base}?search=First1"),
        ("search “First” (every learner matches)", f"{base}?search=First"),
    ]
    data = f"1 plan, {total:,} active enrollments, {total:,} learners"
    return measure_pages(client, "Active view", pages, data)


def measure_pages(client, view: str, pages: list[tuple[str, str]], data: str) -> list[dict]:
    """Two rows (server time, queries) per (label, url) of `pages`; a page that does not answer 200 stops the run."""
    rows = []
    for label, url in pages:
        ms, queries, status = _measure(client, url)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        for kind, measured, target, ratio in (
            ("server time", f"{ms:.1f} ms", f"≤ {TARGET_MS:.0f} ms", ms / TARGET_MS),
            ("queries", str(queries), f"≤ {TARGET_QUERIES}", queries / TARGET_QUERIES),
        ):
            rows.append(
                {
                    "figure": f"{view}, {label}: {kind}",
                    "floor": "—",
                    "target": target,
                    "measured": measured,
                    "ratio": round(ratio, 2),
                    "data": data,
                }
            )
    return rows


def print_rows(rows: list[dict]) -> None:
    for row in rows:
        print(f"{row['figure']:<80} {row['target']:>9} {row['measured']:>10}  ratio {row['ratio']}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    import django

    django.setup()
    print_rows(run())
