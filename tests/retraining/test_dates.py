"""Certification dates: calendar months, leap days, calendar rules with a minimum active period (SPEC §11)."""

from __future__ import annotations

import datetime

import pytest

from enrollments.certification import certified_until_for, due_from
from enrollments.models import RetrainingRule

D = datetime.date


def completion_rule(months: int, window: int = 30) -> RetrainingRule:
    return RetrainingRule(anchor="completion", valid_for_months=months, window_days=window)


def calendar_rule(month: int, day: int, *, months: int = 12, min_active: int = 60, window: int = 30) -> RetrainingRule:
    return RetrainingRule(
        anchor="calendar", month=month, day=day, valid_for_months=months, min_active_days=min_active, window_days=window
    )


@pytest.mark.parametrize(
    ("completed", "months", "until"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),  # 31 January + 1 month: the end of February
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # ... a leap year's
        (D(2028, 2, 29), 12, D(2029, 2, 28)),  # 29 February + 12 months
        (D(2026, 3, 15), 24, D(2028, 3, 15)),
        (D(2026, 8, 31), 6, D(2027, 2, 28)),
    ],
)
def test_a_completion_rule_adds_calendar_months(completed, months, until):
    assert certified_until_for(completion_rule(months), completed) == until


def test_a_calendar_rule_takes_the_first_date_after_the_minimum_active_days():
    rule = calendar_rule(1, 31, min_active=60)
    # Completed 15 November: 60 days later is 14 January, so the next 31 January is the same winter's.
    assert certified_until_for(rule, D(2026, 11, 15)) == D(2027, 1, 31)
    # Completed 15 December: 13 February is past 31 January, so the learner keeps a whole year more.
    assert certified_until_for(rule, D(2026, 12, 15)) == D(2028, 1, 31)


def test_a_calendar_rule_of_several_years_adds_the_extra_years():
    assert certified_until_for(calendar_rule(6, 30, months=36, min_active=30), D(2026, 1, 10)) == D(2028, 6, 30)


def test_29_february_is_28_february_in_other_years():
    rule = calendar_rule(2, 29, min_active=10)
    assert certified_until_for(rule, D(2026, 1, 5)) == D(2026, 2, 28)
    assert certified_until_for(rule, D(2027, 3, 1)) == D(2028, 2, 29)


def test_the_window_opens_window_days_before_the_last_valid_day():
    assert due_from(completion_rule(12, window=30), D(2027, 3, 31)) == D(2027, 3, 1)
    assert due_from(completion_rule(12, window=0), D(2027, 3, 31)) == D(2027, 3, 31)
