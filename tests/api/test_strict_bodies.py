"""Strict API bodies (SPEC §7, §8): unknown fields and filters, values of the wrong JSON type and repeated keys
answer 400 invalid_request naming what was wrong, and nothing is archived or started."""

import json

import pytest

from archive.models import ArchivedPlanEnrollment, ArchiveJob, RetrainingRun
from enrollments.models import RetrainingRule
from enrollments.services import enroll_user
from lms_admin.audit.models import AuditEvent
from tests.factories import UserFactory, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_of_three():
    plan = make_plan(courses=1, materials_per_course=1)
    enrollments = [enroll_user(user=UserFactory(), learning_plan=plan) for _ in range(3)]
    return plan, enrollments


def posted(client, plan, raw: str):
    """POST a body exactly as written (the test client would re-encode a dict, losing a repeated key)."""
    return client.client.post(
        f"/api/v1/learning-plans/{plan.pk}/archive", raw, content_type="application/json", headers=client.headers
    )


def refused(response) -> str:
    """The message of a 400 invalid_request answer."""
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_request", error
    return error["message"]


def assert_nothing_archived():
    assert not ArchiveJob.objects.exists()
    assert not ArchivedPlanEnrollment.objects.exists()


def test_select_all_with_filters_it_does_not_know_is_refused_naming_them_not_run_over_the_whole_plan(
    api_as, superadmin, plan_of_three
):
    plan, _ = plan_of_three
    body = {
        "select_all": True,
        "filters": {"learning_plan_id": 3, "user__is_superuser": True, "pk__in": [1669]},
        "mode": "reenroll",
    }

    message = refused(api_as(superadmin).post(f"/api/v1/learning-plans/{plan.pk}/archive", body))

    for name in ("learning_plan_id", "user__is_superuser", "pk__in"):
        assert name in message
    assert "unknown filters" in message
    assert "search, status, user_status, enrolled_from, enrolled_to" in message  # what the filters are
    assert_nothing_archived()


def test_a_misspelt_filter_in_unenroll_mode_empties_nothing(api_as, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    body = {"select_all": True, "filters": {"enroled_to": "2000-01-01"}, "mode": "unenroll"}

    message = refused(api_as(superadmin).post(f"/api/v1/learning-plans/{plan.pk}/archive", body))

    assert "enroled_to" in message
    assert_nothing_archived()
    assert plan.enrollments.count() == len(enrollments)


def test_an_unknown_field_of_the_body_is_refused_naming_it(api_as, superadmin, plan_of_three):
    plan, (first, *_) = plan_of_three
    body = {"enrollment_ids": [first.pk], "mode": "reenroll", "notfy": False}

    message = refused(api_as(superadmin).post(f"/api/v1/learning-plans/{plan.pk}/archive", body))

    assert message.startswith("Unknown field notfy")
    assert_nothing_archived()


@pytest.mark.parametrize(
    "ids", [[True], ["{first}"], [1.0], [[1]]], ids=["boolean", "string of digits", "float", "list"]
)
def test_an_id_that_is_not_a_json_integer_is_refused(api_as, superadmin, plan_of_three, ids):
    plan, enrollments = plan_of_three
    ids = [str(enrollments[0].pk) if pk == "{first}" else pk for pk in ids]

    message = refused(
        api_as(superadmin).post(
            f"/api/v1/learning-plans/{plan.pk}/archive", {"enrollment_ids": ids, "mode": "reenroll"}
        )
    )

    assert message == "enrollment_ids.0: Input should be a valid integer. Nothing was changed."
    assert_nothing_archived()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"select_all": "true"}, "select_all"),
        ({"select_all": 1}, "select_all"),
        ({"notify": "false"}, "notify"),
        ({"reset_tracking": 0}, "reset_tracking"),
        ({"rounds": ["1"]}, "rounds.0"),
        ({"select_all": True, "filters": {"status": "2"}}, "filters.status"),
        ({"select_all": True, "filters": {"enrolled_from": 20260101}}, "filters.enrolled_from"),
        ({"select_all": True, "filters": {"enrolled_to": "2026-W01-1"}}, "filters.enrolled_to"),
        ({"select_all": True, "filters": {"search": ["a"]}}, "filters.search"),
    ],
)
def test_options_and_filters_of_the_wrong_json_type_are_refused(api_as, superadmin, plan_of_three, body, field):
    plan, enrollments = plan_of_three
    body = {"mode": "reenroll", "enrollment_ids": [e.pk for e in enrollments], **body}
    if body.get("select_all") is True:
        body.pop("enrollment_ids")
    if "rounds" in body:
        body["enrollment_ids"] = body["enrollment_ids"][:1]

    message = refused(api_as(superadmin).post(f"/api/v1/learning-plans/{plan.pk}/archive", body))

    assert message.startswith(f"{field}: ")
    assert_nothing_archived()


def test_filters_of_the_right_types_still_select_all(api_as, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    body = {
        "select_all": True,
        "filters": {"status": 0, "user_status": "active", "enrolled_from": "2000-01-01", "search": ""},
        "mode": "reenroll",
    }

    response = api_as(superadmin).post(f"/api/v1/learning-plans/{plan.pk}/archive", body)

    assert response.status_code == 202, response.content
    job = ArchiveJob.objects.get()
    assert job.total == len(enrollments)
    assert job.filters == {"status": "0", "user_status": "active", "enrolled_from": "2000-01-01", "search": ""}


@pytest.mark.parametrize(
    "raw",
    [
        '{"mode": "reenroll", "mode": "unenroll", "enrollment_ids": [%(first)s]}',
        '{"mode": "reenroll", "select_all": true, "filters": {"status": 0, "status": 2}}',
    ],
    ids=["top level", "in the filters"],
)
def test_a_key_repeated_in_one_object_is_refused_naming_it(api_as, superadmin, plan_of_three, raw):
    plan, (first, *_) = plan_of_three
    repeated = "mode" if raw.count('"mode"') == 2 else "status"

    message = refused(posted(api_as(superadmin), plan, raw % {"first": first.pk}))

    assert f'the key "{repeated}" appears twice in one object' in message
    assert_nothing_archived()
    first.refresh_from_db()
    assert first.round == 1


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api_as, superadmin, plan_of_three, constant):
    plan, (first, *_) = plan_of_three

    message = refused(posted(api_as(superadmin), plan, f'{{"mode": "reenroll", "enrollment_ids": [{constant}]}}'))

    assert f"{constant} is not a JSON value" in message
    assert_nothing_archived()


def test_the_same_body_without_tampering_archives(api_as, superadmin, plan_of_three):
    plan, (first, *_) = plan_of_three

    response = posted(api_as(superadmin), plan, json.dumps({"mode": "reenroll", "enrollment_ids": [first.pk]}))

    assert response.status_code == 200, response.content
    assert ArchivedPlanEnrollment.objects.filter(enrollment_id=first.pk).exists()


def test_the_openapi_document_says_unknown_fields_are_refused(api_as, superadmin):
    schemas = api_as(superadmin).get("/api/v1/openapi.json").json()["components"]["schemas"]

    assert schemas["ArchiveIn"]["additionalProperties"] is False
    assert schemas["ActiveFiltersIn"]["additionalProperties"] is False
    assert set(schemas["ActiveFiltersIn"]["properties"]) == {
        "search",
        "status",
        "user_status",
        "enrolled_from",
        "enrolled_to",
    }


# --- the retraining bodies (SPEC §11) ---------------------------------------------------------------------------


def test_a_retraining_rule_with_an_unknown_field_is_refused_naming_it_and_the_fields_and_saves_nothing(
    api_as, superadmin, plan_of_three
):
    plan, _ = plan_of_three
    client = api_as(superadmin)

    response = client.client.put(
        f"/api/v1/learning-plans/{plan.pk}/retraining-rule",
        {"valid_for_months": 12, "windw_days": 400},
        content_type="application/json",
        headers=client.headers,
    )

    message = refused(response)
    assert message.startswith("Unknown field windw_days (the fields are: valid_for_months, anchor, ")
    assert not RetrainingRule.objects.exists()


def test_a_confirmation_with_an_unknown_field_is_refused_naming_it_and_starts_nothing(
    api_as, superadmin, plan_of_three, settings
):
    settings.RETRAINING_CONFIRM_OVER = -1  # every run waits for its confirmation
    plan, _ = plan_of_three
    RetrainingRule.objects.create(learning_plan=plan, valid_for_months=12, user_statuses=["active"])
    client = api_as(superadmin)
    run = client.post(f"/api/v1/learning-plans/{plan.pk}/retraining-runs").json()["data"]
    assert run["status"] == "awaiting_confirmation"

    message = refused(client.post(f"/api/v1/retraining-runs/{run['id']}/confirm", {"count": 0, "force": True}))

    assert message == "Unknown field force (the fields are: count). Nothing was changed."
    assert RetrainingRun.objects.get(pk=run["id"]).status == RetrainingRun.Status.AWAITING_CONFIRMATION
    assert not AuditEvent.objects.filter(action="retraining_run.confirmed").exists()


def test_every_request_body_of_the_api_refuses_unknown_fields_in_the_openapi_document(api_as, superadmin):
    document = api_as(superadmin).get("/api/v1/openapi.json").json()
    bodies = [  # the JSON bodies (a file upload is multipart: its fields are read one by one)
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for path in document["paths"].values()
        for operation in path.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]

    assert {"ArchiveIn", "RetrainingRuleIn", "ConfirmIn"} <= set(bodies)
    assert {name: document["components"]["schemas"][name].get("additionalProperties") for name in bodies} == {
        name: False for name in bodies
    }
