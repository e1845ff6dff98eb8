"""Certification dates under a retraining rule (SPEC §11): the last valid day of a completed round, and when its
retraining window opens. Pure date arithmetic, in one place; months are calendar months (`relativedelta`)."""

from __future__ import annotations

import datetime

from dateutil.relativedelta import relativedelta

from .models import RetrainingRule


def calendar_date(year: int, month: int, day: int) -> datetime.date:
    """`month`/`day` in `year`; 29 February is 28 February in the years without one."""
    if month == 2 and day == 29:
        return datetime.date(year, 2, 28) + relativedelta(day=31)  # the month's last day
    return datetime.date(year, month, day)


def certified_until_for(rule: RetrainingRule, completed_on: datetime.date) -> datetime.date:
    """The last valid day, inclusive, of a round completed on `completed_on`.

    Completion anchor: the completion date plus `valid_for_months` (31 January + 1 month = 28/29 February).
    Calendar anchor: the first `month`/`day` on or after the completion date + `min_active_days`, plus
    `valid_for_months` - 12 months (a calendar rule's validity is whole years).
    """
    if rule.anchor == RetrainingRule.Anchor.COMPLETION:
        return completed_on + relativedelta(months=rule.valid_for_months)
    earliest = completed_on + datetime.timedelta(days=rule.min_active_days or 0)
    anniversary = calendar_date(earliest.year, rule.month, rule.day)
    if anniversary < earliest:
        anniversary = calendar_date(earliest.year + 1, rule.month, rule.day)
    until = anniversary + relativedelta(months=rule.valid_for_months - 12)
    if rule.month == 2 and rule.day == 29:
        until = calendar_date(until.year, 2, 29)
    return until


def due_from(rule: RetrainingRule, certified_until: datetime.date) -> datetime.date:
    """The first day of the retraining window: `window_days` before the last valid day."""
    return certified_until - datetime.timedelta(days=rule.window_days)
