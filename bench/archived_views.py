"""Benchmark of the Archived enrollments view at scale (SPEC §9): server time and queries per page.

`run()` seeds (once) 1,000,000 archived plan enrollments over 10 plans (100,000 each) with set-based SQL,
then requests the pages of one plan through Django's test client inside this process — first page, the
page holding row 100,000 in the default order (newest first), a filtered page, a search — and reports the
median server time and the query count, as bench.list_views does for the Active view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lms_bench python -m bench.archived_views
"""

from __future__ import annotations

import os
from urllib.parse import quote

from bench.common import bench_admin
from bench.list_views import ADMIN, measure_pages, print_rows

PLANS = 10
PER_PLAN = 100_000
PLAN_CODE_PREFIX = "BENCH-ARCHIVED-"


def seed_archived(plans: int = PLANS, per_plan: int = PER_PLAN, *, prefix: str = PLAN_CODE_PREFIX) -> list[int]:
    """`plans` plans with `per_plan` archived records each (reused when present), their codes starting with
    `prefix` (one prefix per suite, so suites of different sizes share a database); returns the plan ids."""
    from django.db import connection, transaction

    from enrollments.models import LearningPlan

    existing = list(LearningPlan.objects.filter(code__startswith=prefix).order_by("code"))
    if len(existing) == plans and all(p.archived_count == per_plan for p in existing):
        return [p.pk for p in existing]
    with transaction.atomic():
        for plan in existing:
            plan.archived_enrollments.all().delete()
            plan.delete()
        admins = [bench_admin(ADMIN)]
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                           is_active, date_joined, language, level)
                SELECT '!', false, 'bench_archiver_' || i, 'Archiver', 'Number' || i, '', false, true, now(), 'en',
                       'superadmin'
                FROM generate_series(1, 4) AS i
                ON CONFLICT (username) DO NOTHING
                """
            )
        from lms_admin.accounts.models import User

        admins += list(User.objects.filter(username__startswith="bench_archiver_").order_by("pk"))
        plan_ids = []
        for number in range(plans):
            plan = LearningPlan.objects.create(
                title=f"Bench: archived history {number + 1}", code=f"{prefix}{number:02d}"
            )
            plan_ids.append(plan.pk)
        admin_ids = [a.pk for a in admins]
        with connection.cursor() as cursor:
            # Record i of plan p: archived one minute apart (ties every third), a frozen user status mix,
            # archived by one of five admins, learners named First<i> Last<i> (the same names in every plan);
            # enrollment ids p * 1,000,000 + i never collide between plans or suites.
            cursor.execute(
                """
                INSERT INTO archive_archivedplanenrollment (
                    archived_at, archived_by_id, archived_by_username, mode, reset_tracking, notify, job_id,
                    enrollment_id, round, user_id, user_number, user_display_name, user_language, user_username,
                    user_first_name, user_last_name, user_last_login, user_expires_on, user_active, user_suspended,
                    user_level, user_status, learning_plan_id, plan_number, plan_title, plan_code, plan_uid,
                    plan_status, plan_language, plan_created_at, plan_published_at, plan_updated_at,
                    plan_validity_days, plan_start_date, plan_end_date, plan_course_list, plan_credits,
                    plan_certificate_template_number, certificate_id, certificate_sha256, certificate_assigned_at,
                    enrolled_at, enrolled_by_id, enrolled_by_username, enrollment_updated_at, validity_start,
                    validity_end, enrollment_status, completed_at
                )
                SELECT t.at, a.id, 'bench_admin', CASE WHEN s.i %% 4 = 0 THEN 'unenroll' ELSE 'reenroll' END,
                       (s.i %% 5 = 0)::text, true, NULL,
                       p.id * 1000000 + s.i, 1 + s.i %% 3, NULL, 5000000 + s.i, 'First' || s.i || ' Last' || s.i,
                       'en', 'archived_learner_' || s.i, 'First' || s.i, 'Last' || s.i, NULL, NULL,
                       s.i %% 50 <> 0, s.i %% 50 = 0, 'user',
                       CASE WHEN s.i %% 50 = 0 THEN 'deactivated' WHEN s.i %% 70 = 0 THEN 'expired' ELSE 'active' END,
                       p.id, p.id, p.title, p.code, p.uid, s.i %% 3, 'en', t.at, t.at, t.at,
                       NULL, NULL, NULL, 'Course A, Course B, Course C', 2.50,
                       NULL, NULL, '', NULL,
                       t.at - interval '90 days', NULL, '', t.at, t.at - interval '90 days', NULL,
                       'active', CASE WHEN s.i %% 3 = 2 THEN t.at - interval '1 day' END
                FROM (SELECT id, title, code, uid FROM enrollments_learningplan WHERE id = ANY(%(plans)s)) p
                CROSS JOIN generate_series(1, %(per_plan)s) AS s(i)
                CROSS JOIN LATERAL (SELECT now() - interval '1 minute' * ((%(per_plan)s - s.i) / 3) AS at) t
                JOIN LATERAL (SELECT (%(admins)s::bigint[])[1 + s.i %% %(admin_count)s] AS id) a ON true
                """,
                {"per_plan": per_plan, "plans": plan_ids, "admins": admin_ids, "admin_count": len(admin_ids)},
            )
            cursor.execute(
                "UPDATE enrollments_learningplan SET archived_count = %s WHERE id = ANY(%s)", [per_plan, plan_ids]
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE archive_archivedplanenrollment")
    return plan_ids


def run() -> list[dict]:
    """Seed if needed, measure the four pages of the first bench plan; one row per (page, time | queries)."""
    from django.test import Client
    from django.urls import reverse

    from archive.models import ArchivedPlanEnrollment

    plan_ids = seed_archived()
    plan_id = plan_ids[0]
    records = ArchivedPlanEnrollment.objects.filter(learning_plan_id=plan_id)
    total = records.count()
    client = Client(HTTP_HOST="localhost")
    client.force_login(bench_admin(ADMIN))
    base = reverse("archive:archived_list", args=[plan_id])
    # The Next link of the page before the one holding the last row (found once, with an OFFSET).
    row = records.order_by("-archived_at", "-id").values("archived_at", "id")[total - 26]
    cursor = quote(f"{row['archived_at'].isoformat()}|{row['id']}")
    archiver = records.values_list("archived_by_id", flat=True).first()
    pages = [
        ("first page", base),
        (f"page holding row {total:,} (Next from the page before)", f"{base}?after={cursor}"),
        (
            "filtered page (archived by one admin, frozen status active)",
            f"{base}?archived_by={archiver}&user_status=active",
        ),
        ("search “First4242”", f"{base}?search=First4242"),
    ]
    data = f"{PLANS} plans, {ArchivedPlanEnrollment.objects.count():,} archived records, {total:,} in the plan shown"
    return measure_pages(client, "Archived view", pages, data)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    import django

    django.setup()
    print_rows(run())
