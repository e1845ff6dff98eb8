"""The file itself (SPEC §12): encodings, delimiters, quoting, Excel's habits, and every file error — which stores
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.models import ArchiveImport, ArchiveImportRow
from archive.services import ImportFileError
from tests.factories import UserFactory

from .conftest import row_errors, upload

pytestmark = pytest.mark.django_db
FILES = Path(__file__).parent / "files"


def read(name: str) -> bytes:
    return (FILES / name).read_bytes()


def test_a_utf8_file_with_bom_crlf_and_quoted_delimiters_and_line_breaks_is_read_cell_by_cell(world, superadmin):
    imp, _ = upload(superadmin, read("bom_crlf_quoted.csv"))
    assert imp.encoding == "utf-8" and imp.delimiter == "," and imp.header == ["UserName", "Plan_Code", "Comment"]
    rows = list(imp.rows.values_list("line", "cells", "error"))
    assert rows == [
        (2, ["ann", "SAFETY", "Left; on 3, March"], ""),
        (3, ["bob", "FIRE", "multi\r\nline, with; both"], ""),
    ]


def test_a_windows_1252_file_keeps_its_accented_names(world, superadmin):
    imp, _ = upload(superadmin, read("windows_1252.csv"))
    assert imp.encoding == "windows-1252" and imp.delimiter == ";"
    assert imp.rows.get().cells == ["ann", "SAFETY", "Zoë Müller – café"] and imp.valid_rows == 1


def test_excel_leading_zero_ids_match(world, superadmin):
    text = read("excel_leading_zeros.csv").decode().format(ANN=world.users[0].pk, SAFETY=world.plans[0].pk)
    imp, _ = upload(superadmin, text)
    assert imp.valid_rows == 1 and imp.rows.get().user == world.users[0]


def test_the_projects_formula_escaping_is_undone(world, superadmin):
    UserFactory(username="=cmd")
    imp, _ = upload(superadmin, read("formula_escaped.csv"))
    assert list(imp.rows.values_list("cells", "error")) == [
        (["=cmd", "SAFETY"], "not_enrolled"),
        (["-ann", "SAFETY"], "unknown_user"),
    ]


def test_an_email_shared_by_two_users_is_ambiguous(world, superadmin):
    UserFactory(username="twin1", email="same@example.com")
    UserFactory(username="twin2", email="same@example.com")
    imp, _ = upload(superadmin, read("shared_email.csv"))
    assert row_errors(imp) == {2: "ambiguous_user"}


def test_a_row_matching_only_a_merged_user_names_the_kept_user(world, superadmin):
    UserFactory(username="gone", email="gone@example.com", merged_into=world.users[1], is_active=False)
    imp, _ = upload(superadmin, read("merged_user.csv"))
    row = imp.rows.get()
    assert row.error == "user_merged" and "“bob”" in row.message


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("conflicting_columns.csv", "conflicting_columns", "username, email"),
        ("conflicting_plan_columns.csv", "conflicting_columns", "plan_code, plan_id"),
        ("empty_file.csv", "empty_file", "empty"),
        ("header_only.csv", "empty_file", "no rows"),
        ("invalid_encoding.csv", "invalid_encoding", "Line 3, byte 2 (0x81)"),
        ("missing_header.csv", "missing_header", "“ann, SAFETY”"),
        ("missing_user_column.csv", "missing_user_column", "username, user_id or email"),
        ("missing_plan_column.csv", "missing_plan_column", "plan_code, plan_id or plan_uid"),
        ("not_csv.xlsx", "not_csv", "not a CSV"),
        ("not_csv_quote.csv", "not_csv", "Line 2"),
    ],
)
def test_a_file_error_stores_nothing_and_says_what_is_wrong(world, superadmin, name, code, words):
    with pytest.raises(ImportFileError) as refused:
        upload(superadmin, read(name))
    assert refused.value.code == code and words in refused.value.message and refused.value.status == 400
    assert not ArchiveImport.objects.exists() and not ArchiveImportRow.objects.exists()


def test_a_file_one_byte_over_5_mb_is_refused_as_too_large(world, superadmin, settings):
    assert settings.ARCHIVE_IMPORT_MAX_BYTES == 5 * 1024 * 1024
    head = b"username,plan_code\n"
    data = head + b"ann,SAFETY\n" * ((settings.ARCHIVE_IMPORT_MAX_BYTES - len(head)) // 11 + 1)
    data = data[: settings.ARCHIVE_IMPORT_MAX_BYTES + 1]
    with pytest.raises(ImportFileError) as refused:
        upload(superadmin, data)
    assert (refused.value.code, refused.value.status) == ("file_too_large", 413)
    assert not ArchiveImport.objects.exists()


def test_50001_rows_are_too_many_and_50000_are_not(world, superadmin, settings):
    assert settings.ARCHIVE_IMPORT_MAX_ROWS == 50_000
    head = "username,plan_code\n"
    with pytest.raises(ImportFileError) as refused:
        upload(superadmin, head + "ann,SAFETY\n" * 50_001)
    assert refused.value.code == "too_many_rows" and "50,000" in refused.value.message
    imp, _ = upload(superadmin, head + "ann,SAFETY\n" * 50_000)
    assert (imp.total_rows, imp.valid_rows) == (50_000, 1)
    assert imp.rows.filter(error="duplicate_row").count() == 49_999
