"""What an import's report shows (SPEC §12): per plan, the valid rows by enrollment status and by mode, the
shared-course refusals and the notifications that would go out; and the rows in error."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import QuerySet

from enrollments.models import EnrollmentStatus, LearningPlan, LearningPlanEnrollment

from .models import ArchiveImport, ArchiveImportRow, ArchiveMode
from .previews import modes_notifying_the_learner

ERRORS_SHOWN = 500
STATUS_NAMES = {status.value: status.name.lower() for status in EnrollmentStatus}

PLAN_SUMMARY = f"""
SELECT r.learning_plan_id, p.title,
       count(*) FILTER (WHERE r.error = '') AS valid,
       count(*) FILTER (WHERE r.error = '' AND e.status = 0) AS enrolled,
       count(*) FILTER (WHERE r.error = '' AND e.status = 1) AS in_progress,
       count(*) FILTER (WHERE r.error = '' AND e.status = 2) AS completed,
       count(*) FILTER (WHERE r.error = '' AND r.mode = 'reenroll') AS reenroll,
       count(*) FILTER (WHERE r.error = '' AND r.mode = 'unenroll') AS unenroll,
       count(*) FILTER (WHERE r.error = 'shared_course') AS shared_course,
       count(*) FILTER (WHERE r.error = '' AND r.notify AND r.mode = ANY(%(notifying)s)) AS notified
FROM {ArchiveImportRow._meta.db_table} r
JOIN {LearningPlan._meta.db_table} p ON p.id = r.learning_plan_id
LEFT JOIN {LearningPlanEnrollment._meta.db_table} e ON e.id = r.enrollment_id
WHERE r.archive_import_id = %(id)s
GROUP BY r.learning_plan_id, p.title
HAVING count(*) FILTER (WHERE r.error IN ('', 'shared_course')) > 0
ORDER BY p.title, r.learning_plan_id
"""


@dataclass
class PlanSummary:
    id: int
    title: str
    valid: int
    by_status: dict[str, int] = field(default_factory=dict)
    by_mode: dict[str, int] = field(default_factory=dict)
    shared_course: int = 0
    notified: int = 0


def plan_summaries(archive_import: ArchiveImport) -> list[PlanSummary]:
    """One line per plan with a valid or shared-course row, in one query (and one for the rules). A row counts
    as a learner notified when it asks for notifications and an enabled rule of its mode writes to the learner."""
    with connection.cursor() as cursor:
        cursor.execute(PLAN_SUMMARY, {"id": archive_import.pk, "notifying": modes_notifying_the_learner()})
        return [
            PlanSummary(
                id=plan_id,
                title=title,
                valid=valid,
                by_status={"enrolled": enrolled, "in_progress": in_progress, "completed": completed},
                by_mode={ArchiveMode.REENROLL.value: reenroll, ArchiveMode.UNENROLL.value: unenroll},
                shared_course=shared,
                notified=notified,
            )
            for plan_id, title, valid, enrolled, in_progress, completed, reenroll, unenroll, shared, notified in (
                cursor.fetchall()
            )
        ]


def error_rows(archive_import: ArchiveImport) -> QuerySet[ArchiveImportRow]:
    """The rows in error, by line."""
    return archive_import.rows.exclude(error="").order_by("line")


def import_status(archive_import: ArchiveImport) -> str:
    """The status as the user sees it: a validated import past its expiry is expired, whether or not the
    reconciler has marked it yet."""
    return ArchiveImport.Status.EXPIRED if archive_import.is_expired else archive_import.status
