"""The SPEC §9 bench data of the engine and jobs benchmarks, written with set-based SQL into a template database.

Run in a child (`python -m bench.engine seed`, see bench/engine.py) after Django is set up.
"""

from __future__ import annotations

from pathlib import Path

PLAN_CODE = "BENCH-ENGINE"
CERTIFICATE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n"
)


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
