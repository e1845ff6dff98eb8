"""The one place where course and plan enrollment statuses are computed (SPEC §3).

Both functions are set-based: one statement for any number of rows, so the archive engine and the
services call the same code for one enrollment or for a batch of thousands.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import connection

COURSE_STATUS_SQL = """
WITH pairs AS MATERIALIZED (
    SELECT DISTINCT p.user_id, p.course_id
    FROM unnest(%(user_ids)s::bigint[], %(course_ids)s::bigint[]) AS p(user_id, course_id)
), totals AS MATERIALIZED (
    SELECT m.course_id, count(*) AS total
    FROM enrollments_trainingmaterial m
    WHERE m.course_id IN (SELECT course_id FROM pairs)
    GROUP BY m.course_id
), progress AS MATERIALIZED (
    -- The learners' tracking, read once by user (a handful of rows each) and grouped by course.
    SELECT mt.user_id, m.course_id,
           count(*) FILTER (WHERE mt.status = 'completed') AS done,
           count(*) FILTER (WHERE mt.status IN ('in_progress', 'completed')) AS attempted,
           max(mt.completed_at) FILTER (WHERE mt.status = 'completed') AS last_done
    FROM enrollments_materialtracking mt
    JOIN enrollments_trainingmaterial m ON m.id = mt.material_id
    WHERE mt.user_id IN (SELECT user_id FROM pairs)
    GROUP BY mt.user_id, m.course_id
), computed AS (
    SELECT pairs.user_id, pairs.course_id,
           coalesce(totals.total, 0) AS total,
           coalesce(progress.done, 0) AS done,
           coalesce(progress.attempted, 0) AS attempted,
           progress.last_done
    FROM pairs
    LEFT JOIN totals ON totals.course_id = pairs.course_id
    LEFT JOIN progress ON progress.user_id = pairs.user_id AND progress.course_id = pairs.course_id
), decided AS (
    SELECT ce.id,
           CASE
               WHEN ce.manually_completed_at IS NOT NULL THEN 2
               WHEN computed.total > 0 AND computed.done = computed.total THEN 2
               WHEN computed.attempted > 0 THEN 1
               ELSE 0 END AS status,
           CASE
               WHEN ce.manually_completed_at IS NOT NULL
                   THEN greatest(ce.manually_completed_at, computed.last_done)
               WHEN computed.total > 0 AND computed.done = computed.total THEN computed.last_done
               ELSE NULL END AS completed_at
    FROM computed
    JOIN enrollments_courseenrollment ce ON ce.user_id = computed.user_id AND ce.course_id = computed.course_id
)
-- Only rows whose status or completion date changes are written (and get a new updated_at).
UPDATE enrollments_courseenrollment ce SET
    status = decided.status,
    completed_at = decided.completed_at,
    updated_at = %(now)s
FROM decided
WHERE ce.id = decided.id
  AND (ce.status, ce.completed_at) IS DISTINCT FROM (decided.status, decided.completed_at)
"""

PLAN_STATUS_SQL = """
WITH progress AS MATERIALIZED (
    SELECT e.id,
           e.status AS old_status,
           count(lpc.id) AS total,
           count(ce.id) FILTER (WHERE ce.status = 2) AS done,
           count(ce.id) FILTER (WHERE ce.status IN (1, 2)) AS started
    FROM enrollments_learningplanenrollment e
    LEFT JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id
    LEFT JOIN enrollments_courseenrollment ce ON ce.course_id = lpc.course_id AND ce.user_id = e.user_id
    WHERE e.id = ANY(%(ids)s::bigint[])
    GROUP BY e.id
)
UPDATE enrollments_learningplanenrollment e SET
    status = CASE
        WHEN progress.old_status = 2 THEN 2
        WHEN progress.total > 0 AND progress.done = progress.total THEN 2
        WHEN progress.started > 0 THEN 1
        ELSE 0 END,
    completed_at = CASE
        WHEN progress.old_status = 2 THEN e.completed_at
        WHEN progress.total > 0 AND progress.done = progress.total THEN %(now)s
        ELSE NULL END,
    updated_at = CASE
        WHEN progress.old_status = 2 THEN e.updated_at
        ELSE %(now)s END
FROM progress
WHERE e.id = progress.id
RETURNING e.id, (progress.old_status <> 2 AND e.status = 2) AS became_completed
"""


def recompute_course_statuses(pairs: Sequence[tuple[int, int]], *, now: datetime.datetime) -> None:
    """Recompute the course enrollments of these (user id, course id) pairs from their tracking."""
    if not pairs:
        return
    user_ids = [u for u, _ in pairs]
    course_ids = [c for _, c in pairs]
    with connection.cursor() as cursor:
        cursor.execute(COURSE_STATUS_SQL, {"user_ids": user_ids, "course_ids": course_ids, "now": now})


def recompute_plan_statuses(enrollment_ids: Sequence[int], *, now: datetime.datetime) -> list[int]:
    """Recompute these plan enrollments from their course enrollments (Completed is sticky).

    Returns the ids of the enrollments that became Completed now.
    """
    if not enrollment_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(PLAN_STATUS_SQL, {"ids": list(enrollment_ids), "now": now})
        return [row[0] for row in cursor.fetchall() if row[1]]


def plan_enrollment_ids_touching(pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Ids of the plan enrollments whose plan contains one of these (user, course) pairs."""
    if not pairs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT e.id
            FROM unnest(%(user_ids)s::bigint[], %(course_ids)s::bigint[]) AS p(user_id, course_id)
            JOIN enrollments_learningplancourse lpc ON lpc.course_id = p.course_id
            JOIN enrollments_learningplanenrollment e
              ON e.learning_plan_id = lpc.learning_plan_id AND e.user_id = p.user_id
            ORDER BY e.id
            """,
            {"user_ids": [u for u, _ in pairs], "course_ids": [c for _, c in pairs]},
        )
        return [row[0] for row in cursor.fetchall()]
