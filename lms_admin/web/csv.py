"""The one streaming CSV writer: every CSV the project sends goes through `csv_response`."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse


class _Line:
    """A file-like object whose write() hands the formatted line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def iso(value: datetime.datetime | datetime.date | None) -> str:
    """A date or datetime as ISO 8601, or an empty cell."""
    return value.isoformat() if value else ""


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """CSV lines, the header first, formatted one row at a time (nothing is held in memory)."""
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(["" if cell is None else cell for cell in row])


def csv_response(header: Sequence[str], rows: Iterable[Sequence], *, filename: str) -> StreamingHttpResponse:
    """A CSV download streamed from `rows` (an iterator over a server-side cursor, typically)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
