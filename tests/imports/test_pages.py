"""The archive-import pages (SPEC §12): refusals shown on the upload page, the report, and Archive N valid rows
exactly once with its request key."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from archive.models import ArchiveImport, ArchiveJob

pytestmark = pytest.mark.django_db
TEXT = b"username,plan_code\nann,SAFETY\nbob,FIRE\nnobody,FIRE\n"


@pytest.fixture
def client_as():
    def client(user):
        c = Client()
        c.force_login(user)
        return c

    return client


def upload(client: Client, data: bytes, **fields):
    body = {"file": SimpleUploadedFile("list.csv", data), "mode": "reenroll", "reset_tracking": "false", **fields}
    return client.post("/archive/imports/new/", body)


def test_a_refused_file_is_named_on_the_upload_page_and_nothing_is_stored(world, superadmin, client_as, settings):
    client = client_as(superadmin)
    response = upload(client, b"username,email,plan_code\nann,a@example.com,SAFETY\n")
    assert response.status_code == 400 and "(conflicting_columns)" in response.content.decode()
    response = upload(client, b"x" * (settings.ARCHIVE_IMPORT_MAX_BYTES + 1))
    assert response.status_code == 413 and "(file_too_large)" in response.content.decode()
    assert not ArchiveImport.objects.exists()


def test_the_report_shows_totals_and_errors_with_their_lines(world, superadmin, client_as):
    client = client_as(superadmin)
    response = upload(client, TEXT)
    imp = ArchiveImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/archive/imports/{imp.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert 'data-total="valid">2<' in page and 'data-line="4"' in page and "Archive 2 valid rows" in page
    assert "No user has the username “nobody”." in page


def test_archive_n_valid_rows_starts_the_jobs_once_whatever_is_repeated(world, superadmin, client_as):
    client = client_as(superadmin)
    upload(client, TEXT)
    imp = ArchiveImport.objects.get()
    page = client.get(f"/archive/imports/{imp.pk}/").content.decode()
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    submit = f"/archive/imports/{imp.pk}/submit/"

    tampered = client.post(submit, {"request_key": key + "x"}, follow=True)
    assert "request key is not valid" in tampered.content.decode() and not ArchiveJob.objects.exists()

    first = client.post(submit, {"request_key": key})
    again = client.post(submit, {"request_key": key}, follow=True)
    assert first["Location"] == f"/archive/imports/{imp.pk}/progress/"
    assert "This import was submitted already" in again.content.decode()
    assert ArchiveJob.objects.filter(trigger="file").count() == 2
    panel = client.get(f"/archive/imports/{imp.pk}/progress/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in panel and 'id="import-progress"' in panel
    assert "0 / 2 processed" in panel
