"""A small world for the archive pages: one plan with archived history, people in every role."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from archive.services import archive_enrollments, start_archive_job
from enrollments.models import IssuedCertificate, LearningPlan, LearningPlanEnrollment
from lms_admin.accounts.models import User
from tests.factories import ManagerLinkFactory, PowerUserFactory, SuperadminFactory, UserFactory, make_plan

PDF = b"%PDF-1.4\n% certificate of Rita Report\n%%EOF\n"


@dataclass
class ArchiveWorld:
    superadmin: User
    power_user: User
    other_power_user: User
    learner: User
    manager: User
    director: User
    report: User
    plan: LearningPlan
    other_plan: LearningPlan
    enrollment: LearningPlanEnrollment
    archived: ArchivedPlanEnrollment
    job: ArchiveJob


def build_world() -> ArchiveWorld:
    superadmin = SuperadminFactory(username="root_admin")
    power_user = PowerUserFactory(username="pu")
    other_power_user = PowerUserFactory(username="pu_other")
    learner = UserFactory(username="learner")
    director = UserFactory(username="director")
    manager = UserFactory(username="manager")
    report = UserFactory(username="rita", first_name="Rita", last_name="Report")
    ManagerLinkFactory(manager=director, employee=manager)
    ManagerLinkFactory(manager=manager, employee=report)

    plan = make_plan(courses=2, materials_per_course=2, template=True, title="Forklift safety")
    plan.power_users.add(power_user)
    other_plan = make_plan(courses=1, materials_per_course=1, title="Other plan")
    other_plan.power_users.add(other_power_user)

    enrollment = LearningPlanEnrollment.objects.create(
        user=report, learning_plan=plan, status=2, completed_at=timezone.now() - datetime.timedelta(days=3)
    )
    certificate = IssuedCertificate.objects.create(user=report, learning_plan=plan, rendered_at=timezone.now())
    certificate.file.save("certificate.pdf", ContentFile(PDF))
    outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    archived = ArchivedPlanEnrollment.objects.get(pk=outcome.items[0].archive_id)

    others = [LearningPlanEnrollment.objects.create(user=UserFactory(), learning_plan=plan) for _ in range(2)]
    job = start_archive_job(
        learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=[e.pk for e in others]
    )
    return ArchiveWorld(
        superadmin, power_user, other_power_user, learner, manager, director, report, plan, other_plan,
        enrollment, archived, job,
    )  # fmt: skip


@pytest.fixture(name="world")
def world_fixture(db) -> ArchiveWorld:
    return build_world()
