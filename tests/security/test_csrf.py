"""CSRF (SPEC §8): every state-changing page and session-authenticated API call refuses a request without the
token (403, nothing changed) and accepts the same request with it. Bearer-token API calls need no CSRF token."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from lms_admin.accounts.models import ApiToken, User
from lms_admin.accounts.tokens import hash_token
from tests.archive.popup_forms import signed_key
from tests.security.conftest import World

pytestmark = pytest.mark.django_db


@dataclass
class Unsafe:
    """A state-changing request: who sends it, where, with what, and how to tell whether it changed anything."""

    role: str
    method: str
    url: Callable[[World], str]
    data: Callable[[World], dict]
    changed: Callable[[World], bool]
    api: bool = False


def record_gone(w: World) -> bool:
    return not ArchivedPlanEnrollment.objects.filter(pk=w.record.pk).exists()


def job_cancelled(w: World) -> bool:
    return ArchiveJob.objects.get(pk=w.job.pk).status in ("cancelled", "cancelling")


def newcomer_archived(w: World) -> bool:
    return ArchivedPlanEnrollment.objects.filter(enrollment_id=w.enrollment.pk).exists()


def second_job_started(w: World) -> bool:
    return ArchiveJob.objects.count() == 2


def learner_merged(w: World) -> bool:
    return User.objects.filter(username="newcomer", merged_into__isnull=False).exists()


UNSAFE: dict[str, Unsafe] = {
    "merge users page": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("archive:merge_users"),
        lambda w: {"kept": "learner", "merged": "newcomer", "step": "confirm"},
        learner_merged,
    ),
    "merge users admin action": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("admin:accounts_user_changelist"),
        lambda w: {
            "action": "merge_users",
            "_selected_action": [w.users["learner"].pk, User.objects.get(username="newcomer").pk],
            "kept": w.users["learner"].pk,
            "step": "confirm",
        },
        learner_merged,
    ),
    "archive one enrollment": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("archive:archive_enrollment", args=[w.plan.pk, w.enrollment.pk]),
        lambda w: {
            "mode": "reenroll",
            "notify": "",
            "round": w.enrollment.round,
            "request_key": signed_key(reverse("archive:archive_enrollment", args=[w.plan.pk, w.enrollment.pk])),
        },
        newcomer_archived,
    ),
    "archive a selection": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("archive:bulk_archive", args=[w.plan.pk]),
        lambda w: {
            "enrollment_ids": [w.enrollment.pk, w.record.enrollment_id],
            "mode": "reenroll",
            "request_key": signed_key(reverse("archive:bulk_archive", args=[w.plan.pk])),
        },
        second_job_started,
    ),
    "delete an archived record": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("archive:archived_delete", args=[w.record.pk]),
        lambda w: {"request_key": signed_key(reverse("archive:archived_delete", args=[w.record.pk]))},
        record_gone,
    ),
    "cancel a job": Unsafe(
        "superadmin", "POST", lambda w: reverse("archive:job_cancel", args=[w.job.pk]), lambda w: {}, job_cancelled
    ),
    "api: archive": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("api:archive_plan_enrollments", args=[w.plan.pk]),
        lambda w: {"enrollment_ids": [w.enrollment.pk], "mode": "reenroll", "notify": False},
        newcomer_archived,
        api=True,
    ),
    "api: delete an archived record": Unsafe(
        "superadmin",
        "DELETE",
        lambda w: reverse("api:delete_archived_enrollment", args=[w.record.pk]),
        lambda w: {},
        record_gone,
        api=True,
    ),
    "api: cancel a job": Unsafe(
        "superadmin",
        "POST",
        lambda w: reverse("api:cancel_job", args=[w.job.pk]),
        lambda w: {},
        job_cancelled,
        api=True,
    ),
}


def logged_in(world: World, role: str) -> Client:
    assert role == "superadmin"  # every state-changing action of the project is a superadmin's
    User.objects.filter(pk=world.users["superadmin"].pk).update(is_staff=True)  # for the admin action
    client = world.client(role, enforce_csrf_checks=True)
    client.get(reverse("archive:merge_users"))  # a page with a form sets the CSRF cookie
    assert "csrftoken" in client.cookies
    return client


def send(client: Client, case: Unsafe, world: World, token: str | None):
    url, data = case.url(world), case.data(world)
    if case.api:
        headers = {"HTTP_X_CSRFTOKEN": token} if token else {}
        return client.generic(case.method, url, json.dumps(data), content_type="application/json", **headers)
    if token:
        data = {**data, "csrfmiddlewaretoken": token}
    return client.post(url, data)


@pytest.mark.parametrize("case", list(UNSAFE))
def test_without_the_csrf_token_the_request_is_refused_and_nothing_changes(world, case):
    client = logged_in(world, UNSAFE[case].role)

    response = send(client, UNSAFE[case], world, token=None)

    assert response.status_code == 403
    assert not UNSAFE[case].changed(world)


@pytest.mark.parametrize("case", list(UNSAFE))
def test_with_the_csrf_token_the_same_request_goes_through(world, case):
    client = logged_in(world, UNSAFE[case].role)

    response = send(client, UNSAFE[case], world, token=client.cookies["csrftoken"].value)

    assert response.status_code < 400, response.content[:500]
    assert UNSAFE[case].changed(world)


@pytest.mark.parametrize(
    ("url_name", "data"),
    [("accounts:login", {"username": "learner", "password": "password"}), ("accounts:logout", {})],
)
def test_signing_in_and_out_need_the_token_too(world, url_name, data):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("accounts:login"))
    if url_name == "accounts:logout":
        client.force_login(world.users["learner"])

    response = client.post(reverse(url_name), data)

    assert response.status_code == 403
    assert ("_auth_user_id" in client.session) is (url_name == "accounts:logout")


def test_the_django_admin_login_needs_the_token(world):
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("admin:login"), {"username": "support", "password": "password"})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_bearer_token_calls_need_no_csrf_token(world):
    ApiToken.objects.create(user=world.users["superadmin"], key_prefix="tok12345", key_hash=hash_token("tok-secret"))
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        reverse("api:cancel_job", args=[world.job.pk]),
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer tok-secret",
    )

    assert response.status_code == 200
    assert job_cancelled(world)
