"""Reading an uploaded CSV for an archive import (SPEC §12): encoding, delimiter, header, the columns, each row's
lookup keys and options. Nothing here touches the database; `imports` resolves what this reads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from enrollments.models import ResetTracking
from lms_admin.web.csv import FORMULA_STARTS

from .engine import check_archive_mode

USER_COLUMNS = ("username", "user_id", "email")
PLAN_COLUMNS = ("plan_code", "plan_id", "plan_uid")
OPTION_COLUMNS = ("mode", "reset_tracking", "notify")
TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}
MAX_KEY_LENGTH = 255
# What a spreadsheet or another program's file starts with, rather than text: refused as not_csv.
BINARY_SIGNATURES = (b"PK\x03\x04", b"%PDF", b"\xd0\xcf\x11\xe0", b"\x1f\x8b")


class ImportFileError(Exception):
    """The whole file is refused (nothing is stored): a code of SPEC §12 and a message a person understands."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ImportOptions:
    """The archive options of an import's form, or of one row once its cells override them."""

    mode: str
    reset_tracking: str  # ResetTracking value: "false", "true" or "changed"
    notify: bool


@dataclass
class ParsedRow:
    line: int
    cells: list[str]
    user_key: str = ""
    plan_key: str = ""
    mode: str = ""
    reset_tracking: str = ""
    notify: bool | None = None
    error: str = ""
    message: str = ""


@dataclass
class ParsedFile:
    header: list[str]
    delimiter: str
    encoding: str
    user_column: str
    plan_column: str
    rows: list[ParsedRow] = field(default_factory=list)


# --- options: one parser for a form's default and a row's cell -----------------------------------------------------


def parse_flag(value: object, name: str, *, changed_allowed: bool = False) -> bool | str:
    """A boolean option from a form, an API field or a cell: true/false/yes/no/1/0 in any case, and `changed` for
    reset_tracking. Raises ValidationError coded invalid_boolean naming the option."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    if changed_allowed and text == ResetTracking.CHANGED:
        return ResetTracking.CHANGED
    allowed = "true, false, yes, no, 1 or 0" + (" (or changed)" if changed_allowed else "")
    raise ValidationError(f"{name} “{str(value)[:40]}” is not {allowed}.", code="invalid_boolean")


def parse_reset_tracking(value: object) -> str:
    """reset_tracking as stored on an import (ResetTracking value), from a form field or a cell."""
    flag = parse_flag(value, "reset_tracking", changed_allowed=True)
    if flag is True:
        return ResetTracking.ALL
    if flag is False:
        return ResetTracking.KEEP
    return str(flag)


def form_options(*, mode: object, reset_tracking: object, notify: object) -> ImportOptions:
    """The form's (or the API's) defaults, checked; raises ValidationError coded invalid_mode or invalid_boolean."""
    options = ImportOptions(
        mode=str(mode).strip().lower(),
        reset_tracking=parse_reset_tracking(reset_tracking),
        notify=bool(parse_flag(notify, "notify")),
    )
    check_archive_mode(options.mode)
    return options


def row_options(cells: dict[str, str], defaults: ImportOptions) -> ImportOptions:
    """A row's options: its own cells where they are not empty, the defaults otherwise."""
    mode = cells.get("mode", "").strip().lower() or defaults.mode
    reset = cells.get("reset_tracking", "").strip()
    notify = cells.get("notify", "").strip()
    options = ImportOptions(
        mode=mode,
        reset_tracking=parse_reset_tracking(reset) if reset else defaults.reset_tracking,
        notify=bool(parse_flag(notify, "notify")) if notify else defaults.notify,
    )
    check_archive_mode(options.mode)
    return options


# --- the file -------------------------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 with or without a BOM, else Windows-1252; invalid_encoding names the line and
    byte neither can read."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        column = bad.start - (data.rfind(b"\n", 0, bad.start) + 1) + 1
        raise ImportFileError(
            "invalid_encoding",
            f"Line {line}, byte {column} (0x{data[bad.start]:02X}) is neither UTF-8 nor Windows-1252 text: "
            "save the file as “CSV UTF-8” and upload it again.",
        ) from bad


def undo_formula_escape(value: str) -> str:
    """The project's CSV writer puts a `'` before a cell that a spreadsheet would run as a formula: take it off."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def _columns(header: list[str]) -> tuple[dict[str, int], str, str]:
    """{known column: index}, the user column and the plan column; the header's file errors."""
    names = [name.strip().lower() for name in header]
    known = [name for name in names if name in USER_COLUMNS + PLAN_COLUMNS + OPTION_COLUMNS]
    if not known:
        shown = ", ".join(cell.strip() for cell in header[:5])[:120]
        raise ImportFileError(
            "missing_header",
            f"The first line must name the columns (e.g. username,plan_code); it reads “{shown}”.",
        )
    repeated = sorted({name for name in known if names.count(name) > 1})
    users = [name for name in names if name in USER_COLUMNS]
    plans = [name for name in names if name in PLAN_COLUMNS]
    if repeated or len(users) > 1 or len(plans) > 1:
        both = repeated or (users if len(users) > 1 else plans)
        raise ImportFileError(
            "conflicting_columns",
            f"The file has the columns {', '.join(both)}: keep exactly one user column and one plan column.",
        )
    if not users:
        raise ImportFileError("missing_user_column", "Add a user column: username, user_id or email.")
    if not plans:
        raise ImportFileError("missing_plan_column", "Add a learning plan column: plan_code, plan_id or plan_uid.")
    return {name: index for index, name in enumerate(names) if name in known}, users[0], plans[0]


def parse_file(data: bytes, defaults: ImportOptions) -> ParsedFile:
    """Read an upload into rows with their lookup keys and options, or raise ImportFileError."""
    if len(data) > settings.ARCHIVE_IMPORT_MAX_BYTES:
        raise ImportFileError(
            "file_too_large",
            f"The file is {len(data):,} bytes; at most {settings.ARCHIVE_IMPORT_MAX_BYTES:,} can be uploaded. "
            "Split it into several files.",
            status=413,
        )
    if data.startswith(BINARY_SIGNATURES) or b"\x00" in data:
        raise ImportFileError("not_csv", "This is not a CSV file: in the spreadsheet, use “Save as… CSV”.")
    text, encoding = decode(data)
    if not text.strip():
        raise ImportFileError("empty_file", "The file is empty.")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = _records(reader)
        line, header = next(records, (0, []))
        columns, user_column, plan_column = _columns(header)
        parsed = ParsedFile([cell.strip() for cell in header], delimiter, encoding, user_column, plan_column)
        options = _RowOptions(defaults)
        limit = settings.ARCHIVE_IMPORT_MAX_ROWS
        for line, cells in records:
            if len(parsed.rows) == limit:
                raise ImportFileError(
                    "too_many_rows", f"The file has more than {limit:,} rows: split it into several files."
                )
            parsed.rows.append(_row(line, [undo_formula_escape(cell) for cell in cells], columns, parsed, options))
    except csv.Error as bad:
        raise ImportFileError("not_csv", f"Line {reader.line_num} cannot be read as CSV: {bad}.") from bad
    if not parsed.rows:
        raise ImportFileError("empty_file", "The file has a header but no rows.")
    return parsed


def _records(reader) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells) for each record that is not blank."""
    start = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield start, cells
        start = reader.line_num + 1


class _RowOptions:
    """`row_options` once per distinct (mode, reset_tracking, notify) cells: a file has a handful of them."""

    def __init__(self, defaults: ImportOptions) -> None:
        self.defaults = defaults
        self.known: dict[tuple[str, str, str], ImportOptions | ValidationError] = {}

    def of(self, values: dict[str, str]) -> ImportOptions | ValidationError:
        key = (values.get("mode", ""), values.get("reset_tracking", ""), values.get("notify", ""))
        if key not in self.known:
            try:
                self.known[key] = row_options(values, self.defaults)
            except ValidationError as refused:
                self.known[key] = refused
        return self.known[key]


def _row(line: int, cells: list[str], columns: dict[str, int], parsed: ParsedFile, options: _RowOptions) -> ParsedRow:
    values = {name: (cells[index] if index < len(cells) else "") for name, index in columns.items()}
    row = ParsedRow(line=line, cells=cells)
    options = options.of(values)
    if isinstance(options, ValidationError):
        row.error, row.message = options.code, " ".join(options.messages)
        return row
    row.mode, row.reset_tracking, row.notify = options.mode, options.reset_tracking, options.notify
    row.user_key, row.error, row.message = _user_key(parsed.user_column, values[parsed.user_column])
    if not row.error:
        row.plan_key, row.error, row.message = _plan_key(parsed.plan_column, values[parsed.plan_column])
    return row


def _number(text: str) -> str | None:
    """An id as written in a file (spaces, leading zeros) → its digits; None when it is no positive id."""
    digits = text.strip().lstrip("0")
    return digits if digits.isascii() and digits.isdigit() and len(digits) <= 18 else None


def _user_key(column: str, value: str) -> tuple[str, str, str]:
    text = value.strip()
    if not text:
        return "", "unknown_user", f"The {column} cell is empty."
    if column == "user_id":
        number = _number(text)
        return (number, "", "") if number else ("", "unknown_user", f"“{text[:60]}” is not a user id.")
    if len(text) > MAX_KEY_LENGTH:
        return "", "unknown_user", f"No user has this {column} (it is {len(text)} characters long)."
    return (text.lower() if column == "email" else text), "", ""


def _plan_key(column: str, value: str) -> tuple[str, str, str]:
    text = value.strip()
    if not text:
        return "", "unknown_plan", f"The {column} cell is empty."
    if column == "plan_id":
        number = _number(text)
        return (number, "", "") if number else ("", "unknown_plan", f"“{text[:60]}” is not a learning plan id.")
    if column == "plan_uid":
        compact = text.replace("-", "").lower()
        if len(compact) != 32 or any(char not in "0123456789abcdef" for char in compact):
            return "", "unknown_plan", f"“{text[:60]}” is not a learning plan unique id."
        return compact, "", ""
    if len(text) > MAX_KEY_LENGTH:
        return "", "unknown_plan", "No learning plan has this code."
    return text, "", ""


def cells_json(row: ParsedRow) -> str:
    return json.dumps(row.cells, ensure_ascii=False)
