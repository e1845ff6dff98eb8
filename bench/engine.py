"""Benchmark of the archiving engine (SPEC §9): archive the 10,000 bench enrollments with `archive_enrollments`
in each mode, beside our own hand-written set-based SQL doing the same writes (the floor).

The data is seeded once into a template database; every run starts from a fresh copy of it
(`CREATE DATABASE … TEMPLATE …`) and of the certificate files, in a process of its own (so its peak RSS
is the run's). Databases `lms_bench_engine_tpl` and `lms_bench_engine` live on DATABASE_URL's server.

    python -m bench --only engine [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from archive.services.sql import SNAPSHOT_COLUMNS

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "lms_bench_engine_tpl"
WORK_DB = "lms_bench_engine"
PLAN_CODE = "BENCH-ENGINE"
LEARNERS = 10_000
QUICK_LEARNERS = 1_000
QUERIES_PER_BATCH_TARGET = 15
RSS_TARGET_MB = 300
CERTIFICATE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n"
)

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
    base_url = settings.DATABASE_URL
    scratch = Path(tempfile.mkdtemp(prefix="lms-bench-engine-"))
    template_media, work_media = scratch / "template-media", scratch / "media"
    try:
        _recreate(base_url, TEMPLATE_DB)
        sizes = _child(
            ["seed", "--learners", str(learners)], database=_database_url(base_url, TEMPLATE_DB), media=template_media
        )
        data = (
            f"1 plan (5 courses × 5 materials), {sizes['enrollments']:,} enrollments, "
            f"{sizes['tracking']:,} tracking rows ({sizes['completed_tracking_pct']}% completed), "
            f"{sizes['certificates']:,} certificates, batch {sizes['batch_size']}"
        )
        rows = []
        for name, mode, reset, notify, target in SCENARIOS:
            results = {}
            for kind in ("engine", "floor"):
                _recreate(base_url, WORK_DB, template=TEMPLATE_DB)
                shutil.rmtree(work_media, ignore_errors=True)
                shutil.copytree(template_media, work_media)
                results[kind] = _child(
                    [
                        "measure",
                        "--kind",
                        kind,
                        "--mode",
                        mode,
                        "--reset",
                        str(int(reset)),
                        "--notify",
                        str(int(notify)),
                    ],
                    database=_database_url(base_url, WORK_DB),
                    media=work_media,
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
    finally:
        for database in (WORK_DB, TEMPLATE_DB):
            _drop(base_url, database)
        shutil.rmtree(scratch, ignore_errors=True)


def _database_url(base_url: str, name: str) -> str:
    return urlunparse(urlparse(base_url)._replace(path=f"/{name}"))


def _server(base_url: str):
    import psycopg

    return psycopg.connect(
        _database_url(base_url, "postgres").replace("postgres://", "postgresql://", 1), autocommit=True
    )


def _drop(base_url: str, name: str) -> None:
    with _server(base_url) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _recreate(base_url: str, name: str, *, template: str | None = None) -> None:
    with _server(base_url) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def _child(args: list[str], *, database: str, media: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "MEDIA_ROOT": str(media),
        "DJANGO_SETTINGS_MODULE": "lms_admin.settings",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.engine", *args],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# The children: seeding the template, measuring one run.


def seed(learners: int) -> dict:
    """SPEC §9 bench data with set-based SQL: 1 plan of 5 courses × 5 materials, `learners` enrolled, tracking
    for every (learner, material) with about a third completed, 10% Completed with a certificate whose file is a
    small PDF unique per learner, every notification rule enabled for the learner."""
    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from enrollments.models import CertificateTemplate, Course, LearningPlan, LearningPlanCourse, TrainingMaterial
    from enrollments.status import recompute_course_statuses, recompute_plan_statuses
    from lms_admin.accounts.models import Level, User
    from lms_admin.notifications.models import NotificationRule

    call_command("migrate", verbosity=0)
    now = timezone.now()
    with transaction.atomic():
        admin = User.objects.create(username="bench_admin", level=Level.SUPERADMIN, password="!")
        template = CertificateTemplate.objects.create(name="Bench", html="<p>{{ learner_name }}</p>")
        plan = LearningPlan.objects.create(
            title="Bench: archive 10,000", code=PLAN_CODE, validity_days=365, certificate_template=template
        )
        for position in range(5):
            course = Course.objects.create(title=f"Bench course {position + 1}", code=f"BE{position + 1}")
            TrainingMaterial.objects.bulk_create(
                TrainingMaterial(course=course, title=f"Material {m + 1}", position=m) for m in range(5)
            )
            LearningPlanCourse.objects.create(learning_plan=plan, course=course, position=position)
        NotificationRule.objects.update(enabled=True, to_learner=True, to_managers=False, to_superadmins=False)
        params = {"n": learners, "plan": plan.pk, "admin": admin.pk, "now": now}
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                           is_active, date_joined, language, level)
                SELECT '!', false, 'bench' || g, 'First' || g, 'Last' || g, 'bench' || g || '@example.com', false,
                       true, %(now)s, 'en', 'user'
                FROM generate_series(1, %(n)s) AS g
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO enrollments_learningplanenrollment (user_id, learning_plan_id, enrolled_at, enrolled_by_id,
                    updated_at, validity_start, validity_end, status, completed_at, round)
                SELECT u.id, %(plan)s, %(now)s - interval '90 days', %(admin)s, %(now)s, %(now)s - interval '90 days',
                       %(now)s + interval '275 days', 0, NULL, 1
                FROM accounts_user u WHERE u.level = 'user' AND u.username LIKE 'bench%%'
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO enrollments_courseenrollment (user_id, course_id, enrolled_at, enrolled_by_id, updated_at,
                    status, completed_at, score, manually_completed_at)
                SELECT e.user_id, lpc.course_id, e.enrolled_at, %(admin)s, %(now)s, 0, NULL, NULL, NULL
                FROM enrollments_learningplanenrollment e
                JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id
                WHERE e.learning_plan_id = %(plan)s
                """,
                params,
            )
            # 10% of learners completed everything; the others a quarter of their materials: ≈ 1/3 completed.
            cursor.execute(
                """
                INSERT INTO enrollments_materialtracking (user_id, material_id, status, completed_at, score, updated_at)
                SELECT e.user_id, m.id, st.status,
                       CASE WHEN st.status = 'completed' THEN %(now)s - interval '10 days' END,
                       CASE WHEN st.status = 'completed' THEN 80 END, %(now)s
                FROM enrollments_learningplanenrollment e
                JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id
                JOIN enrollments_trainingmaterial m ON m.course_id = lpc.course_id
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN e.user_id %% 10 = 0 THEN 'completed'
                                WHEN (e.user_id + m.id) %% 4 = 0 THEN 'completed'
                                WHEN (e.user_id + m.id) %% 4 = 1 THEN 'in_progress'
                                ELSE 'not_attempted' END
                ) AS st(status)
                WHERE e.learning_plan_id = %(plan)s
                """,
                params,
            )
            cursor.execute(
                "SELECT user_id, course_id FROM enrollments_courseenrollment WHERE course_id IN "
                "(SELECT course_id FROM enrollments_learningplancourse WHERE learning_plan_id = %(plan)s)",
                params,
            )
            recompute_course_statuses(cursor.fetchall(), now=now)
            ids = list(plan.enrollments.values_list("pk", flat=True))
            completed = recompute_plan_statuses(ids, now=now)
            cursor.execute(
                """
                INSERT INTO enrollments_issuedcertificate (user_id, learning_plan_id, template_id, issued_at, file,
                                                           rendered_at)
                SELECT e.user_id, e.learning_plan_id, %(template)s, %(now)s,
                       'certificates/' || e.learning_plan_id || '/bench-' || e.user_id || '.pdf', %(now)s
                FROM enrollments_learningplanenrollment e WHERE e.id = ANY(%(ids)s)
                RETURNING user_id, file
                """,
                {**params, "template": template.pk, "ids": completed},
            )
            for user_id, name in cursor.fetchall():
                path = Path(settings.MEDIA_ROOT) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(CERTIFICATE_PDF + f"% learner {user_id}\n%%EOF\n".encode())
            assert default_storage.exists(name)
            cursor.execute(
                "SELECT count(*), round(100.0 * count(*) FILTER (WHERE status = 'completed') / count(*)) "
                "FROM enrollments_materialtracking"
            )
            tracking, completed_pct = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "enrollments": len(ids),
        "tracking": tracking,
        "completed_tracking_pct": int(completed_pct),
        "certificates": len(completed),
        "batch_size": settings.ARCHIVE_BATCH_SIZE,
    }


def measure(kind: str, mode: str, reset: bool, notify: bool) -> dict:
    """One run on a fresh copy: wall time, queries (counted, not kept), peak RSS, rows written."""
    import django_rq
    from django.conf import settings
    from django.db import connection

    from archive.services import archive_enrollments
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


FLOOR_CERTIFICATES = """
SELECT ic.id, ic.file FROM enrollments_issuedcertificate ic
JOIN enrollments_learningplanenrollment e ON e.user_id = ic.user_id AND e.learning_plan_id = ic.learning_plan_id
WHERE e.id = ANY(%(ids)s) AND ic.file <> ''
"""
FLOOR_PLAN_SNAPSHOTS = (
    "INSERT INTO archive_archivedplanenrollment ("
    + SNAPSHOT_COLUMNS
    + ")"
    + """
SELECT %(now)s, %(admin)s, 'bench_admin', %(mode)s, %(reset)s, %(notify)s, NULL, e.id, e.round,
       u.id, u.id, u.first_name || ' ' || u.last_name, u.language, u.username, u.first_name, u.last_name,
       u.last_login, u.expires_on, u.is_active, NOT u.is_active, u.level, 'active',
       p.id, p.id, p.title, p.code, p.uid, e.status, p.language, p.created_at,
       p.published_at, p.updated_at, p.validity_days, p.start_date, p.end_date, cl.list,
       p.credits, p.certificate_template_id, ac.id, coalesce(ac.sha256, ''), ic.issued_at,
       e.enrolled_at, e.enrolled_by_id, 'bench_admin', e.updated_at, e.validity_start, e.validity_end,
       'active', e.completed_at
FROM enrollments_learningplanenrollment e
JOIN accounts_user u ON u.id = e.user_id
JOIN enrollments_learningplan p ON p.id = e.learning_plan_id
JOIN (SELECT lpc.learning_plan_id, string_agg(c.title, ', ' ORDER BY lpc.position) AS list
      FROM enrollments_learningplancourse lpc JOIN enrollments_course c ON c.id = lpc.course_id
      GROUP BY lpc.learning_plan_id) cl ON cl.learning_plan_id = p.id
LEFT JOIN enrollments_issuedcertificate ic ON ic.user_id = e.user_id AND ic.learning_plan_id = p.id
LEFT JOIN unnest(%(cert_ids)s::bigint[], %(shas)s::text[]) AS cs(id, sha256) ON cs.id = ic.id
LEFT JOIN archive_archivedcertificate ac ON ac.sha256 = cs.sha256
WHERE e.id = ANY(%(ids)s)
"""
)
FLOOR_COURSE_SNAPSHOTS = """
WITH tr AS MATERIALIZED (
    SELECT e.user_id, m.course_id, count(*) AS total, count(*) FILTER (WHERE mt.status = 'completed') AS done,
           jsonb_agg(jsonb_build_array(m.id, mt.status, mt.completed_at, mt.score) ORDER BY m.position) AS tracking
    FROM enrollments_learningplanenrollment e
    JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id
    JOIN enrollments_trainingmaterial m ON m.course_id = lpc.course_id
    LEFT JOIN enrollments_materialtracking mt ON mt.material_id = m.id AND mt.user_id = e.user_id
    WHERE e.id = ANY(%(ids)s)
    GROUP BY e.user_id, m.course_id
)
INSERT INTO archive_archivedcourseenrollment (plan_archive_id, course_id, course_number, course_title, course_code,
    course_uid, course_type, position, enrolled_at, enrolled_by_username, status, completed_at, score,
    materials_completed, materials_total, tracking)
SELECT a.id, c.id, c.id, c.title, c.code, c.uid, c.course_type, lpc.position, ce.enrolled_at, 'bench_admin',
       ce.status, ce.completed_at, ce.score, tr.done, tr.total, tr.tracking
FROM archive_archivedplanenrollment a
JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = a.plan_number
JOIN enrollments_course c ON c.id = lpc.course_id
JOIN enrollments_courseenrollment ce ON ce.user_id = a.user_number AND ce.course_id = c.id
JOIN tr ON tr.user_id = a.user_number AND tr.course_id = c.id
WHERE a.enrollment_id = ANY(%(ids)s)
"""
FLOOR_OUTBOX = """
INSERT INTO notifications_outboxmessage (dedupe_key, event, recipient_id, recipient_email, context, created_at,
                                         sent_at, attempts, last_error)
SELECT ev.event || ':' || a.enrollment_id || ':' || a.round || ':' || coalesce(ev.course_id::text, '-') || ':'
           || a.user_number,
       ev.event, a.user_number, u.email,
       jsonb_build_object('learner_name', a.user_display_name, 'plan_title', a.plan_title,
                          'course_title', ev.course_title, 'round', a.round, 'next_round', a.round + 1),
       %(now)s, NULL, 0, ''
FROM archive_archivedplanenrollment a
JOIN accounts_user u ON u.id = a.user_number
CROSS JOIN LATERAL (
    SELECT 'lp_enrollment_archived' AS event, NULL::bigint AS course_id, NULL::text AS course_title
    UNION ALL SELECT %(plan_event)s, NULL, NULL
    UNION ALL SELECT 'course_enrollment_archived', ace.course_number, ace.course_title
              FROM archive_archivedcourseenrollment ace WHERE ace.plan_archive_id = a.id
    UNION ALL SELECT %(course_event)s, ace.course_number, ace.course_title
              FROM archive_archivedcourseenrollment ace WHERE ace.plan_archive_id = a.id
) ev
WHERE a.enrollment_id = ANY(%(ids)s)
"""
FLOOR_RESET = """
DELETE FROM enrollments_materialtracking mt
USING enrollments_learningplanenrollment e, enrollments_learningplancourse lpc, enrollments_trainingmaterial m
WHERE e.id = ANY(%(ids)s) AND lpc.learning_plan_id = e.learning_plan_id AND m.course_id = lpc.course_id
  AND mt.material_id = m.id AND mt.user_id = e.user_id
"""
FLOOR_REENROLL = [
    """
    UPDATE enrollments_courseenrollment ce SET enrolled_at = %(now)s, enrolled_by_id = %(admin)s, updated_at = %(now)s,
           manually_completed_at = NULL
    FROM enrollments_learningplanenrollment e, enrollments_learningplancourse lpc
    WHERE e.id = ANY(%(ids)s) AND lpc.learning_plan_id = e.learning_plan_id
      AND ce.user_id = e.user_id AND ce.course_id = lpc.course_id
    """,
    """
    UPDATE enrollments_learningplanenrollment e SET round = e.round + 1, enrolled_at = %(now)s,
           enrolled_by_id = %(admin)s, updated_at = %(now)s, validity_start = %(now)s,
           validity_end = %(now)s + p.validity_days * interval '1 day', status = 0, completed_at = NULL
    FROM enrollments_learningplan p WHERE e.id = ANY(%(ids)s) AND p.id = e.learning_plan_id
    """,
]
FLOOR_UNENROLL = [
    """
    DELETE FROM enrollments_courseenrollment ce
    USING enrollments_learningplanenrollment e, enrollments_learningplancourse lpc
    WHERE e.id = ANY(%(ids)s) AND lpc.learning_plan_id = e.learning_plan_id
      AND ce.user_id = e.user_id AND ce.course_id = lpc.course_id
    """,
    "DELETE FROM enrollments_learningplanenrollment WHERE id = ANY(%(ids)s)",
]


def floor(ids: list[int], *, admin, mode: str, reset: bool, notify: bool) -> int:
    """The same writes as the engine by plain set-based SQL, batch by batch, without locks or decisions."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from archive.services import storage
    from enrollments.status import recompute_course_statuses, recompute_plan_statuses

    reenroll = mode == "reenroll"
    size = settings.ARCHIVE_BATCH_SIZE
    for start in range(0, len(ids), size):
        batch = ids[start : start + size]
        now = timezone.now()
        params = {
            "ids": batch,
            "now": now,
            "admin": admin.pk,
            "mode": mode,
            "reset": reset,
            "notify": notify,
            "plan_event": "lp_user_enrolled" if reenroll else "lp_user_unenrolled",
            "course_event": "course_user_enrolled" if reenroll else "course_user_unenrolled",
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # measured faster than deferred checks at COMMIT
            cursor.execute(FLOOR_CERTIFICATES, params)
            certificates = cursor.fetchall()
            shas, files = [], {}
            for _, name in certificates:
                content = storage.read_live_file(name)
                sha, path = storage.write_content(content)
                shas.append(sha)
                files[sha] = (path, len(content))
            cursor.execute(
                "INSERT INTO archive_archivedcertificate (sha256, file, size, created_at) "
                "SELECT s, f, z, %(now)s FROM unnest(%(s)s::text[], %(f)s::text[], %(z)s::int[]) AS x(s, f, z) "
                "ON CONFLICT (sha256) DO NOTHING",
                {
                    "now": now,
                    "s": list(files),
                    "f": [f for f, _ in files.values()],
                    "z": [z for _, z in files.values()],
                },
            )
            params.update(cert_ids=[pk for pk, _ in certificates], shas=shas)
            cursor.execute(FLOOR_PLAN_SNAPSHOTS, params)
            cursor.execute(FLOOR_COURSE_SNAPSHOTS, params)
            if notify:
                cursor.execute(FLOOR_OUTBOX, params)
            if reset:
                cursor.execute(FLOOR_RESET, params)
            cursor.execute(
                "SELECT e.user_id, lpc.course_id FROM enrollments_learningplanenrollment e "
                "JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id "
                "WHERE e.id = ANY(%(ids)s)",
                params,
            )
            pairs = cursor.fetchall()
            for statement in FLOOR_REENROLL if reenroll else FLOOR_UNENROLL:
                cursor.execute(statement, params)
            cursor.execute("DELETE FROM enrollments_issuedcertificate WHERE id = ANY(%(cert_ids)s)", params)
            if reenroll:
                recompute_course_statuses(pairs, now=now)
                completed = recompute_plan_statuses(batch, now=now)
                cursor.execute(
                    """
                    INSERT INTO enrollments_issuedcertificate (user_id, learning_plan_id, template_id, issued_at, file)
                    SELECT e.user_id, e.learning_plan_id, p.certificate_template_id, %(now)s, ''
                    FROM enrollments_learningplanenrollment e
                    JOIN enrollments_learningplan p ON p.id = e.learning_plan_id
                    WHERE e.id = ANY(%(done)s)
                    """,
                    {**params, "done": completed},
                )
            cursor.execute(
                "UPDATE enrollments_learningplan SET archived_count = archived_count + %(n)s "
                "WHERE id = (SELECT learning_plan_id FROM archive_archivedplanenrollment "
                "WHERE enrollment_id = %(first)s LIMIT 1)",
                {"n": len(batch), "first": batch[0]},
            )
    return len(ids)


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
        result = seed(args.learners)
    else:
        result = measure(args.kind, args.mode, bool(args.reset), bool(args.notify))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
