"""The one compliance-state function (SPEC §11): certified, due, retraining, expired, never completed, exempt.

Set-based: the state is a SQL expression annotated on plan enrollments, so the Compliance page, its CSV, My team
and the API read it in the same query as the rows they show; first match wins, in the order of SPEC §11.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When

from enrollments.models import EnrollmentStatus, LearningPlanEnrollment

from .models import RetrainingExemption


class ComplianceState(models.TextChoices):
    CERTIFIED = "certified", "Certified"
    DUE = "due", "Due"
    RETRAINING = "retraining", "Retraining"
    EXPIRED = "expired", "Expired"
    NEVER_COMPLETED = "never_completed", "Never completed"
    EXEMPT = "exempt", "Exempt"


class DaysBefore(models.Func):
    """`date - integer` in PostgreSQL: a date that many days earlier."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = models.DateField()


def with_compliance(enrollments: QuerySet[LearningPlanEnrollment], *, today: datetime.date) -> QuerySet:
    """The enrollments annotated with `due_from` (null without a rule or date) and `compliance_state`."""
    exempt = RetrainingExemption.objects.filter(
        rule__learning_plan_id=OuterRef("learning_plan_id"), user_id=OuterRef("user_id")
    ).filter(Q(until__isnull=True) | Q(until__gte=today))
    completed = Q(status=EnrollmentStatus.COMPLETED)
    return enrollments.annotate(
        due_from=DaysBefore(F("certified_until"), F("learning_plan__retraining_rule__window_days")),
        is_exempt=Exists(exempt),
    ).annotate(
        compliance_state=Case(
            When(is_exempt=True, then=Value(ComplianceState.EXEMPT)),
            When(completed & (Q(due_from__isnull=True) | Q(due_from__gt=today)), then=Value(ComplianceState.CERTIFIED)),
            When(completed & Q(certified_until__gte=today), then=Value(ComplianceState.DUE)),
            When(completed, then=Value(ComplianceState.EXPIRED)),
            When(certified_until__gte=today, then=Value(ComplianceState.RETRAINING)),
            When(certified_until__lt=today, then=Value(ComplianceState.EXPIRED)),
            default=Value(ComplianceState.NEVER_COMPLETED),
            output_field=models.CharField(),
        )
    )


def compliance_counts(enrollments: QuerySet[LearningPlanEnrollment], *, today: datetime.date) -> dict[int, dict]:
    """{plan id: {state: n}} for these enrollments, every state present (zeros included); one GROUP BY query."""
    rows = (
        with_compliance(enrollments, today=today)
        .order_by()
        .values("learning_plan_id", "compliance_state")
        .annotate(n=Count("*"))
    )
    counts: dict[int, dict] = {}
    for row in rows:
        plan = counts.setdefault(row["learning_plan_id"], dict.fromkeys(ComplianceState.values, 0))
        plan[row["compliance_state"]] = row["n"]
    return counts
