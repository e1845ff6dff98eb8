"""Enrolling a learner with their history (SPEC §11): a learner who had an archived Completed round of the plan
starts from that round's certification date, so unenrolling and enrolling again never breaks the chain."""

from __future__ import annotations

import datetime

from enrollments.models import EnrollmentStatus, LearningPlan, LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.accounts.models import User

from ..models import ArchivedPlanEnrollment


def carried_certification(user: User, learning_plan: LearningPlan) -> datetime.date | None:
    """The certification date of the learner's latest archived Completed round of the plan, if any."""
    return (
        ArchivedPlanEnrollment.objects.filter(
            user=user,
            learning_plan=learning_plan,
            plan_status=EnrollmentStatus.COMPLETED,
            certified_until__isnull=False,
        )
        .order_by("-archived_at", "-id")
        .values_list("certified_until", flat=True)
        .first()
    )


def enroll_learner(
    *, user: User, learning_plan: LearningPlan, enrolled_by: User | None = None, now: datetime.datetime | None = None
) -> LearningPlanEnrollment:
    """`enrollments.services.enroll_user`, carrying the certification of the latest archived Completed round."""
    return enroll_user(
        user=user,
        learning_plan=learning_plan,
        enrolled_by=enrolled_by,
        now=now,
        certified_until=carried_certification(user, learning_plan),
    )
