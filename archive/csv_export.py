"""The per-item CSV of an archive job, streamed straight from one server-side cursor."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from .models import ArchiveJob, ArchiveJobItem

JOB_ITEM_COLUMNS = ("enrollment_id", "round", "outcome", "archive_id", "message")


class _Line:
    """A file-like object whose write() hands the formatted line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def job_items_csv_lines(job: ArchiveJob, *, outcome: str | None = None) -> Iterator[str]:
    """CSV lines (header first) of the job's items in selection order, optionally of one outcome."""
    writer = csv.writer(_Line())
    yield writer.writerow(JOB_ITEM_COLUMNS)
    items = ArchiveJobItem.objects.filter(job_id=job.pk)
    if outcome:
        items = items.filter(outcome=outcome)
    for enrollment_id, round_, item_outcome, archive_id, message in (
        items.order_by("position").values_list(*JOB_ITEM_COLUMNS).iterator(chunk_size=2000)
    ):
        yield writer.writerow([enrollment_id, round_, item_outcome, "" if archive_id is None else archive_id, message])


def job_items_csv_response(job: ArchiveJob, *, outcome: str | None = None) -> StreamingHttpResponse:
    response = StreamingHttpResponse(job_items_csv_lines(job, outcome=outcome), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="archive-job-{job.pk}-items.csv"'
    return response
