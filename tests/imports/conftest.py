"""Fixtures for archive imports: plans with enrolled learners, and a helper to validate a CSV text."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings

from archive.models import ArchiveImport
from archive.services.import_parsing import form_options
from archive.services.imports import validate_import
from enrollments.models import LearningPlan, LearningPlanEnrollment
from lms_admin.accounts.models import User
from tests.factories import UserFactory, make_plan
from tests.workers import empty_queues


@pytest.fixture(autouse=True)
def empty_job_queues() -> None:
    """Start from empty queues in our own Redis DB: an earlier test's jobs must not run here."""
    empty_queues(django_settings.REDIS_URL)


@dataclass
class World:
    plans: list[LearningPlan]
    users: list[User]

    def enrollment(self, user: User, plan: LearningPlan) -> LearningPlanEnrollment:
        return LearningPlanEnrollment.objects.get(user=user, learning_plan=plan)


@pytest.fixture
def world(db) -> World:
    """Two plans (codes SAFETY and FIRE) with no shared course; ann, bob and cec enrolled in both."""
    plans = [make_plan(code="SAFETY", title="Safety basics"), make_plan(code="FIRE", title="Fire drill")]
    users = [UserFactory(username=name, email=f"{name}@example.com") for name in ("ann", "bob", "cec")]
    for plan in plans:
        for user in users:
            LearningPlanEnrollment.objects.create(user=user, learning_plan=plan)
    return World(plans=plans, users=users)


def upload(actor: User, text: str | bytes, *, mode="reenroll", reset_tracking="false", notify="true", name="list.csv"):
    """Validate a CSV (text is encoded as UTF-8) with the given defaults: (import, created)."""
    data = text.encode() if isinstance(text, str) else text
    options = form_options(mode=mode, reset_tracking=reset_tracking, notify=notify)
    return validate_import(data=data, file_name=name, actor=actor, options=options)


def row_errors(archive_import: ArchiveImport) -> dict[int, str]:
    return dict(archive_import.rows.exclude(error="").values_list("line", "error"))
