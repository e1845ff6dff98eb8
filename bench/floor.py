"""The floor of the engine benchmark: the engine's writes done by plain hand-written set-based SQL, batch by batch,
without locks or decisions. Imported after Django is set up (it reads the engine's snapshot column list).
"""

from __future__ import annotations

from archive.services.sql import SNAPSHOT_COLUMNS

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
SELECT %(now)s, %(admin)s, 'bench_admin', %(mode)s, %(reset)s::text, %(notify)s, NULL, e.id, e.round,
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
