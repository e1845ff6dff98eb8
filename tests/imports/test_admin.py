"""Archive imports in the Django admin (SPEC §12): support staff look at an uploaded file, its rows and its jobs;
nobody changes or deletes them there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from archive.models import ArchiveImport, ArchiveImportRow
from archive.services.imports import submit_import
from tests.factories import SuperadminFactory, UserFactory
from tests.imports.conftest import upload

pytestmark = pytest.mark.django_db


def admin_url(model: str, action: str, *args) -> str:
    return reverse(f"admin:archive_{model}_{action}", args=args)


@pytest.fixture
def submitted(world):
    """A file of two good rows (one per plan) and one unknown learner, submitted: two jobs."""
    actor = SuperadminFactory(username="uploader")
    archive_import, _ = upload(actor, "username,plan_code\nann,SAFETY\nbob,FIRE\nnobody,SAFETY\n")
    submit_import(archive_import, actor=actor)
    return ArchiveImport.objects.get(pk=archive_import.pk)


@pytest.mark.parametrize("who", ["support", "superuser"])
def test_staff_see_an_import_its_rows_and_jobs_and_change_nothing(client, submitted, who):
    staff = UserFactory(username=who, is_staff=True, is_superuser=who == "superuser")
    client.force_login(staff)

    listing = client.get(admin_url("archiveimport", "changelist")).content.decode()
    assert submitted.file_name in listing and "uploader" in listing

    page = client.get(admin_url("archiveimport", "change", submitted.pk)).content.decode()
    assert 'name="_save"' not in page
    assert submitted.get_absolute_url() in page
    rows = admin_url("archiveimportrow", "changelist") + f"?archive_import__id__exact={submitted.pk}"
    jobs = admin_url("archivejob", "changelist") + f"?imports__id__exact={submitted.pk}"
    assert "3 rows, 1 with an error" in page
    for url in (rows, jobs):
        assert url.replace("&", "&amp;") in page or url in page

    row_list = client.get(rows + "&error__exact=unknown_user").content.decode()
    assert "nobody" in row_list and "bob" not in row_list
    job_list = client.get(jobs)
    assert job_list.status_code == 200 and job_list.context["cl"].result_count == submitted.jobs.count() == 2

    row = ArchiveImportRow.objects.get(archive_import=submitted, user_key="ann")
    assert client.post(admin_url("archiveimportrow", "change", row.pk), {"user_key": "x"}).status_code == 403
    assert client.post(admin_url("archiveimport", "delete", submitted.pk), {"post": "yes"}).status_code == 403
    assert client.get(admin_url("archiveimport", "add")).status_code == 403
    assert ArchiveImport.objects.filter(pk=submitted.pk).exists()
    assert ArchiveImportRow.objects.get(pk=row.pk).user_key == "ann"
