"""GET/DELETE archived enrollments and their certificate (SPEC §7): the exact shape, filters, visibility."""

import pytest

from archive.models import ArchivedCertificate, ArchivedCourseEnrollment, ArchivedPlanEnrollment
from lms_admin.audit.models import AuditEvent
from tests.api.conftest import PDF_BYTES
from tests.factories import PowerUserFactory

pytestmark = pytest.mark.django_db

ITEM_KEYS = {
    "id",
    "archived_at",
    "archived_by",
    "user",
    "learning_plan",
    "certificate",
    "enrollment",
    "options",
    "trigger",
}
REF_KEYS = {"id", "username"}
USER_KEYS = {"id", "username", "first_name", "last_name", "display_name", "language"}
PLAN_KEYS = {"id", "title", "code", "uid", "status", "course_list", "credits"}
CERTIFICATE_KEYS = {"url", "assigned_at"}
ENROLLMENT_KEYS = {"enrolled_at", "enrolled_by", "validity_start", "validity_end", "status", "completed_at"}
OPTIONS_KEYS = {"mode", "reset_tracking", "notify"}
COURSE_ENROLLMENT_KEYS = {
    "course",
    "enrolled_at",
    "status",
    "completed_at",
    "score",
    "materials_completed",
    "materials_total",
}
COURSE_KEYS = {"id", "title", "code", "uid", "type"}
# The `*` fields of SPEC §4.4, under the names an API could plausibly give them.
STARRED = {
    "last_login",
    "expires_on",
    "expiration_date",
    "active",
    "is_active",
    "suspended",
    "level",
    "language_code",
    "created_at",
    "created",
    "published_at",
    "published",
    "updated_at",
    "last_update",
    "validity_days",
    "days_of_validity",
    "start_date",
    "end_date",
    "certificate_template",
    "certificate_template_id",
}


def all_keys(value, path=""):
    """Every (path, key) in a JSON value, recursively."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path, key
            yield from all_keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from all_keys(inner, f"{path}[]")


def assert_archived_item_shape(item: dict) -> None:
    assert set(item) == ITEM_KEYS
    assert set(item["archived_by"]) == REF_KEYS
    assert set(item["user"]) == USER_KEYS
    assert set(item["learning_plan"]) == PLAN_KEYS
    assert item["certificate"] is None or set(item["certificate"]) == CERTIFICATE_KEYS
    assert set(item["enrollment"]) == ENROLLMENT_KEYS
    assert item["enrollment"]["enrolled_by"] is None or set(item["enrollment"]["enrolled_by"]) == REF_KEYS
    assert set(item["options"]) == OPTIONS_KEYS
    leaked = {(path, key) for path, key in all_keys(item) if key in STARRED}
    assert not leaked, f"fields the API must never return: {leaked}"


def url(record) -> str:
    return f"/api/v1/archived-enrollments/{record.pk}"


def plan_url(plan) -> str:
    return f"/api/v1/learning-plans/{plan.pk}/archived-enrollments"


def test_a_plans_archived_list_is_newest_first_in_the_list_envelope(api_as, archived_world):
    w = archived_world
    response = api_as(w.superadmin).get(plan_url(w.plan))

    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["id"] for item in data["items"]] == [w.bob_record.pk, w.cyd_record.pk, w.ada_record.pk]
    assert {k: v for k, v in data.items() if k != "items"} == {
        "count": 3,
        "current_page": 1,
        "page_size": 50,
        "total_page_count": 1,
        "has_more_data": False,
    }
    for item in data["items"]:
        assert_archived_item_shape(item)


def test_an_archived_item_shows_the_frozen_copies_in_the_contract_formats(api_as, archived_world):
    w = archived_world
    w.plan.title = "Renamed later"
    w.plan.save()
    item = api_as(w.superadmin).get(url(w.ada_record)).json()["data"]

    assert item["archived_at"] == "2026-03-10T12:00:00Z"
    assert item["archived_by"] == {"id": w.superadmin.pk, "username": w.superadmin.username}
    assert item["user"] == {
        "id": w.ada.pk,
        "username": "ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "display_name": "Ada Lovelace",
        "language": "fr",
    }
    plan = item["learning_plan"]
    assert plan["id"] == w.plan.pk and plan["title"] == "Safety basics" and plan["code"] == "SAFE"
    assert plan["uid"] == str(w.plan.uid)
    assert plan["status"] == 2
    assert plan["credits"] == "2.50"
    assert plan["course_list"] == ", ".join(
        w.plan.courses.order_by("plan_links__position").values_list("title", flat=True)
    )
    assert item["certificate"]["url"] == f"http://testserver/api/v1/archived-enrollments/{w.ada_record.pk}/certificate"
    assert item["certificate"]["assigned_at"].endswith("Z")
    assert item["enrollment"]["enrolled_by"] == {"id": w.superadmin.pk, "username": w.superadmin.username}
    assert item["enrollment"]["status"] == "active"
    assert item["enrollment"]["completed_at"].endswith("Z")
    assert item["options"] == {"mode": "reenroll", "reset_tracking": False, "notify": True}
    assert item["trigger"] == "manual"


def test_the_detail_adds_the_course_enrollments_with_exactly_their_keys(api_as, archived_world):
    w = archived_world
    response = api_as(w.superadmin).get(url(w.ada_record))

    assert response.status_code == 200
    detail = response.json()["data"]
    assert set(detail) == ITEM_KEYS | {"course_enrollments"}
    assert_archived_item_shape({k: v for k, v in detail.items() if k != "course_enrollments"})
    courses = detail["course_enrollments"]
    assert len(courses) == 2
    expected_titles = list(w.plan.courses.order_by("plan_links__position").values_list("title", flat=True))
    assert [c["course"]["title"] for c in courses] == expected_titles
    for course in courses:
        assert set(course) == COURSE_ENROLLMENT_KEYS
        assert set(course["course"]) == COURSE_KEYS
        assert course["status"] == 2
        assert (course["materials_completed"], course["materials_total"]) == (2, 2)
        assert course["course"]["type"] == "elearning"
    assert not {key for _, key in all_keys(detail) if key in STARRED | {"tracking"}}


def test_a_record_without_certificate_says_null(api_as, archived_world):
    w = archived_world
    item = api_as(w.superadmin).get(url(w.cyd_record)).json()["data"]
    assert item["certificate"] is None
    assert item["options"] == {"mode": "unenroll", "reset_tracking": False, "notify": False}


def test_the_archived_certificate_downloads_as_the_pdf_and_is_audited(api_as, archived_world):
    w = archived_world
    response = api_as(w.superadmin).get(f"{url(w.ada_record)}/certificate")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert AuditEvent.objects.filter(action="archived_certificate.download", object_id=w.ada_record.pk).count() == 1


def test_a_record_without_certificate_has_no_download(api_as, archived_world):
    response = api_as(archived_world.superadmin).get(f"{url(archived_world.cyd_record)}/certificate")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"archived_from": "2026-03-11"}, ["bob", "cyd"]),
        ({"archived_to": "2026-03-11"}, ["cyd", "ada"]),
        ({"archived_from": "2026-03-11", "archived_to": "2026-03-11"}, ["cyd"]),
        ({"user_status": "deactivated"}, ["bob"]),
        ({"user_status": "active"}, ["cyd", "ada"]),
        ({"user_status": "expired"}, []),
        ({"search": "lovel"}, ["ada"]),
        ({"search": "BOB"}, ["bob"]),
        ({"search": "cyd charisse"}, ["cyd"]),
    ],
)
def test_each_archived_filter_narrows_the_list(api_as, archived_world, params, expected):
    response = api_as(archived_world.superadmin).get(plan_url(archived_world.plan), params)
    assert response.status_code == 200
    assert [item["user"]["username"] for item in response.json()["data"]["items"]] == expected


def test_archived_by_filters_on_the_archiving_user(api_as, archived_world):
    w = archived_world
    archiver_id = w.cyd_record.archived_by_id
    response = api_as(w.superadmin).get(plan_url(w.plan), {"archived_by": archiver_id})
    assert [item["id"] for item in response.json()["data"]["items"]] == [w.cyd_record.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"archived_from": "10/03/2026"},
        {"archived_to": "2026-02-30"},
        {"archived_from": "2026-03-12", "archived_to": "2026-03-10"},
        {"archived_by": "me"},
        {"user_status": "asleep"},
    ],
)
def test_a_malformed_archived_filter_is_a_400_invalid_request(api_as, archived_world, params):
    response = api_as(archived_world.superadmin).get(plan_url(archived_world.plan), params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_first_level_manager_sees_a_direct_reports_record_and_the_director_does_not(api_as, archived_world):
    w = archived_world
    as_manager = api_as(w.manager)
    assert as_manager.get(url(w.ada_record)).status_code == 200
    assert as_manager.get(f"{url(w.ada_record)}/certificate").status_code == 200
    assert as_manager.get(url(w.cyd_record)).status_code == 404  # not a report of theirs

    response = api_as(w.director).get(url(w.ada_record))  # second level: nothing
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_manager_may_not_delete_a_record_they_see(api_as, archived_world):
    w = archived_world
    response = api_as(w.manager).delete(url(w.ada_record))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert ArchivedPlanEnrollment.objects.filter(pk=w.ada_record.pk).exists()


def test_a_power_user_sees_records_of_assigned_plans_only_and_may_not_delete(api_as, archived_world):
    w = archived_world
    power = PowerUserFactory()
    w.plan.power_users.add(power)
    as_power = api_as(power)

    assert as_power.get(plan_url(w.plan)).json()["data"]["count"] == 3
    assert as_power.get(url(w.ada_record)).status_code == 200
    assert as_power.get(url(w.other_record)).status_code == 404
    assert as_power.get(plan_url(w.other_plan)).status_code == 404

    response = as_power.delete(url(w.ada_record))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert ArchivedPlanEnrollment.objects.filter(pk=w.ada_record.pk).exists()
    assert as_power.delete(url(w.other_record)).status_code == 404


def test_deleting_a_record_removes_it_with_its_course_snapshots_and_is_audited(api_as, archived_world):
    w = archived_world
    count_before = type(w.plan).objects.get(pk=w.plan.pk).archived_count
    client = api_as(w.superadmin)

    response = client.delete(url(w.cyd_record))

    assert response.status_code == 204
    assert response.content == b""
    assert not ArchivedPlanEnrollment.objects.filter(pk=w.cyd_record.pk).exists()
    assert not ArchivedCourseEnrollment.objects.filter(plan_archive_id=w.cyd_record.pk).exists()
    assert type(w.plan).objects.get(pk=w.plan.pk).archived_count == count_before - 1
    event = AuditEvent.objects.get(action="archived_enrollment.delete", object_id=w.cyd_record.pk)
    assert event.actor == w.superadmin
    assert client.get(url(w.cyd_record)).status_code == 404
    assert client.delete(url(w.cyd_record)).status_code == 404


def test_the_certificate_file_goes_with_the_last_record_that_references_it(
    api_as, archived_world, django_capture_on_commit_callbacks
):
    w = archived_world
    certificate = ArchivedCertificate.objects.get(pk=w.ada_record.certificate_id)
    storage, name = certificate.file.storage, certificate.file.name
    ArchivedPlanEnrollment.objects.filter(pk=w.cyd_record.pk).update(certificate=certificate)  # same content twice
    client = api_as(w.superadmin)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(url(w.ada_record)).status_code == 204
    assert ArchivedCertificate.objects.filter(pk=certificate.pk).exists()
    assert storage.exists(name)
    assert client.get(f"{url(w.cyd_record)}/certificate").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(url(w.cyd_record)).status_code == 204
    assert not ArchivedCertificate.objects.filter(pk=certificate.pk).exists()
    assert not storage.exists(name)


def test_an_unknown_or_out_of_range_record_id_is_404_or_400(api_as, archived_world):
    client = api_as(archived_world.superadmin)
    assert client.get("/api/v1/archived-enrollments/999999999").json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/archived-enrollments/abc").status_code == 400
    assert client.get(f"/api/v1/archived-enrollments/{2**64}").status_code == 400
