"""Fixtures shared by the whole suite."""

import os

import pytest

from lms_admin.web.limits import KEY_PREFIX, redis_connection
from tests.factories import PowerUserFactory, SuperadminFactory, UserFactory

pytest_plugins = ["tests.workers"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Real hashing costs ~1 s per user on a busy 2-core machine; the hash algorithm is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superadmin(db):
    return SuperadminFactory(username="root_admin")


@pytest.fixture
def power_user(db):
    return PowerUserFactory(username="pu")


@pytest.fixture
def learner(db):
    return UserFactory(username="learner")


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Counters of failures per address and export slots live in Redis, outside the test's transaction: each test
    starts without any, and leaves none behind."""

    def clear() -> None:
        connection = redis_connection()
        for key in connection.scan_iter(f"{KEY_PREFIX}*"):
            connection.delete(key)

    clear()
    yield
    clear()
