"""CSV downloads and file names (issue 17): no cell a spreadsheet would run as a formula, in every CSV; and a
download name that data (a plan code, a username) cannot bend into another file type."""

from __future__ import annotations

import csv
import io
import re
from email.message import Message
from urllib.parse import unquote

import pytest
from django.urls import reverse

from archive.models import ArchiveJobItem
from archive.services import archive_enrollments, start_archive_job
from enrollments.services import enroll_user
from lms_admin.web.csv import csv_lines
from tests.factories import UserFactory, make_plan
from tests.security.conftest import _certified

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://x")'
SUM = "=1+2"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_CODE = 'x.html"; q="'


@pytest.fixture
def hostile_plan(superadmin):
    """A plan with a hostile code, a learner named like a formula (one round archived) and one still enrolled."""
    plan = make_plan(courses=1, materials_per_course=1, code=HOSTILE_CODE, template=True)
    archived = UserFactory(username=SUM, first_name=HYPERLINK, last_name="")
    enrollment = enroll_user(user=archived, learning_plan=plan)
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll", notify=False)
    enroll_user(user=UserFactory(username="@plus", first_name="+cmd|' /C calc'!A0", last_name=""), learning_plan=plan)
    enroll_user(user=UserFactory(username=SUM + "b", first_name=HYPERLINK, last_name=""), learning_plan=plan)
    return plan


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def saved_as(response) -> str:
    """The file name a browser saves the download under: `filename*` when there is one (RFC 6266), else `filename`."""
    disposition = response["Content-Disposition"]
    extended = re.search(r"filename\*=([\w-]+)''([^;\s]+)", disposition)
    if extended:
        return unquote(extended[2], encoding=extended[1])
    header = Message()
    header["Content-Disposition"] = disposition
    return header.get_param("filename", header="content-disposition")


def assert_no_formula(rows: list[list[str]]) -> None:
    runnable = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert runnable == []


def test_the_selection_preview_csv_defuses_formulas(client, superadmin, hostile_plan):
    client.force_login(superadmin)

    rows = csv_rows(client.get(reverse("archive:bulk_preview_csv", args=[hostile_plan.pk]) + "?select_all=1"))

    by_username = {row[1]: row for row in rows[1:]}
    assert by_username["'" + SUM + "b"][2] == "'" + HYPERLINK
    assert by_username["'@plus"][2] == "'+cmd|' /C calc'!A0"
    assert_no_formula(rows)


def test_the_archived_export_defuses_formulas(client, superadmin, hostile_plan):
    client.force_login(superadmin)

    rows = csv_rows(client.get(reverse("archive:archived_export", args=[hostile_plan.pk])))

    assert len(rows) == 2
    assert rows[1][1:3] == ["'" + SUM, "'" + HYPERLINK]
    assert rows[1][0].isdigit()  # the archive id: a number stays a number
    assert_no_formula(rows)


def test_the_job_items_csv_defuses_formulas(client, superadmin, hostile_plan):
    ids = list(hostile_plan.enrollments.values_list("pk", flat=True))
    job = start_archive_job(learning_plan=hostile_plan, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    # A message naming a learner or a plan, as the shared-course guard's do.
    ArchiveJobItem.objects.filter(job=job).update(message=HYPERLINK)
    client.force_login(superadmin)

    rows = csv_rows(client.get(reverse("archive:job_items_csv", args=[job.pk])))

    assert [row[4] for row in rows[1:]] == ["'" + HYPERLINK] * len(ids)
    assert_no_formula(rows)


def test_numbers_stay_numbers_and_only_text_is_defused():
    lines = list(csv_lines(["n", "text"], [[-5, "-5"], [3.5, "@x"], [None, "\tx"]]))

    assert lines[1:] == ["-5,'-5\r\n", "3.5,'@x\r\n", ",'\tx\r\n"]


@pytest.mark.parametrize("url_name", ["archive:archived_export", "archive:bulk_preview_csv"])
def test_a_plan_code_cannot_change_the_downloaded_file_type(client, superadmin, hostile_plan, url_name):
    client.force_login(superadmin)

    response = client.get(reverse(url_name, args=[hostile_plan.pk]) + "?select_all=1")

    name = saved_as(response)
    assert name.endswith(".csv") and '"' not in name and ";" not in name
    assert response["Content-Disposition"].count('"') == 2  # one quoted name, nothing after it


def test_a_non_ascii_name_is_kept_with_an_ascii_fallback(client, superadmin):
    plan = make_plan(courses=1, materials_per_course=1, code="Sécurité/日本")
    client.force_login(superadmin)

    response = client.get(reverse("archive:archived_export", args=[plan.pk]))

    disposition = response["Content-Disposition"]
    assert 'filename="archived-Securite___.csv"' in disposition
    assert saved_as(response) == "archived-Sécurité_日本.csv"


def test_the_certificate_download_name_goes_through_the_same_builder(client, superadmin):
    plan = make_plan(courses=1, materials_per_course=1, code=HOSTILE_CODE, template=True)
    _, certificate = _certified(UserFactory(username='a"b\\c'), plan)
    client.force_login(superadmin)

    response = client.get(reverse("enrollments:certificate_download", args=[certificate.pk]))

    assert response.status_code == 200
    assert saved_as(response) == "certificate-x.html__ q__-a_b_c.pdf"
