"""The due set and the forecast: Completed rounds whose window opened, each skip with its reason; only active
rules; In progress or never completed learners never taken."""

from __future__ import annotations

import datetime

import pytest

from archive.compliance import due_rounds, forecast
from archive.models import RetrainingExemption
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from lms_admin.accounts.models import User
from tests.factories import enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2027, 6, 15)


def dated(enrollment, until: datetime.date, status: int = 2) -> None:
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=status, certified_until=until)


@pytest.fixture
def rule():
    return RetrainingRule.objects.create(
        learning_plan=make_plan(), valid_for_months=12, window_days=30, user_statuses=["active"]
    )


def test_the_due_set_takes_open_windows_and_says_why_it_skips(rule):
    due, overdue, later, busy, exempt, gone, merged = enroll_in_bulk(rule.learning_plan, 7)
    dated(due, TODAY + datetime.timedelta(days=30))
    dated(overdue, TODAY - datetime.timedelta(days=40))
    dated(later, TODAY + datetime.timedelta(days=31))
    dated(busy, TODAY, status=1)  # In progress: never archived by a rule
    dated(exempt, TODAY)
    dated(gone, TODAY)
    dated(merged, TODAY)
    RetrainingExemption.objects.create(rule=rule, user=exempt.user, reason="Leave")
    User.objects.filter(pk=gone.user_id).update(is_active=False)
    User.objects.filter(pk=merged.user_id).update(merged_into=due.user)

    found = {r.enrollment_id: r.skip_reason for r in due_rounds(today=TODAY)}
    assert found == {
        due.pk: None,
        overdue.pk: None,
        exempt.pk: "exempt",
        gone.pk: "user_status",
        merged.pk: "merged_user",
    }


def test_paused_rules_and_rules_not_started_yet_take_nobody(rule):
    [enrollment] = enroll_in_bulk(rule.learning_plan, 1)
    dated(enrollment, TODAY)
    RetrainingRule.objects.filter(pk=rule.pk).update(paused=True)
    assert due_rounds(today=TODAY) == []
    RetrainingRule.objects.filter(pk=rule.pk).update(paused=False, start_after=TODAY + datetime.timedelta(days=1))
    assert due_rounds(today=TODAY) == []
    RetrainingRule.objects.filter(pk=rule.pk).update(start_after=TODAY)
    assert [r.enrollment_id for r in due_rounds(today=TODAY)] == [enrollment.pk]


def test_the_forecast_counts_learners_falling_due_per_month(rule, django_assert_max_num_queries):
    now_due, july, next_may, beyond = enroll_in_bulk(rule.learning_plan, 4)
    dated(now_due, TODAY + datetime.timedelta(days=10))
    dated(july, datetime.date(2027, 8, 20))  # due from 21 July
    dated(next_may, datetime.date(2028, 6, 10))  # due from 11 May 2028
    dated(beyond, datetime.date(2028, 8, 1))  # due from 2 July 2028: past the 12 months
    with django_assert_max_num_queries(2):
        result = forecast(rule, today=TODAY)
    months = {m["month"]: m["due"] for m in result["months"]}
    assert list(months)[0] == "2027-06" and list(months)[-1] == "2028-05" and len(months) == 12
    assert months["2027-07"] == 1 and months["2028-05"] == 1 and sum(months.values()) == 2
    assert result["due_today"] == 1
