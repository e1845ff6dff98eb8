"""The archive app's CSV downloads: their columns and rows, written by the one CSV writer (`lms_admin.web.csv`).

Each is streamed from one query through `.iterator(chunk_size=CHUNK)`, which on PostgreSQL reads from a
server-side (named) cursor, CHUNK rows per fetch — DATABASES sets no DISABLE_SERVER_SIDE_CURSORS — so the
process holds one chunk whatever the export's size. Views run in autocommit, where Django declares the cursor
WITH HOLD: PostgreSQL then computes the whole result when the DECLARE commits and keeps it on its side (in
work_mem, spilling to a temporary file), so no transaction stays open while a slow client downloads.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from enrollments.models import LearningPlan, LearningPlanEnrollment
from lms_admin.web.csv import csv_lines, csv_response, iso
from lms_admin.web.limits import ExportSlot

from .models import ArchivedPlanEnrollment, ArchiveImport, ArchiveJob, ArchiveJobItem

CHUNK = 2000

JOB_ITEM_COLUMNS = ("enrollment_id", "round", "outcome", "archive_id", "message")
PREVIEW_COLUMNS = ("enrollment_id", "username", "name", "status", "enrolled_at", "completed_at", "round")
ARCHIVED_COLUMNS = (
    "archive_id",
    "username",
    "name",
    "user_status",
    "archived_at",
    "archived_by",
    "mode",
    "round",
    "plan_status",
    "enrolled_at",
    "completed_at",
    "certificate",
)


def _job_item_rows(job: ArchiveJob, outcome: str | None):
    items = ArchiveJobItem.objects.filter(job_id=job.pk)
    if outcome:
        items = items.filter(outcome=outcome)
    return items.order_by("position").values_list(*JOB_ITEM_COLUMNS).iterator(chunk_size=CHUNK)


def job_items_csv_lines(job: ArchiveJob, *, outcome: str | None = None):
    """CSV lines (header first) of the job's items in selection order, optionally of one outcome."""
    return csv_lines(JOB_ITEM_COLUMNS, _job_item_rows(job, outcome))


def job_items_csv_response(job: ArchiveJob, *, outcome: str | None = None) -> StreamingHttpResponse:
    return csv_response(JOB_ITEM_COLUMNS, _job_item_rows(job, outcome), filename=f"archive-job-{job.pk}-items.csv")


def selection_csv_response(plan: LearningPlan, selected: QuerySet[LearningPlanEnrollment]) -> StreamingHttpResponse:
    """The enrollments a bulk archive would take."""
    labels = dict(LearningPlanEnrollment._meta.get_field("status").choices)
    rows = selected.order_by("pk").values_list(
        "pk", "user__username", "user__first_name", "user__last_name", "status", "enrolled_at", "completed_at", "round"
    )

    def lines():
        for pk, username, first, last, status, enrolled, completed, rnd in rows.iterator(chunk_size=CHUNK):
            name = f"{first} {last}".strip() or username
            yield [pk, username, name, labels[status], iso(enrolled), iso(completed), rnd]

    return csv_response(PREVIEW_COLUMNS, lines(), filename=f"archive-preview-{plan.code or plan.pk}.csv")


def archived_csv_response(
    plan: LearningPlan, records: QuerySet[ArchivedPlanEnrollment], *, slot: ExportSlot | None = None
) -> StreamingHttpResponse:
    """Every archived record of `records` (already filtered), newest first; `slot` is held until the stream ends."""
    labels = dict(ArchivedPlanEnrollment._meta.get_field("plan_status").choices)
    rows = records.order_by("-archived_at", "-id").values_list(
        "pk",
        "user_username",
        "user_display_name",
        "user_status",
        "archived_at",
        "archived_by_username",
        "mode",
        "round",
        "plan_status",
        "enrolled_at",
        "completed_at",
        "certificate_id",
    )

    def lines():
        for row in rows.iterator(chunk_size=CHUNK):
            pk, username, name, status, archived, by, mode, rnd, plan_status, enrolled, completed, cert = row
            yield [pk, username, name, status, iso(archived), by, mode, rnd, labels[plan_status]] + [
                iso(enrolled),
                iso(completed),
                "yes" if cert else "no",
            ]

    return csv_response(ARCHIVED_COLUMNS, lines(), filename=f"archived-{plan.code or plan.pk}.csv", slot=slot)


def _import_errors_columns(archive_import: ArchiveImport) -> tuple[list[int], list[str]]:
    """The file's columns (without an `error` column of an errors file uploaded again) and the header written."""
    keep = [i for i, name in enumerate(archive_import.header) if name.strip().lower() != "error"]
    return keep, [archive_import.header[i] for i in keep] + ["error"]


def _import_error_rows(archive_import: ArchiveImport, keep: list[int]):
    width = len(archive_import.header)
    rows = archive_import.rows.exclude(error="").order_by("line").values_list("cells", "error", "message")
    for cells, error, message in rows.iterator(chunk_size=2000):
        padded = cells + [""] * (width - len(cells))
        yield [padded[i] for i in keep] + [f"{error}: {message}"]


def import_errors_csv_lines(archive_import: ArchiveImport):
    """The rows in error, as uploaded, plus an `error` column (code: message): fix them and upload the file again."""
    keep, header = _import_errors_columns(archive_import)
    return csv_lines(header, _import_error_rows(archive_import, keep))


def import_errors_csv_response(archive_import: ArchiveImport) -> StreamingHttpResponse:
    keep, header = _import_errors_columns(archive_import)
    stem = archive_import.file_name.rsplit(".", 1)[0] or "import"
    return csv_response(header, _import_error_rows(archive_import, keep), filename=f"{stem}-errors.csv")
