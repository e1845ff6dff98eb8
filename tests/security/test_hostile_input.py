"""Hostile input answers a clear refusal, never a 500 or a silently cut file (issue 17, SPEC §8): a NUL or bytes
that are not UTF-8 in any parameter, a body over the size limit."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from enrollments.models import LearningPlanEnrollment
from lms_admin.accounts.tokens import create_api_token

pytestmark = pytest.mark.django_db

REFUSED = "holds a NUL character or bytes that are not UTF-8 text"


def search_boxes(world) -> dict[str, str]:
    """Every page and download with a search box, by what a person would call it."""
    plan = world.plan.pk
    return {
        "plans list": reverse("enrollments:plan_list") + "?search=",
        "Active view": reverse("enrollments:plan_enrollments", args=[plan]) + "?search=",
        "Archived view": reverse("archive:archived_list", args=[plan]) + "?search=",
        "merge page": reverse("archive:merge_users") + "?q=",
        "archived export": reverse("archive:archived_export", args=[plan]) + "?search=",
        "selection CSV": reverse("archive:bulk_preview_csv", args=[plan]) + "?select_all=1&search=",
    }


@pytest.mark.parametrize(
    "where", ["plans list", "Active view", "Archived view", "merge page", "archived export", "selection CSV"]
)
def test_a_nul_or_bytes_that_are_not_utf8_in_a_search_answer_400_with_a_message(world, where):
    client = world.client("superadmin")
    url = search_boxes(world)[where]
    assert client.get(url + "employee").status_code == 200  # the same search box, with text

    for bad in ("%00", "employee%00", "%FF", "%C3%28"):
        response = client.get(url + bad)

        assert response.status_code == 400, bad
        assert not response.streaming  # not a CSV cut short: no CSV at all
        body = response.content.decode()
        assert REFUSED in body and "Invalid request" in body


def test_a_nul_in_a_parameter_name_or_a_form_field_is_refused_and_changes_nothing(world):
    client = world.client("superadmin")
    url = reverse("archive:archive_enrollment", args=[world.plan.pk, world.enrollment.pk])

    named = client.get(reverse("enrollments:plan_list") + "?sea%00rch=x")
    posted = client.post(url, {"mode": "unenroll\x00", "round": "1"})

    assert named.status_code == 400 and "“search”" in named.content.decode()
    assert posted.status_code == 400 and "“mode”" in posted.content.decode()
    assert not ArchivedPlanEnrollment.objects.filter(enrollment_id=world.enrollment.pk).exists()
    assert LearningPlanEnrollment.objects.filter(pk=world.enrollment.pk).exists()


def test_the_api_answers_a_nul_in_a_filter_with_its_json_error(world):
    _, token = create_api_token(user=world.users["superadmin"], name="tests")
    url = reverse("api:list_plan_archived_enrollments", args=[world.plan.pk])

    response = world.client("anonymous").get(url + "?search=%00", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert REFUSED in response.json()["error"]["message"]


def test_a_10_mb_api_body_answers_413_and_archives_nothing(world):
    _, token = create_api_token(user=world.users["superadmin"], name="tests")
    body = json.dumps({"enrollment_ids": [world.enrollment.pk], "mode": "unenroll", "note": "x" * 10_000_000})

    response = world.client("anonymous").post(
        reverse("api:archive_plan_enrollments", args=[world.plan.pk]),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "over the limit of 1024 KB" in response.json()["error"]["message"]
    assert not ArchivedPlanEnrollment.objects.filter(enrollment_id=world.enrollment.pk).exists()
    assert ArchiveJob.objects.count() == 1  # the world's own job only


@pytest.mark.parametrize("size", [3_000_000, 11_000_000])  # over the form-field limit; over the body limit
def test_a_page_post_over_the_limit_answers_a_413_page_and_archives_nothing(world, size):
    client = world.client("superadmin")
    url = reverse("archive:archive_enrollment", args=[world.plan.pk, world.enrollment.pk])

    response = client.post(url, {"mode": "unenroll", "round": "1", "note": "x" * size})

    assert response.status_code == 413
    assert "Request too large" in response.content.decode()
    assert not ArchivedPlanEnrollment.objects.filter(enrollment_id=world.enrollment.pk).exists()
