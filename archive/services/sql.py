"""The set-based SQL of one archive batch (SPEC §4.3). Every function is one statement for the whole batch.

The snapshot, its course snapshots, the notification outbox and the plans' archived-records counters
are written by a single INSERT … SELECT statement (data-modifying CTEs): the rows are copied inside
the database, never through Python objects. The live changes (tracking reset, re-enroll or unenroll)
follow in a second statement, which sees the snapshot already written.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from enrollments.status import LOCK_SQL as LEARNING_STATE_LOCK_SQL
from lms_admin.notifications.sql import addressed

from ..models import ARCHIVE_EVENTS
from .content_sql import CONTENT_VERSION_CTES

# Sent as one round trip with the lock. Foreign keys checked per statement: deferred to COMMIT, the checks
# of a batch's ~15,000 new rows were measured 5× slower than the same checks run immediately. Each of those
# checks is a saved plan PostgreSQL runs per new row, so `plan_cache_mode = force_custom_plan` must not be
# set here: it re-plans every one of them (measured: a batch's foreign-key checks 4× slower, the whole engine
# 1.5× the floor with notifications on instead of 1×). The batch statements themselves are sent with
# client-side binding and planned for their values anyway.
# The lock itself is the one lock order's (SPEC §4.10): the batch's plan enrollments together with the
# learners' other plan enrollments that share a course with them (the status recompute rewrites those),
# in id order, then the learners' course enrollments of those courses, in id order.
LOCK_SQL = "SET CONSTRAINTS ALL IMMEDIATE;" + LEARNING_STATE_LOCK_SQL

# Run after the lock, so it sees what a concurrent archive committed while this one waited.
LOOKUP_SQL = """
SELECT p.id, s.id, s.job_id, ic.id, ic.file
FROM unnest(%(ids)s::bigint[], %(rounds)s::int[]) AS p(id, round)
LEFT JOIN archive_archivedplanenrollment s ON s.enrollment_id = p.id AND s.round = p.round
LEFT JOIN enrollments_learningplanenrollment e ON e.id = p.id
LEFT JOIN enrollments_issuedcertificate ic ON ic.user_id = e.user_id AND ic.learning_plan_id = e.learning_plan_id
"""

# The plan snapshot's columns in the order both the engine and the benchmark's floor write them.
SNAPSHOT_COLUMNS = """
        archived_at, archived_by_id, archived_by_username, mode, reset_tracking, notify, job_id, enrollment_id, round,
        user_id, user_number, user_display_name, user_language, user_username, user_first_name, user_last_name,
        user_last_login, user_expires_on, user_active, user_suspended, user_level, user_status,
        learning_plan_id, plan_number, plan_title, plan_code, plan_uid, plan_status, plan_language, plan_created_at,
        plan_published_at, plan_updated_at, plan_validity_days, plan_start_date, plan_end_date, plan_course_list,
        plan_credits, plan_certificate_template_number, certificate_id, certificate_sha256, certificate_assigned_at,
        enrolled_at, enrolled_by_id, enrolled_by_username, enrollment_updated_at, validity_start, validity_end,
        enrollment_status, completed_at
"""

# The batch's live rows, read once: both batch statements start from it.
BATCH_CTE = """WITH batch AS MATERIALIZED (
    SELECT e.id, e.user_id, e.learning_plan_id
    FROM enrollments_learningplanenrollment e
    WHERE e.id = ANY(%(ids)s::bigint[])
)"""

SNAPSHOT_SQL = (
    BATCH_CTE
    + ","
    + CONTENT_VERSION_CTES
    + """, course_lists AS MATERIALIZED (
    SELECT lpc.learning_plan_id, string_agg(c.title, ', ' ORDER BY lpc.position, lpc.id) AS course_list
    FROM enrollments_learningplancourse lpc
    JOIN enrollments_course c ON c.id = lpc.course_id
    WHERE lpc.learning_plan_id IN (SELECT DISTINCT learning_plan_id FROM batch)
    GROUP BY lpc.learning_plan_id
), progress AS MATERIALIZED (
    -- Aggregated once for the batch: a per-row subquery against the tables being filled is O(n²).
    SELECT uc.user_id, uc.course_id,
           count(m.id) AS total,
           count(mt.id) FILTER (WHERE mt.status = 'completed') AS done,
           coalesce(
               jsonb_agg(
                   jsonb_build_array(m.id, coalesce(mt.status, 'not_attempted'), mt.completed_at, mt.score)
                   ORDER BY m.position, m.id
               ) FILTER (WHERE m.id IS NOT NULL),
               '[]'::jsonb
           ) AS tracking
    FROM (
        SELECT DISTINCT b.user_id, lpc.course_id
        FROM batch b
        JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = b.learning_plan_id
        JOIN enrollments_courseenrollment ce ON ce.user_id = b.user_id AND ce.course_id = lpc.course_id
    ) uc
    LEFT JOIN enrollments_trainingmaterial m ON m.course_id = uc.course_id
    LEFT JOIN enrollments_materialtracking mt ON mt.material_id = m.id AND mt.user_id = uc.user_id
    GROUP BY uc.user_id, uc.course_id
), stored AS (
    -- Get-or-create the content-addressed certificate rows; DO UPDATE (not NOTHING) so that a row
    -- committed by a concurrent archive after this statement began is returned too.
    INSERT INTO archive_archivedcertificate (sha256, file, size, created_at)
    SELECT f.sha256, f.path, f.size, %(now)s
    FROM unnest(%(file_shas)s::text[], %(file_paths)s::text[], %(file_sizes)s::int[]) AS f(sha256, path, size)
    ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
    RETURNING id, sha256
), cert AS (
    SELECT c.enrollment_id, stored.id, stored.sha256
    FROM unnest(%(cert_enrollment_ids)s::bigint[], %(cert_shas)s::text[]) AS c(enrollment_id, sha256)
    JOIN stored ON stored.sha256 = c.sha256
), snap AS (
    INSERT INTO archive_archivedplanenrollment ("""
    + SNAPSHOT_COLUMNS
    + """, certificate_pending, certificate_pending_template_number, trigger, certified_until, content_version_id)
    SELECT %(now)s, %(actor_id)s, %(actor_username)s, %(mode)s, %(reset)s, %(notify)s, %(job_id)s, e.id, e.round,
           u.id, u.id, coalesce(nullif(trim(u.first_name || ' ' || u.last_name), ''), u.username), u.language,
           u.username, u.first_name, u.last_name,
           u.last_login, u.expires_on, us.status = 'active', NOT u.is_active, u.level, us.status,
           p.id, p.id, p.title, p.code, p.uid, e.status, p.language, p.created_at,
           p.published_at, p.updated_at, p.validity_days, p.start_date, p.end_date, coalesce(cl.course_list, ''),
           p.credits, p.certificate_template_id, cert.id, coalesce(cert.sha256, ''), ic.issued_at,
           e.enrolled_at, e.enrolled_by_id, coalesce(eb.username, ''), e.updated_at, e.validity_start, e.validity_end,
           CASE WHEN e.validity_start > %(now)s THEN 'not_yet_valid'
                WHEN e.validity_end < %(now)s THEN 'expired'
                ELSE 'active' END,
           e.completed_at,
           -- Issued, not rendered (no bytes to keep): rendered later from this snapshot, with the live one's template.
           ic.id IS NOT NULL AND cert.id IS NULL, CASE WHEN cert.id IS NULL THEN ic.template_id END,
           %(trigger)s, e.certified_until, pv.id
    FROM enrollments_learningplanenrollment e
    JOIN accounts_user u ON u.id = e.user_id
    JOIN enrollments_learningplan p ON p.id = e.learning_plan_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN u.expires_on < %(today)s THEN 'expired'
                    WHEN NOT u.is_active THEN 'deactivated'
                    ELSE 'active' END
    ) AS us(status)
    LEFT JOIN course_lists cl ON cl.learning_plan_id = p.id
    LEFT JOIN accounts_user eb ON eb.id = e.enrolled_by_id
    LEFT JOIN enrollments_issuedcertificate ic ON ic.user_id = e.user_id AND ic.learning_plan_id = e.learning_plan_id
    LEFT JOIN cert ON cert.enrollment_id = e.id
    LEFT JOIN plan_versions pv ON pv.learning_plan_id = e.learning_plan_id
    WHERE e.id = ANY(%(ids)s::bigint[])
    ON CONFLICT (enrollment_id, round) DO NOTHING
    RETURNING id, enrollment_id, round, user_id, learning_plan_id, user_display_name, plan_title, certificate_pending
), courses AS (
    INSERT INTO archive_archivedcourseenrollment (
        plan_archive_id, course_id, course_number, course_title, course_code, course_uid, course_type, position,
        enrolled_at, enrolled_by_username, status, completed_at, score, materials_completed, materials_total, tracking
    )
    SELECT snap.id, c.id, c.id, c.title, c.code, c.uid, c.course_type, lpc.position,
           ce.enrolled_at, coalesce(ceb.username, ''), ce.status, ce.completed_at, ce.score,
           coalesce(pr.done, 0), coalesce(pr.total, 0), coalesce(pr.tracking, '[]'::jsonb)
    FROM snap
    JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = snap.learning_plan_id
    JOIN enrollments_course c ON c.id = lpc.course_id
    JOIN enrollments_courseenrollment ce ON ce.user_id = snap.user_id AND ce.course_id = lpc.course_id
    LEFT JOIN accounts_user ceb ON ceb.id = ce.enrolled_by_id
    LEFT JOIN progress pr ON pr.user_id = snap.user_id AND pr.course_id = lpc.course_id
    RETURNING plan_archive_id, course_number, course_title
), counters AS (
    UPDATE enrollments_learningplan p SET archived_count = p.archived_count + n.archived
    FROM (SELECT learning_plan_id, count(*) AS archived FROM snap GROUP BY learning_plan_id) n
    WHERE p.id = n.learning_plan_id
), events AS (
    SELECT 'lp_enrollment_archived'::text AS event, s.enrollment_id, s.round, s.user_id, s.user_display_name,
           s.plan_title, NULL::bigint AS course_id, NULL::text AS course_title
    FROM snap s WHERE %(notify)s
    UNION ALL
    SELECT 'course_enrollment_archived', s.enrollment_id, s.round, s.user_id, s.user_display_name,
           s.plan_title, cs.course_number, cs.course_title
    FROM courses cs JOIN snap s ON s.id = cs.plan_archive_id WHERE %(notify)s
    UNION ALL
    SELECT %(plan_event)s, s.enrollment_id, s.round, s.user_id, s.user_display_name,
           s.plan_title, NULL, NULL
    FROM snap s WHERE %(notify)s
    UNION ALL
    -- Re-enroll: every course of the plan; unenroll: the course enrollments that existed.
    SELECT %(course_event)s, s.enrollment_id, s.round, s.user_id, s.user_display_name,
           s.plan_title, c.id, c.title
    FROM snap s
    JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = s.learning_plan_id
    JOIN enrollments_course c ON c.id = lpc.course_id
    WHERE %(notify)s AND %(mode)s = 'reenroll'
    UNION ALL
    SELECT %(course_event)s, s.enrollment_id, s.round, s.user_id, s.user_display_name,
           s.plan_title, cs.course_number, cs.course_title
    FROM courses cs JOIN snap s ON s.id = cs.plan_archive_id WHERE %(notify)s AND %(mode)s = 'unenroll'
    UNION ALL
    -- A retraining rule re-enrolled the learner (SPEC §11).
    SELECT 'retraining_started', s.enrollment_id, s.round, s.user_id, s.user_display_name, s.plan_title, NULL, NULL
    FROM snap s WHERE %(notify)s AND %(trigger)s = 'rule'
), addressed AS ("""
    + addressed("events")
    + """), outbox AS (
    INSERT INTO notifications_outboxmessage (
        dedupe_key, event, recipient_id, recipient_email, context, created_at, sent_at, attempts, last_error
    )
    SELECT a.event || ':' || a.enrollment_id || ':' || a.round || ':' || coalesce(a.course_id::text, '-')
               || ':' || a.recipient_id,
           a.event, a.recipient_id, ru.email,
           jsonb_build_object(
               'learner_name', a.user_display_name,
               'recipient_name', coalesce(nullif(trim(ru.first_name || ' ' || ru.last_name), ''), ru.username),
               'plan_title', a.plan_title,
               'course_title', a.course_title,
               'round', a.round,
               'next_round', a.round + 1,
               'archived_at', %(archived_at_text)s,
               'mode', %(mode)s
           ),
           %(now)s, NULL, 0, ''
    FROM addressed a JOIN accounts_user ru ON ru.id = a.recipient_id
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING 1
)
SELECT s.id, s.enrollment_id, s.certificate_pending, (SELECT count(*) FROM outbox) FROM snap s
"""
)

_LIVE_BATCH = (
    BATCH_CTE
    + """, plan_courses AS MATERIALIZED (
    SELECT DISTINCT b.user_id, lpc.course_id
    FROM batch b JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = b.learning_plan_id
), reset AS (
    -- 'true': every tracking row of the plan's materials. 'changed' (SPEC §13): completed rows done before the
    -- material's last substantive change (or with no completion date); in-progress rows stay.
    DELETE FROM enrollments_materialtracking mt
    USING plan_courses pc, enrollments_trainingmaterial m
    WHERE %(reset)s <> 'false' AND m.course_id = pc.course_id AND mt.material_id = m.id AND mt.user_id = pc.user_id
      AND (
          %(reset)s = 'true'
          OR (mt.status = 'completed' AND m.content_changed_at IS NOT NULL
              AND (mt.completed_at IS NULL OR mt.completed_at < m.content_changed_at))
      )
    RETURNING mt.user_id, m.course_id
), courses_reset AS MATERIALIZED (
    -- The courses that lost a row: their manual completion no longer stands.
    SELECT DISTINCT user_id, course_id FROM reset
)"""
)

REENROLL_SQL = (
    _LIVE_BATCH
    + """, reenrolled AS (
    -- Validity as enrollments.services.validity_for (SPEC §3), computed in the database.
    UPDATE enrollments_learningplanenrollment e SET
        round = e.round + 1,
        enrolled_at = %(now)s,
        enrolled_by_id = %(actor_id)s,
        updated_at = %(now)s,
        validity_start = v.start,
        validity_end = CASE
            WHEN coalesce(p.validity_days, 0) > 0 THEN v.start + p.validity_days * interval '1 day'
            WHEN p.end_date IS NOT NULL THEN (p.end_date + time '23:59:59.999999') AT TIME ZONE 'UTC'
            END,
        status = 0,
        completed_at = NULL
    FROM enrollments_learningplan p
    CROSS JOIN LATERAL (
        SELECT greatest(%(now)s::timestamptz, p.start_date::timestamp AT TIME ZONE 'UTC')
    ) AS v(start)
    WHERE e.id = ANY(%(ids)s::bigint[]) AND p.id = e.learning_plan_id
), course_enrollments AS (
    INSERT INTO enrollments_courseenrollment (
        user_id, course_id, enrolled_at, enrolled_by_id, updated_at, status, completed_at, score, manually_completed_at
    )
    SELECT pc.user_id, pc.course_id, %(now)s, %(actor_id)s, %(now)s, 0, NULL, NULL, NULL
    FROM plan_courses pc
    ON CONFLICT (user_id, course_id) DO UPDATE SET
        enrolled_at = EXCLUDED.enrolled_at,
        enrolled_by_id = EXCLUDED.enrolled_by_id,
        updated_at = EXCLUDED.updated_at,
        -- With the tracking reset nothing is left done: Not started, written here once. The status recompute
        -- that follows agrees and writes nothing (a second write of the same rows doubles their cost).
        status = CASE WHEN %(reset)s = 'true' THEN 0 ELSE enrollments_courseenrollment.status END,
        completed_at = CASE WHEN %(reset)s = 'true' THEN NULL ELSE enrollments_courseenrollment.completed_at END,
        manually_completed_at = CASE
            WHEN %(reset)s = 'true' THEN NULL
            WHEN %(reset)s = 'changed' AND EXISTS (
                SELECT 1 FROM courses_reset cr
                WHERE cr.user_id = enrollments_courseenrollment.user_id
                  AND cr.course_id = enrollments_courseenrollment.course_id
            ) THEN NULL
            ELSE enrollments_courseenrollment.manually_completed_at END

)
SELECT 1
"""
)

UNENROLL_SQL = (
    _LIVE_BATCH
    + """, dropped_courses AS (
    DELETE FROM enrollments_courseenrollment ce
    USING plan_courses pc
    WHERE ce.user_id = pc.user_id AND ce.course_id = pc.course_id
), dropped AS (
    DELETE FROM enrollments_learningplanenrollment e WHERE e.id = ANY(%(ids)s::bigint[])
)
SELECT 1
"""
)


@dataclass(frozen=True)
class LockedRow:
    id: int
    round: int
    user_id: int
    learning_plan_id: int


@dataclass(frozen=True)
class Lookup:
    archive_id: int | None
    archive_job_id: int | None
    certificate_id: int | None
    certificate_file: str


def lock_rows(ids: Sequence[int]) -> dict[int, LockedRow]:
    """Lock what the batch changes in the one lock order (LOCK_SQL); returns the batch's own live rows."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, {"ids": list(ids), "user_ids": [], "course_ids": []})
        while cursor.description is None and cursor.nextset():  # past the two SETs to the plan enrollments
            pass
        requested = set(ids)
        return {row[0]: LockedRow(*row) for row in cursor.fetchall() if row[0] in requested}


def look_up(pairs: Sequence[tuple[int, int]]) -> dict[int, Lookup]:
    """Per requested (id, round): the snapshot of that round if any, and the live certificate."""
    with connection.cursor() as cursor:
        cursor.execute(LOOKUP_SQL, {"ids": [i for i, _ in pairs], "rounds": [r for _, r in pairs]})
        return {row[0]: Lookup(row[1], row[2], row[3], row[4] or "") for row in cursor.fetchall()}


def write_snapshots(
    *,
    ids: Sequence[int],
    now: datetime.datetime,
    actor_id: int | None,
    actor_username: str,
    mode: str,
    reset_tracking: str,
    notify: bool,
    job_id: int | None,
    trigger: str = "manual",
    certificates: dict[int, str],
    files: dict[str, tuple[str, int]],
) -> tuple[dict[int, int], int, list[int]]:
    """Certificate rows, snapshots, course snapshots, counters and outbox rows in one statement.

    `certificates` maps enrollment id → sha256 of its certificate's bytes, `files` sha256 → (stored
    path, size). Returns ({enrollment id: archive id} of the snapshots written, outbox rows written, the
    archive ids whose certificate is pending).
    """
    params = {
        "ids": list(ids),
        "now": now,
        "today": now.date(),
        "actor_id": actor_id,
        "actor_username": actor_username,
        "mode": mode,
        "reset": reset_tracking,
        "notify": notify,
        "job_id": job_id,
        "record_content": settings.ARCHIVE_RECORD_CONTENT,
        "trigger": trigger,
        "cert_enrollment_ids": list(certificates),
        "cert_shas": list(certificates.values()),
        "file_shas": list(files),
        "file_paths": [path for path, _ in files.values()],
        "file_sizes": [size for _, size in files.values()],
        "plan_event": ARCHIVE_EVENTS[mode][1].value,
        "course_event": ARCHIVE_EVENTS[mode][3].value,
        "archived_at_text": now.strftime("%Y-%m-%d %H:%M UTC"),
    }
    with connection.cursor() as cursor:
        cursor.execute(SNAPSHOT_SQL, params)
        rows = cursor.fetchall()
    archived = {enrollment_id: archive_id for archive_id, enrollment_id, _, _ in rows}
    return archived, (rows[0][3] if rows else 0), [archive_id for archive_id, _, pending, _ in rows if pending]


def change_live_data(
    *, ids: Sequence[int], now: datetime.datetime, actor_id: int | None, mode: str, reset_tracking: str
) -> None:
    """Tracking reset (if asked: "true" everything, "changed" what changed), then re-enroll (same row, round + 1)
    or unenroll, in one statement."""
    params = {"ids": list(ids), "now": now, "actor_id": actor_id, "reset": reset_tracking}
    with connection.cursor() as cursor:
        cursor.execute(REENROLL_SQL if mode == "reenroll" else UNENROLL_SQL, params)
