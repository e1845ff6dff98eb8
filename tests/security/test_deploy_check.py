"""Production settings (SPEC §6): HTTPS assumed, secure cookies, and the headers every response carries.

`manage.py check --deploy --fail-level WARNING` itself runs in tests/test_settings.py; here are the values
behind it, read from a fresh interpreter with DEBUG off, and the headers as a browser receives them.
"""

import json
import secrets

import pytest
from django.urls import reverse

from tests.test_settings import manage_in_production

PRODUCTION_VALUES = """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in [
    "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY", "AXES_ENABLED", "AXES_FAILURE_LIMIT",
]} | {"CSP": " ".join(" ".join(v) for v in s.CONTENT_SECURITY_POLICY["DIRECTIVES"].values()),
      "MIDDLEWARE": s.MIDDLEWARE}))
"""


def test_production_settings_assume_https_and_keep_every_protection_on():
    result = manage_in_production(
        "shell",
        "-c",
        PRODUCTION_VALUES,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="lms.example.com",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])

    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert (values["X_FRAME_OPTIONS"], values["SECURE_CONTENT_TYPE_NOSNIFF"]) == ("DENY", True)
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert (values["AXES_ENABLED"], values["AXES_FAILURE_LIMIT"]) == (True, 5)
    assert "'unsafe-inline'" not in values["CSP"] and "'unsafe-eval'" not in values["CSP"]
    for middleware in ("csp.middleware.CSPMiddleware", "axes.middleware.AxesMiddleware"):
        assert middleware in values["MIDDLEWARE"]


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["accounts:login", "enrollments:plan_list", "admin:login", "api:openapi-json"])
def test_every_response_carries_the_security_headers(client, superadmin, url_name):
    client.force_login(superadmin)

    response = client.get(reverse(url_name))

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy


@pytest.mark.django_db
def test_an_api_error_answer_carries_them_too(client):
    response = client.get(reverse("api:get_job", args=[1]))

    assert response.status_code == 401
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
