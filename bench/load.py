"""Load benchmark (SPEC §9): 50 admins browsing with think time against gunicorn run as the README's Production
section says, a real `run_worker`, alone and during the 10,000-enrollment archive job, plus 10 browsers polling
the job's progress; latency, errors, the job's time ratio and the server CPU per page view.

`run()` seeds a template database (bench/seeding.py's 10,000 learners in the job's plan, bench/archived_views.py's
archived history, 60 superadmins with a password). In a child on a copy of it: gunicorn (4 sync workers,
`lms_admin.wsgi`, DEBUG=0 with SECRET_KEY and ALLOWED_HOSTS set) and one worker on a private redis-server;
the admins log in with the form and browse (bench/load_traffic.py) — first a measured window alone, then
on through the 10,000 re-enroll job. On a fresh copy the same job runs alone, watched by the 10 pollers.
CPU is read from the processes' own counters (psutil): gunicorn's master and workers, and the PostgreSQL
backends connected to the bench database.

    python -m bench --only load [--quick]      # or: make bench ARGS="--only load"
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from bench.common import REPO_ROOT, SeededCopies, private_redis, run_child
from bench.jobs import BenchWorker, wait_status
from bench.load_processes import GUNICORN_WORKERS, CpuMeter, Gunicorn, postgres_backends
from bench.load_traffic import Recorder, Traffic, log_in_all, summary

TEMPLATE_DB = "lms_bench_load_tpl"
WORK_DB = "lms_bench_load"
LEARNERS, QUICK_LEARNERS = 10_000, 1_000
ARCHIVED_PLANS, ARCHIVED_PER_PLAN, QUICK_ARCHIVED_PER_PLAN = 2, 100_000, 10_000
ARCHIVED_PREFIX = "BENCH-LOAD-ARCHIVED-"
BROWSERS, POLLERS = 50, 10
ALONE_SECONDS, QUICK_ALONE_SECONDS = 60.0, 15.0
WARMUP_SECONDS = 10.0
PASSWORD = "bench-load-password"
P95_TARGET_MS, JOB_RATIO_TARGET, CPU_TARGET_MS, POLLERS_TARGET_PCT = 300.0, 2.0, 15.0, 5.0


def run(quick: bool = False) -> list[dict]:
    """Seed the template, measure in a child on a copy (with a private redis-server), one row per figure."""
    from django.conf import settings

    learners = QUICK_LEARNERS if quick else LEARNERS
    per_plan = QUICK_ARCHIVED_PER_PLAN if quick else ARCHIVED_PER_PLAN
    redis = None
    try:
        with SeededCopies("load", settings.DATABASE_URL, template=TEMPLATE_DB, work=WORK_DB) as copies:
            sizes = copies.seed("bench.load", ["seed", str(learners), str(per_plan)])
            copies.fresh_copy()
            redis = private_redis()
            result = run_child(
                "bench.load",
                ["measure", str(QUICK_ALONE_SECONDS if quick else ALONE_SECONDS)],
                database=copies.work_url,
                media=copies.media,
                env={
                    "REDIS_URL": redis.url if redis else settings.REDIS_URL,
                    "BENCH_BASE_DATABASE_URL": settings.DATABASE_URL,
                    "BENCH_SCRATCH": str(copies.scratch),
                },
            )
    finally:
        if redis:
            redis.stop()
    return rows(result, sizes)


def rows(result: dict, sizes: dict) -> list[dict]:
    alone, during, job_alone = result["alone"], result["during"], result["job_alone"]
    data = (
        f"{BROWSERS} admins, 1–3 s think time, {len(result['pages'])} pages (Active and Archived views: first, deep, "
        f"filtered, search; details; jobs); gunicorn {GUNICORN_WORKERS} sync workers, 1 worker; "
        f"{sizes['enrollments']:,} enrollments in the job's plan, {sizes['archived']:,} archived records"
    )

    def latency(run: dict) -> str:
        return (
            f"p95 {run['p95']:.0f} ms (p50 {run['p50']:.0f}, p99 {run['p99']:.0f}); {run['per_second']:.1f} pages/s, "
            f"{run['count']:,} pages, {run['errors']} errors"
        )

    per_page = alone["gunicorn_cpu"] * 1000 / max(alone["count"], 1)
    pg_per_page = alone["postgres_cpu"] * 1000 / max(alone["count"], 1)
    pollers_pct = 100 * job_alone["gunicorn_cpu"] / job_alone["seconds"]
    errors = alone["errors"] + during["errors"] + result["poll_errors"]
    return [
        {
            "figure": f"Load alone ({alone['seconds']:.0f} s): latency per page",
            "floor": "—",
            "target": "—",
            "measured": latency(alone),
            "ratio": "—",
            "data": f"{data}; load average {result['load_alone']}",
        },
        {
            "figure": f"Load during the {result['total']:,} archive job ({during['seconds']:.0f} s): p95 per page",
            "floor": f"{alone['p95']:.0f} ms alone",
            "target": f"≤ {P95_TARGET_MS:.0f} ms",
            "measured": latency(during),
            "ratio": round(during["p95"] / P95_TARGET_MS, 2),
            "data": f"{data}; {POLLERS} pollers of the job's progress; load average {result['load_during']}",
        },
        {
            "figure": "Load: errors (alone, during the job, pollers)",
            "floor": "—",
            "target": "0",
            "measured": f"{errors}" + (f" (e.g. {result['error_examples'][0]})" if result["error_examples"] else ""),
            "ratio": "—",
            "data": f"{alone['count'] + during['count']:,} pages, {result['polls']:,} polls",
        },
        {
            "figure": f"Job: archive {result['total']:,} (re-enroll keep, notifications on) during the load",
            "floor": f"{job_alone['job_seconds']:.1f} s alone",
            "target": f"≤ {JOB_RATIO_TARGET:g}× alone",
            "measured": f"{during['job_seconds']:.1f} s",
            "ratio": round(during["job_seconds"] / job_alone["job_seconds"], 2),
            "data": f"both submit → completed, {POLLERS} pollers watching; {during['status']} / {job_alone['status']}",
        },
        {
            "figure": "Gunicorn CPU per page view, alone (master + workers, user + system)",
            "floor": "—",
            "target": f"≤ {CPU_TARGET_MS:.0f} ms",
            "measured": f"{per_page:.1f} ms",
            "ratio": round(per_page / CPU_TARGET_MS, 2),
            "data": (
                f"PostgreSQL beside it: {pg_per_page:.1f} ms per page view (its backends on the bench database); "
                f"gunicorn {100 * alone['gunicorn_cpu'] / alone['seconds']:.0f} % of a core for "
                f"{alone['per_second']:.1f} pages/s"
            ),
        },
        {
            "figure": f"{POLLERS} browsers polling a job's progress every second: gunicorn CPU",
            "floor": "—",
            "target": f"≤ {POLLERS_TARGET_PCT:g} % of a core",
            "measured": f"{pollers_pct:.1f} % of a core",
            "ratio": round(pollers_pct / POLLERS_TARGET_PCT, 2),
            "data": (
                f"during the job alone ({job_alone['seconds']:.0f} s, {job_alone['count']:,} polls, p95 "
                f"{job_alone['p95']:.0f} ms); PostgreSQL {100 * job_alone['postgres_cpu'] / job_alone['seconds']:.1f} "
                "% of a core on the same backends, the job's included"
            ),
        },
    ]


# ---------------------------------------------------------------------------------------------------------
# The child: the servers, the traffic and the meters.


def pages() -> list[str]:
    """The browsing mix: Active and Archived views (first, deep, filtered, search), record details, the jobs list."""
    from django.urls import reverse

    from archive.models import ArchivedPlanEnrollment
    from bench.seeding import PLAN_CODE
    from enrollments.models import LearningPlan

    plan = LearningPlan.objects.get(code=PLAN_CODE)
    active = reverse("enrollments:plan_enrollments", args=[plan.pk])
    row = plan.enrollments.order_by("-enrolled_at", "-id").values("enrolled_at", "id")[plan.enrollments.count() // 2]
    active_after = quote(f"{row['enrolled_at'].isoformat()}|{row['id']}")
    archived_plans = list(
        LearningPlan.objects.filter(code__startswith=ARCHIVED_PREFIX).order_by("code").values_list("pk", flat=True)
    )
    records = ArchivedPlanEnrollment.objects.filter(learning_plan_id=archived_plans[0])
    total = records.count()
    row = records.order_by("-archived_at", "-id").values("archived_at", "id")[total - 26]
    archived_after = quote(f"{row['archived_at'].isoformat()}|{row['id']}")
    archiver = records.values_list("archived_by_id", flat=True).first()
    details = records.order_by("pk").values_list("pk", flat=True)
    archived = [reverse("archive:archived_list", args=[pk]) for pk in archived_plans]
    return [
        active,
        f"{active}?last=1",
        f"{active}?after={active_after}",
        f"{active}?status=1&user_status=active",
        f"{active}?search=First4242",
        *archived,
        f"{archived[0]}?after={archived_after}",
        f"{archived[0]}?archived_by={archiver}&user_status=active",
        f"{archived[0]}?search=First4242",
        *(reverse("archive:archived_detail", args=[details[n]]) for n in (0, total // 2, total - 1)),
        reverse("archive:job_list"),
    ]


def submit_job():
    from archive.services import start_archive_job
    from bench.common import bench_admin
    from bench.seeding import PLAN_CODE
    from enrollments.models import LearningPlan

    plan = LearningPlan.objects.get(code=PLAN_CODE)
    return start_archive_job(learning_plan=plan, actor=bench_admin(), mode="reenroll", select_all_filters={})


def finish(job, started: float) -> dict:
    from django.urls import reverse

    wait_status(job.pk, {"completed", "failed", "cancelled"}, timeout=900, interval=0.05)
    seconds = time.monotonic() - started
    job.refresh_from_db()
    return {
        "job_seconds": seconds,
        "status": job.status,
        "total": job.total,
        "poll": reverse("archive:job_progress", args=[job.pk]),
    }


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(alone_seconds: float) -> dict:
    """Browse alone, then on through the job (stack 1); the job alone with its pollers on a fresh copy (stack 2)."""
    from django.db import connection
    from django.urls import reverse

    from lms_admin.accounts.models import User

    users = list(User.objects.filter(username__startswith="load_admin_").order_by("username").values_list("username"))
    credentials = [(username, PASSWORD) for (username,) in users]
    recorder = Recorder()
    with BenchWorker(), Gunicorn() as web:
        mix = pages()
        browsers = log_in_all(web.port, credentials[:BROWSERS])
        pollers = log_in_all(web.port, credentials[BROWSERS : BROWSERS + POLLERS])
        traffic = Traffic(recorder)
        traffic.browse(browsers, mix)
        time.sleep(WARMUP_SECONDS)
        load_alone = load_average()
        with CpuMeter(web.pids) as gunicorn_cpu, CpuMeter(postgres_backends) as postgres_cpu:
            start = time.monotonic()
            time.sleep(alone_seconds)
            end = time.monotonic()
        alone = {**summary(recorder.between(start, end, "page"), end - start), "seconds": end - start}
        alone.update(gunicorn_cpu=gunicorn_cpu.seconds, postgres_cpu=postgres_cpu.seconds)
        start = time.monotonic()
        job = submit_job()
        traffic.poll(pollers, reverse("archive:job_progress", args=[job.pk]))
        load_during = load_average()
        during = finish(job, start)
        end = time.monotonic()
        traffic.stop()
        during.update(summary(recorder.between(start, end, "page"), end - start), seconds=end - start)
        polls = recorder.between(0, end, "poll")
    connection.close()
    fresh_copy()
    recorder_alone = Recorder()
    with BenchWorker(), Gunicorn() as web:
        pollers = log_in_all(web.port, credentials[BROWSERS : BROWSERS + POLLERS])
        traffic = Traffic(recorder_alone)
        with CpuMeter(web.pids) as gunicorn_cpu, CpuMeter(postgres_backends) as postgres_cpu:
            start = time.monotonic()
            job = submit_job()
            traffic.poll(pollers, reverse("archive:job_progress", args=[job.pk]))
            job_alone = finish(job, start)
            end = time.monotonic()
        traffic.stop()
    job_alone.update(summary(recorder_alone.between(start, end, "poll"), end - start), seconds=end - start)
    job_alone.update(gunicorn_cpu=gunicorn_cpu.seconds, postgres_cpu=postgres_cpu.seconds)
    poll_errors = sum(not s.ok for s in polls) + job_alone["errors"]
    return {
        "pages": mix,
        "alone": alone,
        "during": during,
        "job_alone": job_alone,
        "total": during["total"],
        "polls": len(polls) + job_alone["count"],
        "poll_errors": poll_errors,
        "error_examples": recorder.errors + recorder_alone.errors,
        "load_alone": load_alone,
        "load_during": load_during,
    }


def fresh_copy() -> None:
    """The bench database and media again as seeded (the parent's `SeededCopies`), and empty queues (the first
    run's certificates and mail would otherwise be worked off during the job measured alone)."""
    import django_rq
    from django.conf import settings

    scratch = Path(os.environ["BENCH_SCRATCH"])
    base_url = os.environ["BENCH_BASE_DATABASE_URL"]
    SeededCopies("load", base_url, template=TEMPLATE_DB, work=WORK_DB, scratch=scratch).fresh_copy()
    for name in settings.RQ_QUEUE_NAMES:
        django_rq.get_queue(name).empty()


def seed(learners: int, per_plan: int) -> dict:
    """The template: the engine's bench data, the archived history, and the superadmins who log in."""
    from django.contrib.auth.hashers import make_password

    from bench.archived_views import seed_archived
    from bench.seeding import seed as seed_engine_data
    from lms_admin.accounts.models import Level, User

    sizes = seed_engine_data(learners)
    seed_archived(ARCHIVED_PLANS, per_plan, prefix=ARCHIVED_PREFIX)
    password = make_password(PASSWORD)  # hashed once: the same salt for every bench admin is fine here
    User.objects.bulk_create(
        User(username=f"load_admin_{n:02d}", level=Level.SUPERADMIN, password=password)
        for n in range(BROWSERS + POLLERS)
    )
    return {**sizes, "archived": ARCHIVED_PLANS * per_plan}


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    if sys.argv[1] == "seed":
        print(json.dumps(seed(int(sys.argv[2]), int(sys.argv[3]))))
    elif sys.argv[1] == "measure":
        print(json.dumps(measure(float(sys.argv[2]))))
