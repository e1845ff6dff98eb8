"""delete_archived_enrollments (SPEC §4.8), the service behind DELETE archived-enrollments/{id}: set-based."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive.models import ArchivedCourseEnrollment, ArchivedPlanEnrollment
from archive.services import archive_enrollments, delete_archived_enrollments
from enrollments.models import LearningPlan
from enrollments.services import enroll_user
from lms_admin.audit.models import AuditEvent
from tests.factories import PowerUserFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db


def archived_plan(learners: int, actor) -> LearningPlan:
    plan = make_plan(courses=2, materials_per_course=1)
    ids = [enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(learners)]
    outcome = archive_enrollments(enrollment_ids=ids, actor=actor, mode="unenroll", notify=False)
    assert outcome.counts == {"archived": learners}
    return plan


def deletion_queries(plan: LearningPlan, actor) -> int:
    plan.refresh_from_db()
    with CaptureQueriesContext(connection) as queries:
        deleted = delete_archived_enrollments(
            archives=ArchivedPlanEnrollment.objects.filter(learning_plan=plan), actor=actor
        )
    assert deleted == plan.archived_count
    return len(queries)


def test_deleting_many_records_costs_the_same_queries_as_deleting_a_few(superadmin):
    small, large = archived_plan(2, superadmin), archived_plan(12, superadmin)

    assert deletion_queries(small, superadmin) == deletion_queries(large, superadmin)

    assert not ArchivedPlanEnrollment.objects.exists()
    assert not ArchivedCourseEnrollment.objects.exists()
    assert LearningPlan.objects.get(pk=large.pk).archived_count == 0
    assert AuditEvent.objects.filter(action="archived_enrollment.delete").count() == 14


def test_only_superadmins_delete_and_a_refusal_deletes_nothing(superadmin):
    plan = archived_plan(2, superadmin)
    power = PowerUserFactory()
    plan.power_users.add(power)

    with pytest.raises(PermissionDenied):
        delete_archived_enrollments(archives=ArchivedPlanEnrollment.objects.all(), actor=power)

    assert ArchivedPlanEnrollment.objects.count() == 2
    assert LearningPlan.objects.get(pk=plan.pk).archived_count == 2
    assert not AuditEvent.objects.filter(action="archived_enrollment.delete").exists()
