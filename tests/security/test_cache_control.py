"""`Cache-Control: private, no-store` on every answer to a signed-in user (issue 17): personal data must not stay in
a shared cache or on the browser's disk."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.cache import get_max_age

from lms_admin.accounts.tokens import create_api_token

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def kept_from_caches(response) -> bool:
    return {"private", "no-store"} <= directives(response)


def test_a_page_a_csv_and_both_certificates_are_kept_from_caches(world):
    client = world.client("superadmin")
    answers = {
        "page": client.get(reverse("archive:archived_list", args=[world.plan.pk])),
        "csv": client.get(reverse("archive:archived_export", args=[world.plan.pk])),
        "live certificate": client.get(reverse("enrollments:certificate_download", args=[world.certificate.pk])),
        "archived certificate": client.get(reverse("archive:archived_certificate", args=[world.record.pk])),
    }

    assert {name: response.status_code for name, response in answers.items()} == dict.fromkeys(answers, 200)
    assert [name for name, response in answers.items() if not kept_from_caches(response)] == []
    assert answers["live certificate"]["Content-Type"] == "application/pdf"


def test_an_htmx_partial_and_an_error_page_of_a_signed_in_user_too(world):
    client = world.client("power_assigned")

    partial = client.get(reverse("enrollments:plan_list"), headers={"HX-Request": "true"})
    hidden = client.get(reverse("enrollments:plan_enrollments", args=[world.other_plan.pk]))

    assert (partial.status_code, hidden.status_code) == (200, 404)
    assert kept_from_caches(partial) and kept_from_caches(hidden)


def test_api_json_is_kept_from_caches_with_a_token_and_with_the_session(world):
    _, token = create_api_token(user=world.users["superadmin"], name="tests")
    url = reverse("api:get_archived_enrollment", args=[world.record.pk])

    with_token = world.client("anonymous").get(url, headers={"Authorization": f"Bearer {token}"})
    with_session = world.client("superadmin").get(url)

    assert (with_token.status_code, with_session.status_code) == (200, 200)
    assert kept_from_caches(with_token) and kept_from_caches(with_session)


def test_what_anonymous_callers_get_carries_no_such_header(world):
    refused = world.client("anonymous").get(reverse("api:get_archived_enrollment", args=[world.record.pk]))

    assert refused.status_code == 401
    assert "no-store" not in directives(refused) and get_max_age(refused) is None
