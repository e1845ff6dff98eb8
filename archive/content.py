"""What changed since the archived round (SPEC §13): the plan's content against a baseline, and what an archive
would leave each learner to do. Reads only; set-based (a handful of queries for one learner or 10,000).

Baseline: the content recorded by the enrollment's previous archive. Three cases a person sees in words: no
earlier archive ("no earlier version"), an archive made before contents were recorded ("content not recorded"),
or a recorded version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet

from enrollments.models import LearningPlan, MaterialTracking, ResetTracking, TrackingStatus, TrainingMaterial

from .models import ArchivedPlanEnrollment, PlanContentVersion
from .services.content_sql import CURRENT_CONTENT_SQL, DIFF_OF_VERSIONS_SQL, DIFF_WITH_PLAN_SQL

NO_EARLIER_VERSION = "No earlier version: this is the first archived round."
CONTENT_NOT_RECORDED = "Content not recorded: the earlier round was archived before contents were recorded."


def reset_if_changed() -> Q:
    """Tracking rows that "reset only what changed" deletes: completed before the material's last substantive
    change, or completed with no date (the engine's SQL applies the same rule in `sql._LIVE_BATCH`)."""
    return (
        Q(status=TrackingStatus.COMPLETED)
        & Q(material__content_changed_at__isnull=False)
        & (Q(completed_at__isnull=True) | Q(completed_at__lt=F("material__content_changed_at")))
    )


def tracking_to_reset(materials: QuerySet, users: QuerySet, reset_tracking: str) -> int:
    """How many tracking records of these learners in these materials the option deletes."""
    if reset_tracking == ResetTracking.KEEP:
        return 0
    rows = MaterialTracking.objects.filter(material__in=materials, user_id__in=users)
    if reset_tracking == ResetTracking.CHANGED:
        rows = rows.filter(reset_if_changed())
    return rows.count()


# --- contents and their diff -----------------------------------------------------------------------------------


def current_contents(plan_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each plan's content now, computed by the same SQL as the recorded versions (so equal content, equal sha256)."""
    with connection.cursor() as cursor:
        cursor.execute(CURRENT_CONTENT_SQL, {"plan_ids": list(plan_ids), "record_content": True})
        return {plan_id: _loaded(content) | {"sha256": sha} for plan_id, content, sha in cursor.fetchall()}


def _loaded(content: Any) -> dict[str, Any]:
    return json.loads(content) if isinstance(content, str) else dict(content)


@dataclass
class ContentDiff:
    """Materials added, removed, changed (marked substantively changed) and renamed (a title edit only) since the
    baseline, each {id, title, course_title, old_title}. `baseline_note` says in words why nothing was compared."""

    baseline_note: str = ""
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, Any]] = field(default_factory=list)
    materials_total: int = 0

    @property
    def compared(self) -> bool:
        return not self.baseline_note

    @property
    def unchanged(self) -> bool:
        return self.compared and not (self.added or self.removed or self.changed or self.renamed)

    @property
    def added_ids(self) -> set[int]:
        return {m["id"] for m in self.added}

    @property
    def changed_ids(self) -> set[int]:
        return {m["id"] for m in self.changed}


def _diff(sql: str, params: dict[str, Any]) -> ContentDiff:
    diff = ContentDiff()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for what, pk, title, course_title, old_title, total in cursor.fetchall():
            diff.materials_total = total
            if what:
                entry = {"id": pk, "title": title, "course_title": course_title, "old_title": old_title}
                getattr(diff, what).append(entry)
    return diff


def plan_diff(plan_id: int, baseline_version_id: int) -> ContentDiff:
    """The plan now against a recorded version: one set-based statement, only the differences come back."""
    return _diff(DIFF_WITH_PLAN_SQL, {"plan_id": plan_id, "baseline": baseline_version_id})


def versions_diff(current_version_id: int, baseline_version_id: int) -> ContentDiff:
    """A recorded version against an earlier one (an archived round against the round before)."""
    return _diff(DIFF_OF_VERSIONS_SQL, {"current": current_version_id, "baseline": baseline_version_id})


def _not_compared(note: str, materials_total: int) -> ContentDiff:
    return ContentDiff(baseline_note=note, materials_total=materials_total)


def plan_materials(plan_id: int) -> QuerySet[TrainingMaterial]:
    return TrainingMaterial.objects.filter(course__plan_links__learning_plan_id=plan_id)


def baselines(enrollment_ids: Sequence[int], *, before_round: dict[int, int] | None = None) -> dict[int, int | None]:
    """Per enrollment id, the content version id its previous archive recorded: an id, None (archived before
    contents were recorded) or absent (never archived). `before_round` limits each to earlier rounds."""
    rows = (
        ArchivedPlanEnrollment.objects.filter(enrollment_id__in=list(enrollment_ids))
        .order_by("enrollment_id", "-round")
        .values_list("enrollment_id", "round", "content_version_id")
    )
    latest: dict[int, int | None] = {}
    for enrollment_id, round_, version_id in rows:
        if enrollment_id in latest or (before_round and round_ >= before_round.get(enrollment_id, 0)):
            continue
        latest[enrollment_id] = version_id
    return latest


def enrollment_diff(enrollment_id: int, plan_id: int) -> ContentDiff:
    """The plan now against the content recorded by this enrollment's previous archive."""
    found = baselines([enrollment_id])
    if found.get(enrollment_id) is None:
        note = CONTENT_NOT_RECORDED if enrollment_id in found else NO_EARLIER_VERSION
        return _not_compared(note, plan_materials(plan_id).count())
    return plan_diff(plan_id, found[enrollment_id])


def archived_diff(record: ArchivedPlanEnrollment) -> ContentDiff | None:
    """An archived record's content against its enrollment's archive of the round before; None when the record
    itself was archived before contents were recorded."""
    if record.content_version_id is None:
        return None
    found = baselines([record.enrollment_id], before_round={record.enrollment_id: record.round})
    if found.get(record.enrollment_id) is None:
        note = CONTENT_NOT_RECORDED if record.enrollment_id in found else NO_EARLIER_VERSION
        total = len(_materials(PlanContentVersion.objects.get(pk=record.content_version_id).content))
        return _not_compared(note, total)
    return versions_diff(record.content_version_id, found[record.enrollment_id])


def _materials(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [material for course in content.get("courses", []) for material in course.get("materials", [])]


# --- what the learners would have to do -------------------------------------------------------------------------


@dataclass
class LearnerToDo:
    """What one learner would have left after a re-enroll with the option: materials new since the baseline,
    changed since it, and never completed (the rest). Empty: Completed again at once."""

    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    never_completed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.new) + len(self.changed) + len(self.never_completed)


def learner_to_do(user_id: int, plan_id: int, diff: ContentDiff, reset_tracking: str) -> LearnerToDo:
    """The learner's materials left to do after the archive with `reset_tracking`, by reason."""
    materials = plan_materials(plan_id)
    done = MaterialTracking.objects.filter(user_id=user_id, material__in=materials, status=TrackingStatus.COMPLETED)
    if reset_tracking == ResetTracking.ALL:
        done = done.none()
    elif reset_tracking == ResetTracking.CHANGED:
        done = done.exclude(reset_if_changed())
    completed = set(done.values_list("material_id", flat=True))
    todo = LearnerToDo()
    for material in materials.exclude(pk__in=completed).values("id", "title", "course__title"):
        entry = {"id": material["id"], "title": material["title"], "course_title": material["course__title"]}
        if entry["id"] in diff.added_ids:
            todo.new.append(entry)
        elif entry["id"] in diff.changed_ids:
            todo.changed.append(entry)
        else:
            todo.never_completed.append(entry)
    return todo


COMPLETED_AGAIN_SQL = """
WITH learners AS MATERIALIZED (
    SELECT DISTINCT unnest(%(user_ids)s::bigint[]) AS user_id
), plan_courses AS MATERIALIZED (
    SELECT pc.course_id, count(m.id) AS total
    FROM enrollments_learningplancourse pc
    LEFT JOIN enrollments_trainingmaterial m ON m.course_id = pc.course_id
    WHERE pc.learning_plan_id = %(plan_id)s
    GROUP BY pc.course_id
), kept AS (
    -- Completed rows that survive the option, and whether the course loses one (its manual completion goes).
    SELECT mt.user_id, m.course_id, count(*) FILTER (WHERE NOT r.lost) AS done, bool_or(r.lost) AS lost
    FROM learners l
    JOIN enrollments_materialtracking mt ON mt.user_id = l.user_id AND mt.status = 'completed'
    JOIN enrollments_trainingmaterial m ON m.id = mt.material_id
    CROSS JOIN LATERAL (
        SELECT %(reset)s = 'changed' AND m.content_changed_at IS NOT NULL
               AND (mt.completed_at IS NULL OR mt.completed_at < m.content_changed_at)
    ) AS r(lost)
    WHERE m.course_id IN (SELECT course_id FROM plan_courses)
    GROUP BY mt.user_id, m.course_id
)
SELECT count(*) FROM (
    SELECT l.user_id
    FROM learners l
    CROSS JOIN plan_courses pc
    LEFT JOIN enrollments_courseenrollment ce ON ce.user_id = l.user_id AND ce.course_id = pc.course_id
    LEFT JOIN kept k ON k.user_id = l.user_id AND k.course_id = pc.course_id
    GROUP BY l.user_id
    HAVING bool_and(
        (ce.manually_completed_at IS NOT NULL AND NOT coalesce(k.lost, false))
        OR (pc.total > 0 AND coalesce(k.done, 0) = pc.total)
    )
) completed_again
"""


def completed_again_count(plan: LearningPlan, user_ids: Sequence[int], reset_tracking: str) -> int:
    """How many of these learners a re-enroll with the option leaves nothing to do: Completed again at once, with
    a new certificate. None with a full reset; none on a plan without courses."""
    if reset_tracking == ResetTracking.ALL or not user_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(COMPLETED_AGAIN_SQL, {"user_ids": list(user_ids), "plan_id": plan.pk, "reset": reset_tracking})
        return cursor.fetchone()[0]


def selection_baselines(enrollment_ids: Sequence[int], *, limit: int = 5) -> tuple[list[tuple[int | None, int]], int]:
    """How the selected enrollments' previous archives group by recorded content, most common first: [(version id,
    or None when not recorded, learners)], at most `limit`; and how many were never archived."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT latest.content_version_id, count(*) FROM (
                SELECT DISTINCT ON (enrollment_id) enrollment_id, content_version_id
                FROM archive_archivedplanenrollment
                WHERE enrollment_id = ANY(%(ids)s::bigint[])
                ORDER BY enrollment_id, round DESC
            ) latest
            GROUP BY latest.content_version_id ORDER BY count(*) DESC, latest.content_version_id
            """,
            {"ids": list(enrollment_ids)},
        )
        rows = cursor.fetchall()
    return rows[:limit], len(enrollment_ids) - sum(n for _, n in rows)


def selection_diffs(plan_id: int, enrollment_ids: Sequence[int]) -> tuple[list[tuple[ContentDiff, int]], int]:
    """The bulk preview's diffs: per distinct previous content (most common first), the plan now against it and
    how many learners it concerns; and how many learners were never archived."""
    groups, never = selection_baselines(enrollment_ids)
    total = None
    diffs = []
    for version_id, learners in groups:
        if version_id is None:
            total = plan_materials(plan_id).count() if total is None else total
            diffs.append((_not_compared(CONTENT_NOT_RECORDED, total), learners))
        else:
            diffs.append((plan_diff(plan_id, version_id), learners))
    return diffs, never
