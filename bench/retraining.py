"""Benchmark of retraining at scale (SPEC §11): the due set of every rule, a plan's forecast, the Compliance page of
that plan, and a rule's run over 10,000 learners.

`run()` seeds (once a day: the dates are relative to today) 200 plans with a retraining rule and 1,000,000 plan
enrollments with set-based SQL — one plan of 100,000, the rest spread — about 1 % of them due today, then measures
the median of several runs of each read, the due set beside its floor (the same join written by hand, without
the skip reasons) measured in the same run. The run is timed as bench.jobs times a job: the §9 bench data in a
scratch database, a real worker, beside the floor of the same archive by hand-written SQL.

    python -m bench --only retraining      # or: python -m bench.retraining
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from bench.common import (
    REPO_ROOT,
    SeededCopies,
    bench_admin,
    private_redis,
    run_child,
    worker_process,
)
from bench.engine import child, measure_args
from bench.list_views import ADMIN, measure_pages, print_rows

PLANS = 200
ENROLLMENTS = 1_000_000
BIG_PLAN = 100_000
PLAN_CODE_PREFIX = "BENCH-RETRAIN-"
VALID_FOR_MONTHS = 12
WINDOW_DAYS = 30
REPEAT = 7
DUE_TARGET_MS = 1000.0
DUE_TARGET_QUERIES = 5
FORECAST_TARGET_MS = 300.0
RUN_LEARNERS = 10_000
RUN_TARGET_SECONDS = 14.0  # SPEC §9's reset ceiling
RUN_TEMPLATE_DB = "lms_bench_retraining_tpl"
RUN_DB = "lms_bench_retraining"

# The due set as bare SQL: the rules joined to the (learning_plan, certified_until) index, no skip reasons.
DUE_FLOOR_SQL = """
SELECT e.id, e.round, e.user_id, r.id
FROM enrollments_retrainingrule r
JOIN enrollments_learningplanenrollment e
  ON e.learning_plan_id = r.learning_plan_id AND e.certified_until <= %(today)s + r.window_days
WHERE e.status = 2 AND NOT r.paused AND (r.start_after IS NULL OR r.start_after <= %(today)s)
ORDER BY r.id, e.id
"""


def seed_retraining(today) -> list[int]:
    """The bench plans (the 100,000-enrollment plan first), each with a rule, reused when seeded today with the
    expected sizes. Enrollment g: every 100th Completed and due (certified until today … today + window), every
    3rd of the others not completed, the rest Completed and due on a later day of the next 12 months; learners
    7, 57, 107, … deactivated (the rules archive active learners, so they skip them)."""
    from django.db import connection, transaction

    from enrollments.models import LearningPlan, LearningPlanEnrollment, RetrainingRule

    plans = list(LearningPlan.objects.filter(code__startswith=PLAN_CODE_PREFIX).order_by("code"))
    rules = RetrainingRule.objects.filter(learning_plan__in=plans)
    if (
        len(plans) == PLANS
        and rules.count() == PLANS
        and all(r.saved_at.date() == today for r in rules)
        and LearningPlanEnrollment.objects.filter(learning_plan__in=plans).count() == ENROLLMENTS
    ):
        return [p.pk for p in plans]
    with transaction.atomic():
        LearningPlanEnrollment.objects.filter(learning_plan__in=plans).delete()
        LearningPlan.objects.filter(pk__in=[p.pk for p in plans]).delete()
        plans = LearningPlan.objects.bulk_create(
            LearningPlan(title=f"Bench: retraining plan {n + 1}", code=f"{PLAN_CODE_PREFIX}{n:03d}")
            for n in range(PLANS)
        )
        RetrainingRule.objects.bulk_create(
            RetrainingRule(
                learning_plan=plan,
                valid_for_months=VALID_FOR_MONTHS,
                window_days=WINDOW_DAYS,
                user_statuses=["active"],
            )
            for plan in plans
        )
        plan_ids = [p.pk for p in plans]
        params = {"plans": plan_ids, "n": ENROLLMENTS, "big": BIG_PLAN, "others": PLANS - 1, "today": today}
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                           is_active, date_joined, language, level)
                SELECT '!', false, 'bench_rt_' || lpad(i::text, 6, '0'), 'First' || i, 'Last' || i,
                       'bench_rt_' || i || '@example.com', false, i %% 50 <> 7, now(), 'en', 'user'
                FROM generate_series(1, %(big)s) AS i
                ON CONFLICT (username) DO UPDATE SET is_active = excluded.is_active
                """,
                params,
            )
            # Enrollment g: the first 100,000 in the big plan (learner g); the others round-robin over the other
            # plans, learner (g - big - 1) / others + 1, so a (learner, plan) pair never repeats.
            cursor.execute(
                """
                INSERT INTO enrollments_learningplanenrollment (user_id, learning_plan_id, enrolled_at, updated_at,
                       validity_start, validity_end, status, completed_at, round, certified_until)
                SELECT u.id, p.id, c.done - interval '30 days', now(), NULL, NULL, c.status,
                       CASE WHEN c.status = 2 THEN c.done END, 1 + s.g %% 2, c.until
                FROM (
                    SELECT g, CASE WHEN g <= %(big)s THEN 1 ELSE 2 + (g - %(big)s - 1) %% %(others)s END AS plan_no,
                              CASE WHEN g <= %(big)s THEN g ELSE 1 + (g - %(big)s - 1) / %(others)s END AS user_no
                    FROM generate_series(1, %(n)s) AS g
                ) s
                JOIN unnest(%(plans)s::bigint[]) WITH ORDINALITY AS p(id, n) ON p.n = s.plan_no
                JOIN accounts_user u ON u.username = 'bench_rt_' || lpad(s.user_no::text, 6, '0')
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN s.g %% 100 = 0 THEN %(today)s + (s.g / 100) %% 31
                                WHEN s.g %% 3 = 0 THEN NULL
                                ELSE %(today)s + 31 + s.g %% 334 END AS until
                ) d
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN d.until IS NULL THEN s.g %% 2 ELSE 2 END AS status,
                           coalesce(d.until - interval '12 months', %(today)s - interval '200 days')::timestamptz
                               AS done, d.until
                ) c
                """,
                params,
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_user")
        cursor.execute("VACUUM ANALYZE enrollments_learningplanenrollment")
        cursor.execute("VACUUM ANALYZE enrollments_retrainingrule")
    return plan_ids


def _timed(call) -> tuple[float, int, object]:
    """Median ms of `call()` over REPEAT runs after a warm-up, the queries of one run and its result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()
    times = []
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = call()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(queries.captured_queries), result


def _due_floor(today) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(DUE_FLOOR_SQL, {"today": today})
        return cursor.fetchall()


def run() -> list[dict]:
    """Seed if needed; measure the due set (beside its floor), the forecast and the Compliance page."""
    from django.test import Client
    from django.urls import reverse

    from archive.compliance import due_rounds, forecast
    from archive.services.retraining import utc_today
    from enrollments.models import LearningPlanEnrollment, RetrainingRule

    today = utc_today()
    plan_ids = seed_retraining(today)
    big_plan = plan_ids[0]
    rule = RetrainingRule.objects.get(learning_plan_id=big_plan)
    total = LearningPlanEnrollment.objects.filter(learning_plan_id__in=plan_ids).count()

    due_ms, due_queries, due = _timed(lambda: due_rounds(today=today))
    floor_ms, _, floor_rows = _timed(lambda: _due_floor(today))
    if len(due) != len(floor_rows):
        raise RuntimeError(f"the due set has {len(due)} rounds, its floor {len(floor_rows)}")
    skipped = sum(1 for r in due if r.skip_reason)
    forecast_ms, forecast_queries, result = _timed(lambda: forecast(rule, today=today))

    data = f"{PLANS} plans with a rule, {total:,} plan enrollments, {len(due):,} due today ({skipped:,} skipped)"
    plan_data = (
        f"plan of {BIG_PLAN:,} enrollments, {sum(m['due'] for m in result['months']):,} due in the next 12 months, "
        f"{result['due_today']:,} today"
    )
    rows = [
        {
            "figure": "Due set of every rule (`due_rounds`): time",
            "floor": f"{floor_ms:.1f} ms",
            "target": f"≤ {DUE_TARGET_MS:.0f} ms",
            "measured": f"{due_ms:.1f} ms",
            "ratio": round(due_ms / floor_ms, 2),
            "data": data,
        },
        {
            "figure": "Due set of every rule (`due_rounds`): queries",
            "floor": "1",
            "target": f"≤ {DUE_TARGET_QUERIES}",
            "measured": str(due_queries),
            "ratio": round(due_queries / DUE_TARGET_QUERIES, 2),
            "data": data,
        },
        {
            "figure": f"Forecast of the {BIG_PLAN:,}-enrollment plan: time ({forecast_queries} queries)",
            "floor": "—",
            "target": f"≤ {FORECAST_TARGET_MS:.0f} ms",
            "measured": f"{forecast_ms:.1f} ms",
            "ratio": round(forecast_ms / FORECAST_TARGET_MS, 2),
            "data": plan_data,
        },
    ]
    client = Client(HTTP_HOST="localhost")
    client.force_login(bench_admin(ADMIN))
    page = f"{reverse('archive:compliance')}?learning_plan={big_plan}"
    page_data = f"{plan_data}; {total:,} plan enrollments under rules in all"
    rows += measure_pages(client, "Compliance page", [(f"plan of {BIG_PLAN:,}", page)], page_data)
    return rows + run_rows()


def run_rows() -> list[dict]:
    """A rule's run over the §9 bench data (10,000 learners, all due) through a real worker, beside the floor of
    the same archive (reset, notifications on) by hand-written SQL, each on a fresh copy of one seeded template."""
    from django.conf import settings

    redis = None
    try:
        with SeededCopies("retraining", settings.DATABASE_URL, template=RUN_TEMPLATE_DB, work=RUN_DB) as copies:
            sizes = copies.seed("bench.engine", ["seed", "--learners", str(RUN_LEARNERS)])
            # The run's data in the template, so the floor archives exactly what the run will: every learner
            # Completed and due (the §9 data has 10 % Completed).
            run_child("bench.retraining", ["prepare-run"], database=copies.template_url, media=copies.template_media)
            copies.fresh_copy()
            floor = child(measure_args("floor", "reenroll", reset=True, notify=True), copies.work_url, copies.media)
            copies.fresh_copy()
            redis = private_redis()
            redis_url = redis.url if redis else settings.REDIS_URL
            result = run_child(
                "bench.retraining",
                ["measure-run"],
                database=copies.work_url,
                media=copies.media,
                env={"REDIS_URL": redis_url},
            )
    finally:
        if redis:
            redis.stop()
    return [
        {
            "figure": f"Retraining run of {result['selected']:,} learners (reset, notifications on), start → jobs done",
            "floor": f"{floor['seconds']:.1f} s",
            "target": f"≤ {RUN_TARGET_SECONDS:.0f} s",
            "measured": f"{result['seconds']:.1f} s",
            "ratio": round(result["seconds"] / floor["seconds"], 2),
            "data": (
                f"§9 bench data ({sizes['enrollments']:,} enrollments, {sizes['tracking']:,} tracking rows), every "
                f"learner Completed and due (the floor archives the same data); {result['jobs']} job(s) "
                f"{result['statuses']}, {result['counts']}, queued {result['queued_seconds']:.1f} s, running "
                f"{result['running_seconds']:.1f} s, one worker"
            ),
        }
    ]


def prepare_run() -> dict:
    """The run's data, on the §9 bench data: every learner of the bench plan Completed a year ago and due today."""
    from django.db import connection
    from django.utils import timezone

    from archive.services.reminders import send_certification_reminders
    from archive.services.retraining import utc_today
    from bench.seeding import PLAN_CODE
    from enrollments.models import LearningPlan, RetrainingRule
    from lms_admin.notifications.models import OutboxMessage
    from lms_admin.queues import enqueues_held

    plan = LearningPlan.objects.get(code=PLAN_CODE)
    # The rule exists before the run day (the reminders below are written for the plans that have one).
    RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"], saved_by=bench_admin()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE enrollments_learningplanenrollment SET status = 2, completed_at = now() - interval '1 year', "
            "certified_until = %s WHERE learning_plan_id = %s",
            [utc_today(), plan.pk],
        )
        due = cursor.rowcount
    # The certification reminders went out before the run day: the worker's periodic tick finds them written and
    # sent, and neither writes nor sends them during the timed run.
    with enqueues_held():
        reminders = send_certification_reminders(today=utc_today())
    OutboxMessage.objects.filter(sent_at__isnull=True).update(sent_at=timezone.now())
    return {"completed_and_due": due, "reminders": reminders}


def measure_run() -> dict:
    """In the child, on a copy of the §9 bench data with every learner Completed and due (prepare_run): a rule with
    the defaults (reset), its run started and confirmed as a superadmin would, timed until its jobs have finished."""
    from archive.models import ArchiveJob
    from archive.services.retraining import confirm_run, start_run, utc_today
    from bench.seeding import PLAN_CODE
    from enrollments.models import RetrainingRule
    from scripts.processes import wait_for

    today = utc_today()
    admin = bench_admin()
    rule = RetrainingRule.objects.get(learning_plan__code=PLAN_CODE)
    # "Run now" is what is timed: the worker's daily tick does not start the run on its own meanwhile.
    with worker_process("retraining", env={"RETRAINING_RUN_HOUR_UTC": "24"}):
        started = time.monotonic()
        run, _ = start_run(rule, actor=admin, today=today)
        if run.status == "awaiting_confirmation":
            run = confirm_run(run, actor=admin, count=run.selected, today=today)
        jobs = ArchiveJob.objects.filter(retraining_run=run)
        finished = {"completed", "failed", "cancelled"}
        wait_for(
            lambda: jobs.exists() and not jobs.exclude(status__in=finished).exists(),
            timeout=900,
            interval=0.05,
            message="the run's jobs did not finish",
        )
        seconds = time.monotonic() - started
    counts: dict[str, int] = {}
    for job in jobs:
        for key, value in job.counts.items():
            counts[key] = counts.get(key, 0) + int(value)
    first_start = min(job.started_at for job in jobs)
    return {
        "seconds": seconds,
        "queued_seconds": (first_start - min(job.created_at for job in jobs)).total_seconds(),
        "running_seconds": (max(job.finished_at for job in jobs) - first_start).total_seconds(),
        "selected": run.selected,
        "jobs": jobs.count(),
        "statuses": sorted({job.status for job in jobs}),
        "counts": counts,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    import django

    sys.path.insert(0, str(REPO_ROOT))
    django.setup()
    if sys.argv[1:] == ["measure-run"]:
        print(json.dumps(measure_run()))
    elif sys.argv[1:] == ["prepare-run"]:
        print(json.dumps(prepare_run()))
    else:
        print_rows(run())
