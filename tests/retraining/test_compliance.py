"""The one compliance-state function: every state, in the order SPEC §11 gives, from one query."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from archive.compliance import ComplianceState, compliance_counts, with_compliance
from archive.models import RetrainingExemption
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from tests.factories import enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2027, 6, 15)


def state_of(enrollment) -> str:
    return with_compliance(LearningPlanEnrollment.objects.filter(pk=enrollment.pk), today=TODAY).get().compliance_state


def set_state(enrollment, *, status: int, certified_until: datetime.date | None) -> None:
    completed_at = timezone.now() if status == 2 else None
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(
        status=status, certified_until=certified_until, completed_at=completed_at
    )


@pytest.fixture
def ruled_plan():
    plan = make_plan()
    rule = RetrainingRule.objects.create(learning_plan=plan, valid_for_months=12, window_days=30)
    return plan, rule


@pytest.mark.parametrize(
    ("status", "until", "state"),
    [
        (2, TODAY + datetime.timedelta(days=31), ComplianceState.CERTIFIED),  # window not open yet
        (2, TODAY + datetime.timedelta(days=30), ComplianceState.DUE),  # the window's first day
        (2, TODAY, ComplianceState.DUE),  # the last valid day
        (2, TODAY - datetime.timedelta(days=1), ComplianceState.EXPIRED),
        (1, TODAY + datetime.timedelta(days=10), ComplianceState.RETRAINING),  # re-enrolled, still certified
        (0, TODAY - datetime.timedelta(days=1), ComplianceState.EXPIRED),  # re-enrolled too late
        (1, None, ComplianceState.NEVER_COMPLETED),
        (0, None, ComplianceState.NEVER_COMPLETED),
    ],
)
def test_each_state_under_a_rule(ruled_plan, status, until, state):
    plan, _ = ruled_plan
    [enrollment] = enroll_in_bulk(plan, 1)
    set_state(enrollment, status=status, certified_until=until)
    assert state_of(enrollment) == state


def test_a_completed_round_without_a_rule_is_certified_with_no_end_date():
    [enrollment] = enroll_in_bulk(make_plan(), 1)
    set_state(enrollment, status=2, certified_until=None)
    assert state_of(enrollment) == ComplianceState.CERTIFIED


def test_an_exemption_wins_until_its_last_day(ruled_plan):
    plan, rule = ruled_plan
    [enrollment] = enroll_in_bulk(plan, 1)
    set_state(enrollment, status=2, certified_until=TODAY - datetime.timedelta(days=100))
    exemption = RetrainingExemption.objects.create(rule=rule, user=enrollment.user, reason="Long leave", until=TODAY)
    assert state_of(enrollment) == ComplianceState.EXEMPT
    exemption.until = TODAY - datetime.timedelta(days=1)
    exemption.save()
    assert state_of(enrollment) == ComplianceState.EXPIRED


def test_counts_per_plan_come_from_one_query(ruled_plan, django_assert_num_queries):
    plan, _ = ruled_plan
    enrollments = enroll_in_bulk(plan, 3)
    set_state(enrollments[0], status=2, certified_until=TODAY + datetime.timedelta(days=5))
    set_state(enrollments[1], status=2, certified_until=TODAY + datetime.timedelta(days=300))
    with django_assert_num_queries(1):
        counts = compliance_counts(LearningPlanEnrollment.objects.filter(learning_plan=plan), today=TODAY)
    assert counts[plan.pk]["due"] == 1 and counts[plan.pk]["certified"] == 1
    assert counts[plan.pk]["never_completed"] == 1 and counts[plan.pk]["exempt"] == 0
