"""Limits per address, whatever the username or token (issue 17): password spraying across usernames and bearer
token guessing from one address are refused with 429 and Retry-After once 20 fail within 15 minutes."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client
from django.urls import reverse

from lms_admin.accounts.throttle import SIGN_IN_FAILURES
from lms_admin.accounts.tokens import create_api_token
from lms_admin.web.api import TOKEN_FAILURES
from lms_admin.web.limits import redis_connection
from scripts.processes import wait_for
from tests.factories import SuperadminFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
SPRAYER = "10.66.0.1"
NEIGHBOUR = "10.66.0.2"
WINDOW = 15 * 60


@pytest.fixture
def alice(db):
    user = SuperadminFactory(username="alice", is_staff=True)
    user.set_password("correct horse")
    user.save()
    return user


def sign_in(client, username, password, ip, url=LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def spray(client, ip, count=25):
    """One wrong password for each of `count` usernames, alternating between our login page and the admin's."""
    return [
        sign_in(client, f"user{n}", "Summer2025!", ip, url=(LOGIN, ADMIN_LOGIN)[n % 2]).status_code
        for n in range(count)
    ]


def test_spraying_25_usernames_from_one_address_is_refused_after_20(client, alice):
    statuses = spray(client, SPRAYER)

    assert statuses == [200] * 19 + [429] * 6
    refused = sign_in(client, "user99", "whatever", SPRAYER)
    assert "Too many failed sign-ins from your address" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= WINDOW


def test_the_right_password_from_that_address_is_refused_too(client, alice):
    spray(client, SPRAYER, count=20)

    for url in (LOGIN, ADMIN_LOGIN):
        response = sign_in(client, "alice", "correct horse", SPRAYER, url=url)

        assert response.status_code == 429
        assert "Retry-After" in response
    assert not signed_in(client)


def test_another_address_still_signs_in(client, alice):
    spray(client, SPRAYER)

    response = sign_in(client, "alice", "correct horse", NEIGHBOUR)

    assert response.status_code == 302
    assert signed_in(client)


def test_refused_attempts_do_not_extend_the_window(client, alice):
    spray(client, SPRAYER, count=20)
    key = SIGN_IN_FAILURES.key(SPRAYER)
    redis_connection().expire(key, 100)

    spray(client, SPRAYER, count=5)

    assert 0 < redis_connection().ttl(key) <= 100


def test_the_address_signs_in_again_once_the_window_is_over(client, alice):
    spray(client, SPRAYER, count=20)
    assert sign_in(client, "alice", "correct horse", SPRAYER).status_code == 429
    # The window ends (its counter expires) rather than waiting 15 minutes.
    redis_connection().pexpire(SIGN_IN_FAILURES.key(SPRAYER), 1)
    wait_for(lambda: not redis_connection().exists(SIGN_IN_FAILURES.key(SPRAYER)), timeout=5, message="no expiry")

    response = sign_in(client, "alice", "correct horse", SPRAYER)

    assert response.status_code == 302
    assert signed_in(client)


def test_the_username_lockout_says_when_to_retry_too(client, alice):
    statuses = [sign_in(client, "alice", "wrong", SPRAYER).status_code for _ in range(5)]

    assert statuses == [200] * 4 + [429]
    response = sign_in(client, "alice", "correct horse", SPRAYER)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= WINDOW


# --- bearer tokens -----------------------------------------------------------------------------------------


def call_api(token, ip):
    url = reverse("api:get_job", args=[1])
    return Client().get(url, headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=ip)


def test_guessing_25_tokens_from_one_address_is_refused_after_20(db):
    answers = [call_api(secrets.token_urlsafe(32), SPRAYER) for _ in range(25)]

    assert [a.status_code for a in answers] == [401] * 20 + [429] * 5
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 0 < int(refused["Retry-After"]) <= WINDOW


def test_a_right_token_from_that_address_is_refused_while_another_address_goes_through(alice):
    _, token = create_api_token(user=alice, name="tests")
    for _ in range(20):
        call_api(secrets.token_urlsafe(32), SPRAYER)

    from_sprayer = call_api(token, SPRAYER)
    from_neighbour = call_api(token, NEIGHBOUR)

    assert from_sprayer.status_code == 429  # or the answers would tell a right guess
    assert from_neighbour.status_code == 404  # authenticated: there is simply no job 1
    assert redis_connection().exists(TOKEN_FAILURES.key(SPRAYER))
