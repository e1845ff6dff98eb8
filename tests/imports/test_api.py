"""The archive-import API (SPEC §12): multipart upload, report, errors CSV, submit — and its refusals."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import ArchiveImport, ArchiveJob
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
UPLOAD = "/api/v1/archive-imports"
TEXT = b"username,plan_code,mode\nann,SAFETY,\nbob,FIRE,unenroll\nnobody,FIRE,\n"


def post_file(client: ApiClient, data: bytes, *, name: str = "list.csv", **fields):
    body = {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "mode": "reenroll", **fields}
    return client.client.post(UPLOAD, body, headers=client.headers)


def test_upload_answers_201_with_the_report_and_the_same_file_again_200_with_the_same_import(world, superadmin):
    api = ApiClient(superadmin)
    response = post_file(api, TEXT)
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    imp = ArchiveImport.objects.get()
    assert data == {
        "id": imp.pk,
        "status": "validated",
        "file_name": "list.csv",
        "sha256": imp.sha256,
        "totals": {"rows": 3, "valid": 2, "errors": 1},
        "plans": [
            {
                "id": world.plans[1].pk,
                "title": "Fire drill",
                "valid": 1,
                "by_status": {"enrolled": 1, "in_progress": 0, "completed": 0},
                "shared_course": 0,
            },
            {
                "id": world.plans[0].pk,
                "title": "Safety basics",
                "valid": 1,
                "by_status": {"enrolled": 1, "in_progress": 0, "completed": 0},
                "shared_course": 0,
            },
        ],
        "errors_url": f"/api/v1/archive-imports/{imp.pk}/errors",
    }
    again = post_file(api, TEXT)
    assert again.status_code == 200 and again.json()["data"]["id"] == imp.pk
    assert api.get(f"{UPLOAD}/{imp.pk}").json()["data"] == data


def test_the_errors_csv_has_the_original_columns_plus_error(world, superadmin):
    api = ApiClient(superadmin)
    imp_id = post_file(api, TEXT).json()["data"]["id"]
    response = api.get(f"{UPLOAD}/{imp_id}/errors")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["username", "plan_code", "mode", "error"],
        ["nobody", "FIRE", "", "unknown_user: No user has the username “nobody”."],
    ]


def test_submit_answers_202_with_the_jobs_then_200_with_the_same_jobs(world, superadmin):
    api = ApiClient(superadmin)
    imp_id = post_file(api, TEXT).json()["data"]["id"]
    first = api.post(f"{UPLOAD}/{imp_id}/submit")
    assert first.status_code == 202
    jobs = first.json()["data"]["jobs"]
    assert sorted((job["mode"], job["total"], job["trigger"]) for job in jobs) == [
        ("reenroll", 1, "file"),
        ("unenroll", 1, "file"),
    ]
    second = api.post(f"{UPLOAD}/{imp_id}/submit")
    assert second.status_code == 200
    assert [job["id"] for job in second.json()["data"]["jobs"]] == [job["id"] for job in jobs]
    assert ArchiveJob.objects.count() == 2
    assert api.get(f"{UPLOAD}/{imp_id}").json()["data"]["status"] == "submitted"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"username,email,plan_code\nann,a@example.com,SAFETY\n", "conflicting_columns"),
        (b"", "empty_file"),
        (b"username,plan_code\nb\x81b,SAFETY\n", "invalid_encoding"),
        (b"ann,SAFETY\n", "missing_header"),
        (b"plan_code\nSAFETY\n", "missing_user_column"),
        (b"username\nann\n", "missing_plan_column"),
        (b"PK\x03\x04 spreadsheet", "not_csv"),
    ],
)
def test_a_refused_file_answers_400_with_its_code_and_stores_nothing(world, superadmin, data, code):
    response = post_file(ApiClient(superadmin), data)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not ArchiveImport.objects.exists()


def test_too_many_rows_and_a_file_over_5_mb_are_refused(world, superadmin, settings):
    api = ApiClient(superadmin)
    settings.ARCHIVE_IMPORT_MAX_ROWS = 2
    response = post_file(api, b"username,plan_code\n" + b"ann,SAFETY\n" * 3)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "too_many_rows")
    big = b"username,plan_code\n" + b"x" * (5 * 1024 * 1024)
    response = post_file(api, big)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "file_too_large")
    assert not ArchiveImport.objects.exists()


def test_bad_defaults_are_refused_before_the_file_is_read(world, superadmin):
    api = ApiClient(superadmin)
    response = post_file(api, TEXT, mode="archive")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_mode")
    response = post_file(api, TEXT, notify="perhaps")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_boolean")
    response = post_file(api, TEXT, reset_tracking="sometimes")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_boolean")
    assert "reset_tracking" in response.json()["error"]["message"]
    assert not ArchiveImport.objects.exists()


def test_power_users_get_403_and_nothing_is_stored(world, superadmin, power_user):
    response = post_file(ApiClient(power_user), TEXT)
    assert response.status_code == 403
    assert not ArchiveImport.objects.exists()


def test_the_endpoints_are_in_the_openapi_document(db):
    paths = ApiClient().get("/api/v1/openapi.json").json()["paths"]
    assert "multipart/form-data" in paths["/api/v1/archive-imports"]["post"]["requestBody"]["content"]
    assert {"/api/v1/archive-imports/{import_id}", "/api/v1/archive-imports/{import_id}/errors"} <= set(paths)
    assert "202" in paths["/api/v1/archive-imports/{import_id}/submit"]["post"]["responses"]
