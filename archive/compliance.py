"""The one compliance-state function (SPEC §11): certified, due, retraining, expired, never completed, exempt.

Set-based: the state is a SQL expression annotated on plan enrollments, so the Compliance page, its CSV, My team
and the API read it in the same query as the rows they show; first match wins, in the order of SPEC §11.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When

from enrollments.models import EnrollmentStatus, LearningPlanEnrollment

from .models import RetrainingExemption
from .planner import rows_planned_without


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
    """{plan id: {state: n}} for these enrollments, every state present (zeros included); one GROUP BY query.

    PostgreSQL cannot tell that the state takes six values: it guesses tens of thousands of groups and sorts every
    enrollment by its state to count them (a plan of 100,000: an on-disk sort, 56–95 ms of a 73–110 ms count
    under load). Hashing into six groups is what the count needs (32–46 ms), so sorting is left out of its plan."""
    rows = (
        with_compliance(enrollments, today=today)
        .order_by()
        .values_list("learning_plan_id", "compliance_state")
        .annotate(n=Count("*"))
    )
    counts: dict[int, dict] = {}
    for plan_id, state, n in rows_planned_without(rows, ["sort"]):
        counts.setdefault(plan_id, dict.fromkeys(ComplianceState.values, 0))[state] = n
    return counts


# ---------------------------------------------------------------------------------------------- retraining runs

# The due set of SPEC §11: Completed rounds whose window has opened (expired ones included) on the active rules,
# each with the reason a run leaves it alone, or null. One query: the rules joined to the
# (learning_plan, certified_until) index — `certified_until <= today + window_days` is `due_from <= today`.
DUE_SQL = """
SELECT e.id, e.round, e.user_id, r.id AS rule_id,
       CASE
           WHEN x.id IS NOT NULL THEN 'exempt'
           WHEN u.merged_into_id IS NOT NULL THEN 'merged_user'
           WHEN NOT (CASE WHEN u.expires_on < %(today)s THEN 'expired'
                          WHEN NOT u.is_active THEN 'deactivated'
                          ELSE 'active' END) = ANY(ARRAY(SELECT jsonb_array_elements_text(r.user_statuses)))
               THEN 'user_status'
       END AS skip_reason
FROM enrollments_retrainingrule r
JOIN enrollments_learningplanenrollment e
  ON e.learning_plan_id = r.learning_plan_id AND e.certified_until <= %(today)s + r.window_days
JOIN accounts_user u ON u.id = e.user_id
LEFT JOIN archive_retrainingexemption x
  ON x.rule_id = r.id AND x.user_id = e.user_id AND (x.until IS NULL OR x.until >= %(today)s)
WHERE e.status = 2 AND NOT r.paused AND (r.start_after IS NULL OR r.start_after <= %(today)s)
  AND (%(rule_ids)s::bigint[] IS NULL OR r.id = ANY(%(rule_ids)s::bigint[]))
ORDER BY r.id, e.id
"""


@dataclass(frozen=True)
class DueRound:
    enrollment_id: int
    round: int
    user_id: int
    rule_id: int
    skip_reason: str | None


def due_rounds(*, today: datetime.date, rule_ids: Sequence[int] | None = None) -> list[DueRound]:
    """The rounds the active rules (or these rules) would archive today, and the ones they skip, with why."""
    with connection.cursor() as cursor:
        cursor.execute(DUE_SQL, {"today": today, "rule_ids": list(rule_ids) if rule_ids is not None else None})
        return [DueRound(*row) for row in cursor.fetchall()]


FORECAST_SQL = """
SELECT to_char(date_trunc('month', e.certified_until - r.window_days), 'YYYY-MM') AS month, count(*)
FROM enrollments_retrainingrule r
JOIN enrollments_learningplanenrollment e
  ON e.learning_plan_id = r.learning_plan_id
 AND e.certified_until > %(today)s + r.window_days AND e.certified_until < %(end)s + r.window_days
WHERE r.id = %(rule_id)s AND e.status = 2
GROUP BY 1
"""


def forecast(rule, *, today: datetime.date) -> dict:
    """How many learners fall due per month over the next 12 months (`due_from` in that month, after today), and
    how many the first run would re-enroll today: `{"months": [{"month", "due"}] × 12, "due_today": n}`."""
    first = today.replace(day=1)
    months = [
        (first.replace(year=first.year + (first.month - 1 + i) // 12, month=(first.month - 1 + i) % 12 + 1))
        for i in range(13)
    ]
    with connection.cursor() as cursor:
        cursor.execute(FORECAST_SQL, {"today": today, "end": months[12], "rule_id": rule.pk})
        due = dict(cursor.fetchall())
    today_rounds = due_rounds(today=today, rule_ids=[rule.pk]) if not rule.paused else []
    return {
        "months": [{"month": m.strftime("%Y-%m"), "due": due.get(m.strftime("%Y-%m"), 0)} for m in months[:12]],
        "due_today": sum(1 for r in today_rounds if r.skip_reason is None),
    }
