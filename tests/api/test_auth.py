"""Who may call the API and how (SPEC §2, §7): tokens, the browser session with CSRF, the order of answers."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from lms_admin.accounts.models import ApiToken
from lms_admin.accounts.tokens import create_api_token, hash_token
from tests.api.conftest import ApiClient
from tests.factories import ManagerLinkFactory, SuperadminFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db

JOB_URL = "/api/v1/jobs/1"


def error_of(response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return response.status_code, body["error"]["code"]


def test_no_credentials_answers_401_unauthenticated_on_every_method():
    client = ApiClient()
    assert error_of(client.get(JOB_URL)) == (401, "unauthenticated")
    assert error_of(client.post("/api/v1/learning-plans/1/archive", {"mode": "x"})) == (401, "unauthenticated")
    assert error_of(client.delete("/api/v1/archived-enrollments/1")) == (401, "unauthenticated")


def test_an_unknown_or_revoked_token_answers_401(superadmin):
    token, raw = create_api_token(user=superadmin)
    assert error_of(ApiClient(token="not-a-token").get(JOB_URL)) == (401, "unauthenticated")
    assert ApiClient(token=raw).get(JOB_URL).status_code == 404  # authenticated: the job does not exist
    token.revoked_at = token.created_at
    token.save()
    assert error_of(ApiClient(token=raw).get(JOB_URL)) == (401, "unauthenticated")


def test_a_deactivated_users_token_answers_401(superadmin):
    _, raw = create_api_token(user=superadmin)
    superadmin.is_active = False
    superadmin.save()
    assert error_of(ApiClient(token=raw).get(JOB_URL)) == (401, "unauthenticated")


def test_a_learner_who_manages_nobody_gets_403_before_anything_else(learner):
    client = ApiClient(learner)
    assert error_of(client.get(JOB_URL)) == (403, "forbidden")
    assert error_of(client.post("/api/v1/learning-plans/1/archive", {"bad": "body"})) == (403, "forbidden")


def test_tokens_are_stored_hashed_and_note_their_last_use(superadmin):
    token, raw = create_api_token(user=superadmin, name="integration")
    assert len(raw) >= 40
    assert token.key_prefix == raw[:8]
    assert token.key_hash == hash_token(raw) != raw
    assert not ApiToken.objects.filter(key_hash=raw).exists()
    assert token.last_used_at is None

    ApiClient(token=raw).get(JOB_URL)

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_create_api_token_prints_the_token_alone_on_one_line(superadmin, capsys):
    call_command("create_api_token", superadmin.username, "--name", "ci")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    raw = out.strip()
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert (token.user, token.name) == (superadmin, "ci")
    assert ApiClient(token=raw).get(JOB_URL).status_code == 404


def test_create_api_token_refuses_an_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_token", "nobody")


def test_the_browser_session_works_and_unsafe_methods_need_the_csrf_token(superadmin):
    plan = make_plan(courses=1, materials_per_course=1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(superadmin)
    assert client.get(f"/api/v1/learning-plans/{plan.pk}/enrollments").status_code == 200

    response = client.post(
        f"/api/v1/learning-plans/{plan.pk}/archive", {"mode": "reenroll"}, content_type="application/json"
    )
    assert error_of(response) == (403, "forbidden")
    assert "CSRF" in response.json()["error"]["message"]

    client.get(reverse("admin:login"))  # any page that sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/learning-plans/{plan.pk}/archive",
        {"mode": "reenroll"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert error_of(response) == (400, "invalid_selection")  # past CSRF: the body is what is wrong now


def test_a_bearer_token_needs_no_csrf_token(superadmin):
    plan = make_plan(courses=1, materials_per_course=1)
    response = ApiClient(superadmin).post(f"/api/v1/learning-plans/{plan.pk}/archive", {"mode": "reenroll"})
    assert error_of(response) == (400, "invalid_selection")


def test_a_wrong_method_and_an_unknown_path_answer_in_the_error_shape(superadmin):
    client = ApiClient(superadmin)
    response = client.request("PUT", JOB_URL)
    assert error_of(response) == (405, "method_not_allowed")
    assert response["Allow"] == "GET"
    assert error_of(client.get("/api/v1/no-such-thing")) == (404, "not_found")


def test_openapi_and_docs_are_served_without_a_cdn():
    client = Client()
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/v1/learning-plans/{plan_id}/enrollments",
        "/api/v1/learning-plans/{plan_id}/archived-enrollments",
        "/api/v1/archived-enrollments/{archive_id}",
        "/api/v1/learning-plans/{plan_id}/archive",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/items",
        "/api/v1/jobs/{job_id}/cancel",
    } <= set(paths)
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_tokens_are_listed_and_revocable_in_the_django_admin(client):
    support = SuperadminFactory(is_staff=True, is_superuser=True)
    token, raw = create_api_token(user=support, name="to revoke")
    client.force_login(support)

    listing = client.get(reverse("admin:accounts_apitoken_changelist"))
    assert listing.status_code == 200
    assert token.key_prefix in listing.content.decode()

    response = client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiClient(token=raw).get(JOB_URL).status_code == 401


def test_a_manager_may_read_the_api_but_sees_no_jobs(superadmin):
    manager = UserFactory()
    ManagerLinkFactory(manager=manager, employee=UserFactory())
    assert error_of(ApiClient(manager).get(JOB_URL)) == (404, "not_found")
