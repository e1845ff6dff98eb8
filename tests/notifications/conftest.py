"""Fixtures of the notification tests: the default rules, a plan, and Django's in-memory mail backend."""

from __future__ import annotations

import importlib

import pytest
from django.core import mail

from lms_admin.notifications.models import NotificationRule
from tests.factories import make_plan


def default_rules() -> None:
    """The six rules of the data migration (transactional tests flush them with every table)."""
    rules = importlib.import_module("lms_admin.notifications.migrations.0002_default_rules").DEFAULT_RULES
    for event, (subject, body) in rules.items():
        NotificationRule.objects.get_or_create(
            event=event, defaults={"subject_template": subject, "body_template": body}
        )


@pytest.fixture
def rules(db):
    default_rules()


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []


@pytest.fixture
def plan(db):
    return make_plan(courses=2, materials_per_course=1, title="Ladder safety")
