"""What a retraining rule being edited would do, before it is saved: the 12-month forecast and "the first run would
re-enroll N today" from the form's values (SPEC §11). With the saved rule's own values it agrees with
`compliance.forecast`, which the API serves."""

from __future__ import annotations

import datetime
import functools
import operator
from collections import Counter
from collections.abc import Mapping
from typing import Any

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import TruncDate

from enrollments.certification import certified_until_for
from enrollments.models import EnrollmentStatus, LearningPlan, LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import DATE_FIELDS
from lms_admin.accounts.models import user_status_q

from .models import RetrainingExemption


def month_starts(today: datetime.date, count: int = 13) -> list[datetime.date]:
    """The first day of this month and of the `count - 1` months after it."""
    first = today.replace(day=1)
    return [
        first.replace(year=first.year + (first.month - 1 + i) // 12, month=(first.month - 1 + i) % 12 + 1)
        for i in range(count)
    ]


def forecast_of_values(
    plan: LearningPlan, fields: Mapping[str, Any], *, saved: RetrainingRule | None, today: datetime.date
) -> dict:
    """`{"months": [{"month", "due"}] × 12, "due_today": n}` for the rule `fields` (as `clean_rule` returns them).

    The plan's Completed rounds are grouped by day in one query: by their kept `certified_until` when the date
    fields are the saved rule's (saving would not re-date them), else by completion day, dated here by the one
    date function as saving would date them. Exempt, merged and excluded-status learners are counted apart:
    they fall due but a run leaves them alone.
    """
    rule = RetrainingRule(learning_plan=plan, **fields)
    kept_dates = saved is not None and all(getattr(saved, name) == fields[name] for name in DATE_FIELDS)
    in_statuses = functools.reduce(
        operator.or_, (user_status_q(status, today=today, prefix="user__") for status in fields["user_statuses"])
    )
    left_alone = Q(user__merged_into__isnull=False) | ~in_statuses
    if saved is not None:
        exempt = RetrainingExemption.objects.filter(rule=saved, user_id=OuterRef("user_id")).filter(
            Q(until__isnull=True) | Q(until__gte=today)
        )
        left_alone |= Q(Exists(exempt))
    day = F("certified_until") if kept_dates else TruncDate("completed_at", tzinfo=datetime.UTC)
    groups = (
        LearningPlanEnrollment.objects.filter(learning_plan=plan, status=EnrollmentStatus.COMPLETED)
        .annotate(day=day, left_alone=ExpressionWrapper(left_alone, output_field=BooleanField()))
        .exclude(day=None)
        .order_by()
        .values_list("day", "left_alone")
        .annotate(n=Count("*"))
    )
    starts = month_starts(today)
    runs_today = not rule.paused and (rule.start_after is None or rule.start_after <= today)
    due_per_month: Counter[str] = Counter()
    due_today = 0
    window = datetime.timedelta(days=rule.window_days)
    for found_day, alone, n in groups:
        until = found_day if kept_dates else certified_until_for(rule, found_day)
        due_from = until - window
        if today < due_from < starts[-1]:
            due_per_month[due_from.strftime("%Y-%m")] += n
        elif due_from <= today and runs_today and not alone:
            due_today += n
    months = [start.strftime("%Y-%m") for start in starts[:12]]
    return {"months": [{"month": month, "due": due_per_month[month]} for month in months], "due_today": due_today}


# ---------------------------------------------------------------------------------------------- the chart

CHART_WIDTH, CHART_HEIGHT = 720, 220
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 24, 176, 8  # room for the values above the bars and two label lines below
BAR_GAP = 0.3  # of a slot


def forecast_chart(forecast: Mapping[str, Any]) -> dict:
    """The geometry of the forecast's bar chart (inline SVG, drawn by the template): one bar per month, its value
    above it, the month below it (and the year under January and the first month)."""
    months = forecast["months"]
    tallest = max((m["due"] for m in months), default=0)
    slot = (CHART_WIDTH - 2 * PLOT_LEFT) / max(len(months), 1)
    width = slot * (1 - BAR_GAP)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for i, month in enumerate(months):
        start = datetime.date.fromisoformat(f"{month['month']}-01")
        height = round(plot_height * month["due"] / tallest, 1) if tallest else 0
        if month["due"] and height < 2:
            height = 2  # a learner due stays visible next to hundreds
        x = PLOT_LEFT + slot * i + (slot - width) / 2
        bars.append(
            {
                "x": round(x, 1),
                "y": round(PLOT_BOTTOM - height, 1),
                "width": round(width, 1),
                "height": height,
                "center": round(x + width / 2, 1),
                "value_y": round(PLOT_BOTTOM - height - 6, 1),
                "due": month["due"],
                "label": start.strftime("%b"),
                "year": start.year if i == 0 or start.month == 1 else None,
                "name": start.strftime("%B %Y"),
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": PLOT_BOTTOM,
        "left": PLOT_LEFT,
        "right": CHART_WIDTH - PLOT_LEFT,
        "label_y": PLOT_BOTTOM + 18,
        "year_y": PLOT_BOTTOM + 34,
        "bars": bars,
        "total": sum(m["due"] for m in months),
        "busiest": max(bars, key=lambda bar: bar["due"]) if tallest else None,
    }
