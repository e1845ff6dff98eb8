"""The plan content each archive records (SPEC §13), as CTEs of the one snapshot statement (`sql.SNAPSHOT_SQL`).

The canonical JSON and its sha256 are computed here and nowhere else, in PostgreSQL: `jsonb::text` orders object
keys canonically (by length, then bytes) and arrays keep the plan's and the courses' order; timestamps are written
as fixed-format UTC text so the session time zone cannot change the digest. Each batch writes one row per distinct
content (10,000 archives of one plan: one row). DO UPDATE, not DO NOTHING: a row committed by a concurrent batch
after this statement began is returned too, so two batches of the same plan never fail or duplicate it; rows are
inserted in sha256 order, so two batches of several plans lock them in one order.
"""

# A material's last substantive change as the recorded content writes it (fixed-format UTC text).
CHANGED_AT_TEXT = """to_char(m.content_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

# The plan content of every plan in `batch` (a CTE with a learning_plan_id column), canonical and hashed.
PLAN_CONTENT_CTES = (
    """
content_courses AS MATERIALIZED (
    SELECT lpc.learning_plan_id, lpc.course_id, lpc.position, lpc.id AS link_id
    FROM enrollments_learningplancourse lpc
    WHERE %(record_content)s AND lpc.learning_plan_id IN (SELECT DISTINCT learning_plan_id FROM batch)
), content_materials AS MATERIALIZED (
    SELECT m.course_id,
           jsonb_agg(
               jsonb_build_object(
                   'id', m.id, 'title', m.title, 'kind', m.kind, 'position', m.position,
                   'content_changed_at',
                   """
    + CHANGED_AT_TEXT
    + """
               )
               ORDER BY m.position, m.id
           ) AS materials
    FROM enrollments_trainingmaterial m
    WHERE m.course_id IN (SELECT DISTINCT course_id FROM content_courses)
    GROUP BY m.course_id
), plan_contents AS MATERIALIZED (
    SELECT plans.learning_plan_id, pc.content,
           encode(sha256(convert_to(pc.content::text, 'UTF8')), 'hex') AS sha256
    FROM (SELECT DISTINCT learning_plan_id FROM batch WHERE %(record_content)s) plans
    CROSS JOIN LATERAL (
        SELECT jsonb_build_object(
            'courses',
            coalesce(
                jsonb_agg(
                    jsonb_build_object(
                        'id', c.id, 'title', c.title, 'code', c.code, 'position', cc.position,
                        'materials', coalesce(cm.materials, '[]'::jsonb)
                    )
                    ORDER BY cc.position, cc.link_id
                ) FILTER (WHERE c.id IS NOT NULL),
                '[]'::jsonb
            )
        ) AS content
        FROM content_courses cc
        JOIN enrollments_course c ON c.id = cc.course_id
        LEFT JOIN content_materials cm ON cm.course_id = cc.course_id
        WHERE cc.learning_plan_id = plans.learning_plan_id
    ) pc
)"""
)

CONTENT_VERSION_CTES = (
    PLAN_CONTENT_CTES
    + """, content_versions AS (
    INSERT INTO archive_plancontentversion (sha256, content, created_at)
    SELECT DISTINCT ON (sha256) sha256, content, %(now)s FROM plan_contents ORDER BY sha256
    ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
    RETURNING id, sha256
), plan_versions AS (
    SELECT pc.learning_plan_id, cv.id FROM plan_contents pc JOIN content_versions cv ON cv.sha256 = pc.sha256
)"""
)

# The plans' content as it is now (the baseline's other side in a diff), computed by the same CTEs.
CURRENT_CONTENT_SQL = (
    """WITH batch AS (SELECT unnest(%(plan_ids)s::bigint[]) AS learning_plan_id),"""
    + PLAN_CONTENT_CTES
    + """
SELECT learning_plan_id, content, sha256 FROM plan_contents"""
)

# The materials of a recorded version, one row each (the diff's baseline side, or both sides on a details page).
_VERSION_MATERIALS = """
    SELECT (mat->>'id')::bigint AS id, mat->>'title' AS title, mat->>'content_changed_at' AS changed_at,
           course->>'title' AS course_title
    FROM archive_plancontentversion v
    CROSS JOIN LATERAL jsonb_array_elements(v.content->'courses') AS course
    CROSS JOIN LATERAL jsonb_array_elements(course->'materials') AS mat
    WHERE v.id = %({side})s
"""

_PLAN_MATERIALS = (
    """
    SELECT m.id, m.title, """
    + CHANGED_AT_TEXT
    + """ AS changed_at, c.title AS course_title
    FROM enrollments_learningplancourse lpc
    JOIN enrollments_course c ON c.id = lpc.course_id
    JOIN enrollments_trainingmaterial m ON m.course_id = lpc.course_id
    WHERE lpc.learning_plan_id = %(plan_id)s
"""
)

# The diff (SPEC §13), one statement: only the materials that differ come back (at least one row, with the
# number of materials now).
# Changed = a substantive change date now that the baseline did not have; renamed = only the title differs.
_DIFF_SQL = """
WITH now_materials AS MATERIALIZED ({now}), before_materials AS MATERIALIZED ({before})
SELECT d.what, d.id, d.title, d.course_title, d.old_title, t.total
FROM (SELECT count(*) AS total FROM now_materials) t
LEFT JOIN (
    SELECT CASE WHEN b.id IS NULL THEN 'added'
                WHEN n.id IS NULL THEN 'removed'
                WHEN n.changed_at IS NOT NULL AND n.changed_at IS DISTINCT FROM b.changed_at THEN 'changed'
                WHEN n.title <> b.title THEN 'renamed' END AS what,
           coalesce(n.id, b.id) AS id, coalesce(n.title, b.title) AS title,
           coalesce(n.course_title, b.course_title) AS course_title, b.title AS old_title
    FROM now_materials n FULL JOIN before_materials b ON b.id = n.id
) d ON d.what IS NOT NULL
ORDER BY d.id
"""
# The plan now against a recorded version (`baseline`), and a recorded version (`current`) against another.
DIFF_WITH_PLAN_SQL = _DIFF_SQL.format(now=_PLAN_MATERIALS, before=_VERSION_MATERIALS.format(side="baseline"))
DIFF_OF_VERSIONS_SQL = _DIFF_SQL.format(
    now=_VERSION_MATERIALS.format(side="current"), before=_VERSION_MATERIALS.format(side="baseline")
)
