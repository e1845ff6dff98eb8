"""One small world every security test checks against: a plan, the people of SPEC §2's roles, and one
object of every kind (live certificate, archived record with a certificate, background job)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from archive.services import archive_enrollments, start_archive_job
from enrollments.models import IssuedCertificate, LearningPlan, LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.accounts.models import User
from tests.factories import ManagerLinkFactory, PowerUserFactory, SuperadminFactory, UserFactory, make_plan

ROLES = ("anonymous", "learner", "power_assigned", "power_unassigned", "manager", "director", "superadmin", "staff")


@dataclass
class World:
    users: dict[str, User]
    plan: LearningPlan  # assigned to power_assigned only
    other_plan: LearningPlan  # assigned to nobody
    enrollment: LearningPlanEnrollment  # an active enrollment of `plan` (for the archive pop-up)
    other_enrollment: LearningPlanEnrollment  # an active enrollment of `other_plan`
    certificate: IssuedCertificate  # a rendered live certificate in `plan`
    other_certificate: IssuedCertificate  # a rendered live certificate in `other_plan`
    record: ArchivedPlanEnrollment  # employee's archived enrollment in `plan`, with its certificate
    other_record: ArchivedPlanEnrollment  # a stranger's archived enrollment in `other_plan`
    job: ArchiveJob  # a queued job on `plan`

    def client(self, role: str, **kwargs) -> Client:
        client = Client(**kwargs)
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


def _certified(user: User, plan: LearningPlan) -> tuple[LearningPlanEnrollment, IssuedCertificate]:
    """An enrollment Completed with a rendered certificate (the PDF itself is not under test here)."""
    enrollment = enroll_user(user=user, learning_plan=plan)
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=2, completed_at=timezone.now())
    certificate = IssuedCertificate.objects.create(user=user, learning_plan=plan, rendered_at=timezone.now())
    certificate.file.save("certificate.pdf", ContentFile(b"%PDF-1.4 " + user.username.encode()))
    return enrollment, certificate


@pytest.fixture
def world(db) -> World:
    superadmin = SuperadminFactory(username="root_admin")
    power_assigned = PowerUserFactory(username="pu_in")
    power_unassigned = PowerUserFactory(username="pu_out")
    learner = UserFactory(username="learner")
    employee = UserFactory(username="employee")
    manager = UserFactory(username="manager")
    director = UserFactory(username="director")
    staff = UserFactory(username="support", is_staff=True)
    stranger = UserFactory(username="stranger")
    ManagerLinkFactory(manager=manager, employee=employee)
    ManagerLinkFactory(manager=director, employee=manager)

    plan = make_plan(courses=1, materials_per_course=1, title="Plan A", code="PLAN-A", template=True)
    plan.power_users.add(power_assigned)
    other_plan = make_plan(courses=1, materials_per_course=1, title="Plan B", code="PLAN-B", template=True)

    archived_enrollment, _ = _certified(employee, plan)
    other_archived, _ = _certified(stranger, other_plan)
    archive_enrollments(enrollment_ids=[archived_enrollment.pk], actor=superadmin, mode="reenroll", notify=False)
    archive_enrollments(enrollment_ids=[other_archived.pk], actor=superadmin, mode="reenroll", notify=False)
    _, certificate = _certified(learner, plan)
    other_enrollment, other_certificate = _certified(UserFactory(username="other_learner"), other_plan)
    enrollment = enroll_user(user=UserFactory(username="newcomer"), learning_plan=plan)
    job = start_archive_job(
        learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=[enrollment.pk, archived_enrollment.pk]
    )
    return World(
        users={
            "learner": learner,
            "power_assigned": power_assigned,
            "power_unassigned": power_unassigned,
            "manager": manager,
            "director": director,
            "superadmin": superadmin,
            "staff": staff,
        },
        plan=plan,
        other_plan=other_plan,
        enrollment=enrollment,
        other_enrollment=other_enrollment,
        certificate=certificate,
        other_certificate=other_certificate,
        record=ArchivedPlanEnrollment.objects.get(learning_plan=plan),
        other_record=ArchivedPlanEnrollment.objects.get(learning_plan=other_plan),
        job=job,
    )
