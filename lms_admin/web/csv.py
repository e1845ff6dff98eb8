"""The one streaming CSV writer: every CSV the project sends goes through `csv_response`."""

from __future__ import annotations

import csv
import datetime
import weakref
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

from .downloads import attachment_disposition
from .limits import ExportSlot

# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...): a leading
# apostrophe makes it text again. Only text cells: numbers (-5) stay numbers.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """A file-like object whose write() hands the formatted line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def iso(value: datetime.datetime | datetime.date | None) -> str:
    """A date or datetime as ISO 8601, or an empty cell."""
    return value.isoformat() if value else ""


def cell(value):
    """A value as written in a cell: None empty, text that a spreadsheet would run as a formula defused."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """CSV lines, the header first, formatted one row at a time (nothing is held in memory)."""
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


class _HeldLines:
    """The lines of a download that holds an export slot: given back when the last line is out, when the server
    closes the response (the client went away), or when a response never served is dropped."""

    def __init__(self, lines: Iterator[str], slot: ExportSlot) -> None:
        self.lines = lines
        self.slot = slot
        weakref.finalize(self, slot.release)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            line = next(self.lines)
        except BaseException:  # the end (StopIteration) or a failure: either way the export is over
            self.slot.release()
            raise
        self.slot.keep()
        return line

    def close(self) -> None:
        try:
            self.lines.close()
        finally:
            self.slot.release()


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence], *, filename: str, slot: ExportSlot | None = None
) -> StreamingHttpResponse:
    """A CSV download streamed from `rows` (an iterator over a server-side cursor, typically); `slot`, when
    given, is held until the stream ends."""
    lines = csv_lines(header, rows)
    response = StreamingHttpResponse(lines if slot is None else _HeldLines(lines, slot), content_type="text/csv")
    response["Content-Disposition"] = attachment_disposition(filename)
    return response
