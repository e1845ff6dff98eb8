"""The one place where course and plan enrollment statuses are computed (SPEC §3), and the one lock order.

Both recomputes are set-based: one round trip for any number of rows, so the archive engine and the services
call the same code for one enrollment or for a batch of thousands. Every path that changes a learner's state
in a plan (SPEC §4.10) locks in one order — the learners (`lock_learners`, for the paths that create or move a
learner's rows), then plan enrollments, then course enrollments, then tracking, each by id — and a recompute
decides only after its rows are locked: the lock and the computation are separate statements, and under READ
COMMITTED each statement reads the data as committed when it starts.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import connection

# The plan enrollments whose status depends on the (user, course) pairs given or on the courses of the plan
# enrollments given, then those course enrollments, each in id order, as two statements of one round trip.
# The first statement's columns are the archive engine's (it sends the same statements as its batch lock).
LOCK_SQL = """
SELECT e.id, e.round, e.user_id, e.learning_plan_id
FROM enrollments_learningplanenrollment e
WHERE e.id IN (
    SELECT unnest(%(ids)s::bigint[])
    UNION
    SELECT t.id
    FROM (
        SELECT p.user_id, p.course_id
        FROM unnest(%(user_ids)s::bigint[], %(course_ids)s::bigint[]) AS p(user_id, course_id)
        UNION
        SELECT b.user_id, lpc.course_id
        FROM enrollments_learningplanenrollment b
        JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = b.learning_plan_id
        WHERE b.id = ANY(%(ids)s::bigint[])
    ) pairs
    JOIN enrollments_learningplancourse lpc ON lpc.course_id = pairs.course_id
    JOIN enrollments_learningplanenrollment t
      ON t.learning_plan_id = lpc.learning_plan_id AND t.user_id = pairs.user_id
)
ORDER BY e.id
FOR UPDATE OF e;
SELECT ce.id
FROM enrollments_courseenrollment ce
WHERE ce.id IN (
    SELECT c.id
    FROM unnest(%(user_ids)s::bigint[], %(course_ids)s::bigint[]) AS p(user_id, course_id)
    JOIN enrollments_courseenrollment c ON c.user_id = p.user_id AND c.course_id = p.course_id
    UNION
    SELECT c.id
    FROM enrollments_learningplanenrollment b
    JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = b.learning_plan_id
    JOIN enrollments_courseenrollment c ON c.user_id = b.user_id AND c.course_id = lpc.course_id
    WHERE b.id = ANY(%(ids)s::bigint[])
)
ORDER BY ce.id
FOR UPDATE OF ce;
"""

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

# Completed is sticky: a Completed row is never written, and that is checked on the row as it is when the
# UPDATE reaches it, so an enrollment is Completed only with the completion date written in the same statement.
PLAN_STATUS_SQL = """
WITH decided AS (
    SELECT e.id,
           CASE WHEN count(lpc.id) > 0 AND count(ce.id) FILTER (WHERE ce.status = 2) = count(lpc.id) THEN 2
                WHEN count(ce.id) FILTER (WHERE ce.status IN (1, 2)) > 0 THEN 1
                ELSE 0 END AS status
    FROM enrollments_learningplanenrollment e
    LEFT JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id
    LEFT JOIN enrollments_courseenrollment ce ON ce.course_id = lpc.course_id AND ce.user_id = e.user_id
    WHERE e.id = ANY(%(ids)s::bigint[]) AND e.status <> 2
    GROUP BY e.id
)
UPDATE enrollments_learningplanenrollment e SET
    status = decided.status,
    completed_at = CASE WHEN decided.status = 2 THEN %(now)s::timestamptz END,
    updated_at = %(now)s
FROM decided
WHERE e.id = decided.id AND e.status <> 2
RETURNING e.id, e.status = 2
"""


def _pair_params(pairs: Sequence[tuple[int, int]]) -> dict:
    return {"user_ids": [u for u, _ in pairs], "course_ids": [c for _, c in pairs]}


def _execute_after_lock(sql: str, params: dict, *, locked: bool) -> list[tuple]:
    """Run `sql`, preceded by LOCK_SQL in the same round trip unless the caller already holds those locks;
    returns the rows of `sql`'s own result."""
    with connection.cursor() as cursor:
        cursor.execute(sql if locked else LOCK_SQL + sql, params)
        while cursor.nextset():  # past the lock statements' results to the last statement's
            pass
        return cursor.fetchall() if cursor.description else []


# The learners themselves come first in the order. FOR SHARE conflicts with a merge's FOR NO KEY UPDATE of the same
# users, so a write that creates or moves a learner's rows (an enrollment, tracking) cannot interleave with a merge
# moving that learner's rows to the kept user; the archive, which only rewrites rows it has locked, does not need it.
LEARNERS_LOCK_SQL = """
SELECT u.id, u.username, kept.username
FROM accounts_user u
LEFT JOIN accounts_user kept ON kept.id = u.merged_into_id
WHERE u.id = ANY(%s::bigint[])
ORDER BY u.id
FOR SHARE OF u
"""


def lock_learners(user_ids: Sequence[int]) -> None:
    """Lock these learners against a concurrent merge (first in the one lock order) and refuse a merged one: their
    learning data belongs to the user they were merged into (SPEC §4.9)."""
    with connection.cursor() as cursor:
        cursor.execute(LEARNERS_LOCK_SQL, [sorted(set(user_ids))])
        merged = [(username, kept) for _pk, username, kept in cursor.fetchall() if kept is not None]
    if merged:
        username, kept = merged[0]
        raise ValidationError(
            f"{username} was merged into {kept}: their learning data is {kept}'s now.", code="user_merged"
        )


def lock_learning_state(
    *, pairs: Sequence[tuple[int, int]] = (), enrollment_ids: Sequence[int] = ()
) -> list[tuple[int, int, int, int]]:
    """Lock, in the one order, what a change to these (user id, course id) pairs or plan enrollments recomputes:
    the plan enrollments given and every plan enrollment whose plan contains one of the courses (of the pairs
    given, or of the given enrollments' plans) for that learner, then those learners' course enrollments.

    Returns the locked plan enrollments as (id, round, user id, plan id), in id order. Tracking needs no lock of
    its own: whatever writes a learner's tracking of a course holds these plan enrollments first.
    """
    params = {"ids": list(enrollment_ids), **_pair_params(pairs)}
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, params)
        return [tuple(row) for row in cursor.fetchall()]


def recompute_course_statuses(
    pairs: Sequence[tuple[int, int]], *, now: datetime.datetime, locked: bool = False
) -> None:
    """Recompute the course enrollments of these (user id, course id) pairs from their tracking.

    Locks first (lock_learning_state) unless `locked` says the caller already holds those locks.
    """
    if not pairs:
        return
    _execute_after_lock(COURSE_STATUS_SQL, {"ids": [], **_pair_params(pairs), "now": now}, locked=locked)


def recompute_plan_statuses(
    enrollment_ids: Sequence[int], *, now: datetime.datetime, locked: bool = False
) -> list[int]:
    """Recompute these plan enrollments from their course enrollments (Completed is sticky).

    Locks first (lock_learning_state) unless `locked` says the caller already holds those locks. Returns the
    ids of the enrollments that became Completed now.
    """
    if not enrollment_ids:
        return []
    params = {"ids": list(enrollment_ids), "user_ids": [], "course_ids": [], "now": now}
    rows = _execute_after_lock(PLAN_STATUS_SQL, params, locked=locked)
    return [pk for pk, completed in rows if completed]


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
            _pair_params(pairs),
        )
        return [row[0] for row in cursor.fetchall()]
