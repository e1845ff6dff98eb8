"""Fixtures for the JSON API tests: token-authenticated clients and a plan with archived records."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments
from enrollments.models import IssuedCertificate, LearningPlan, LearningPlanEnrollment, TrackingStatus
from enrollments.services import enroll_user, record_material_progress
from lms_admin.accounts.models import User
from lms_admin.accounts.tokens import create_api_token
from tests.factories import ManagerLinkFactory, UserFactory, make_plan

PDF_BYTES = b"%PDF-1.4\n% archived certificate of the API tests\n%%EOF\n"


class ApiClient:
    """A Django test client that sends `Authorization: Bearer <token>` for one user (or nothing when anonymous)."""

    def __init__(self, user: User | None = None, token: str | None = None) -> None:
        self.client = Client()
        self.user = user
        self.headers = {}
        if user is not None:
            token = token or create_api_token(user=user, name="tests")[1]
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, params: dict | None = None):
        return self.client.get(path, params or {}, headers=self.headers)

    def post(self, path: str, body=None):
        return self.client.post(
            path, body if body is not None else {}, content_type="application/json", headers=self.headers
        )

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)

    def request(self, method: str, path: str):
        return self.client.generic(method, path, headers=self.headers)


@pytest.fixture
def api_as():
    """api_as(user) → an ApiClient authenticated with a new token of that user; api_as(None) → anonymous."""
    return lambda user=None: ApiClient(user)


def complete_plan(user: User, plan: LearningPlan, *, now: datetime.datetime | None = None) -> None:
    for plan_course in plan.plan_courses.select_related("course"):
        for material in plan_course.course.materials.all():
            record_material_progress(user=user, material=material, status=TrackingStatus.COMPLETED, now=now)


def give_certificate_file(user: User, plan: LearningPlan) -> IssuedCertificate:
    """Stand-in for the rendering job: store a small PDF on the issued certificate."""
    certificate = IssuedCertificate.objects.get(user=user, learning_plan=plan)
    certificate.file.save(f"cert-{user.pk}.pdf", ContentFile(PDF_BYTES), save=False)
    certificate.rendered_at = timezone.now()
    certificate.save(update_fields=["file", "rendered_at"])
    return certificate


@dataclass
class ArchivedWorld:
    plan: LearningPlan
    other_plan: LearningPlan
    superadmin: User
    manager: User
    director: User
    ada: User  # a direct report of `manager`, completed with a certificate, archived first
    bob: User  # a direct report of `manager`, deactivated, archived last
    cyd: User  # nobody's report, archived in the middle
    ada_record: ArchivedPlanEnrollment
    bob_record: ArchivedPlanEnrollment
    cyd_record: ArchivedPlanEnrollment
    other_record: ArchivedPlanEnrollment  # ada's record in `other_plan`


def archive_one(enrollment: LearningPlanEnrollment, actor: User, **options) -> ArchivedPlanEnrollment:
    options.setdefault("mode", "reenroll")
    outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=actor, **options)
    (_, result, archive_id, message) = outcome.items[0]
    assert result == "archived", message
    return ArchivedPlanEnrollment.objects.get(pk=archive_id)


@pytest.fixture
def archived_world(superadmin) -> ArchivedWorld:
    """One plan with three archived records on different days, a manager of two of the learners and a director."""
    plan = make_plan(courses=2, materials_per_course=2, template=True, title="Safety basics", code="SAFE")
    other_plan = make_plan(courses=1, materials_per_course=1, title="Other plan", code="OTHER")
    archiver = UserFactory(username="archiver", level="superadmin")
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace", language="fr")
    bob = UserFactory(username="bob", first_name="Bob", last_name="Builder")
    cyd = UserFactory(username="cyd", first_name="Cyd", last_name="Charisse")
    manager = UserFactory(username="manager")
    director = UserFactory(username="director")
    ManagerLinkFactory(manager=manager, employee=ada)
    ManagerLinkFactory(manager=manager, employee=bob)
    ManagerLinkFactory(manager=director, employee=manager)

    enrollments = {user: enroll_user(user=user, learning_plan=plan, enrolled_by=superadmin) for user in (ada, bob, cyd)}
    complete_plan(ada, plan)
    give_certificate_file(ada, plan)
    ada_record = archive_one(enrollments[ada], superadmin)
    cyd_record = archive_one(enrollments[cyd], archiver, mode="unenroll", notify=False)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    bob.refresh_from_db()
    bob_record = archive_one(enrollments[bob], superadmin, reset_tracking=True)
    other_record = archive_one(enroll_user(user=ada, learning_plan=other_plan), superadmin)

    # Spread the archive dates over three days so the date filters and the order have something to show.
    base = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
    for days, record in ((0, ada_record), (1, cyd_record), (2, bob_record)):
        ArchivedPlanEnrollment.objects.filter(pk=record.pk).update(archived_at=base + datetime.timedelta(days=days))
    for record in (ada_record, bob_record, cyd_record):
        record.refresh_from_db()
    return ArchivedWorld(
        plan, other_plan, superadmin, manager, director, ada, bob, cyd, ada_record, bob_record, cyd_record, other_record
    )
