"""Login throttling (SPEC §2, issue 7): 5 failures for a username + address lock that pair out for 15 minutes."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import SuperadminFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
LOCKED = "Too many failed sign-in attempts"


@pytest.fixture
def alice(db):
    user = SuperadminFactory(username="alice", is_staff=True)
    user.set_password("correct horse")
    user.save()
    return user


def sign_in(client, url, username, password, ip="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, url, times, username="alice", ip="10.0.0.1"):
    return [sign_in(client, url, username, "wrong", ip).status_code for _ in range(times)]


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_the_sixth_attempt_is_refused_even_with_the_right_password(client, alice, url):
    assert fail(client, url, 4) == [200, 200, 200, 200]  # the form again, with its error
    fifth = sign_in(client, url, "alice", "wrong")
    assert fifth.status_code == 429
    assert LOCKED in fifth.content.decode()

    sixth = sign_in(client, url, "alice", "correct horse")

    assert sixth.status_code == 429
    body = sixth.content.decode()
    assert LOCKED in body and "blocked for 15 minutes" in body
    assert not signed_in(client)


def test_the_failures_are_kept_in_the_database(client, alice):
    fail(client, LOGIN, 5)

    attempt = AccessAttempt.objects.get(username="alice", ip_address="10.0.0.1")
    assert attempt.failures_since_start == 5


def test_another_username_from_the_same_address_is_not_blocked(client, alice):
    bob = UserFactory(username="bob")
    bob.set_password("bobs password")
    bob.save()
    fail(client, LOGIN, 6)

    response = sign_in(client, LOGIN, "bob", "bobs password")

    assert response.status_code == 302
    assert signed_in(client)


def test_the_same_username_from_another_address_is_not_blocked(client, alice):
    fail(client, LOGIN, 6, ip="10.0.0.1")

    response = sign_in(client, LOGIN, "alice", "correct horse", ip="10.0.0.2")

    assert response.status_code == 302
    assert signed_in(client)


def test_failures_on_the_login_page_count_for_the_admin_login_too(client, alice):
    fail(client, LOGIN, 5)

    response = sign_in(client, ADMIN_LOGIN, "alice", "correct horse")

    assert response.status_code == 429
    assert not signed_in(client)


def test_the_lockout_ends_after_15_minutes(client, alice):
    fail(client, LOGIN, 5)
    assert sign_in(client, LOGIN, "alice", "correct horse").status_code == 429
    # Fifteen minutes pass (and a second): the last failure is now that old.
    AccessAttempt.objects.update(
        attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=15, seconds=1)
    )

    response = sign_in(client, LOGIN, "alice", "correct horse")

    assert response.status_code == 302
    assert signed_in(client)


def test_attempts_during_the_lockout_do_not_extend_it(client, alice):
    fail(client, LOGIN, 5)
    locked_at = AccessAttempt.objects.get().attempt_time

    fail(client, LOGIN, 3)

    assert AccessAttempt.objects.get().attempt_time == locked_at


def test_a_success_before_the_limit_starts_the_count_again(client, alice):
    fail(client, LOGIN, 4)
    assert sign_in(client, LOGIN, "alice", "correct horse").status_code == 302
    client.logout()

    fail(client, LOGIN, 4)
    response = sign_in(client, LOGIN, "alice", "correct horse")

    assert response.status_code == 302


def test_logins_without_a_request_are_not_throttled(client, alice):
    # Management commands, the shell and the test client's login() have no address to count.
    assert client.login(username="alice", password="correct horse")
    client.logout()
    assert not client.login(username="alice", password="wrong")
