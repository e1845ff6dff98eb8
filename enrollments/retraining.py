"""Writing a plan's retraining rule (SPEC §11): validation with a person's words, and the learners' certification
dates kept in step with it — set when a rule is saved, cleared when it is deleted, set at each completion."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from lms_admin.accounts.models import User, UserStatus
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record

from .certification import calendar_date, certified_until_for
from .content import reset_tracking_option
from .models import EnrollmentStatus, LearningPlan, LearningPlanEnrollment, ResetTracking, RetrainingRule

# Saving a rule dates the plan's Completed rounds this many at a time, each batch locked in id order (§4.10).
CERTIFY_BATCH = 2000
# Changing one of these re-dates the plan's Completed rounds.
DATE_FIELDS = ("valid_for_months", "anchor", "month", "day", "min_active_days")

RULE_DEFAULTS: dict[str, Any] = {
    "valid_for_months": None,
    "anchor": RetrainingRule.Anchor.COMPLETION,
    "month": None,
    "day": None,
    "min_active_days": None,
    "window_days": 30,
    "reset_tracking": ResetTracking.ALL,
    "notify": True,
    "user_statuses": [UserStatus.ACTIVE],
    "paused": False,
    "start_after": None,
}


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code="invalid_rule")})


def _integer(data: Mapping, field: str, low: int, high: int, *, required: bool) -> int | None:
    value = data.get(field)
    if value in (None, ""):
        if required:
            raise _invalid(field, f"{field.replace('_', ' ').capitalize()} is required.")
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise _invalid(field, f"{field.replace('_', ' ').capitalize()} must be a whole number.")
    number = int(value)
    if not low <= number <= high:
        raise _invalid(field, f"{field.replace('_', ' ').capitalize()} must be between {low} and {high}.")
    return number


def _flag(data: Mapping, field: str) -> bool:
    value = data.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "on", "yes", "false", "0", "off", "no"}:
        return value.strip().lower() in {"true", "1", "on", "yes"}
    raise _invalid(field, f"{field.replace('_', ' ').capitalize()} must be true or false.")


def _reset_tracking_choice(value: Any) -> str:
    """`true` / `false` / `"changed"` (also as form strings) → the stored choice; anything else is refused."""
    try:
        return reset_tracking_option(value)
    except ValidationError as exc:
        raise _invalid("reset_tracking", exc.messages[0]) from None


def clean_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's fields from a form or an API body (omitted fields take their defaults), or ValidationError
    (code "invalid_rule") naming the field, with the reason a person understands."""
    unknown = sorted(set(data) - set(RULE_DEFAULTS))
    if unknown:
        raise _invalid(unknown[0], f"Unknown field: {', '.join(unknown)}.")
    values = {**RULE_DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
    rule: dict[str, Any] = {}
    rule["valid_for_months"] = _integer(values, "valid_for_months", 1, 120, required=True)
    anchor = values["anchor"]
    if anchor not in RetrainingRule.Anchor.values:
        raise _invalid("anchor", "The anchor must be “completion” or “calendar”.")
    rule["anchor"] = anchor
    rule["window_days"] = _integer(values, "window_days", 0, 365, required=True)
    if rule["window_days"] >= 28 * rule["valid_for_months"]:
        raise _invalid("window_days", "The window must be shorter than the validity period.")
    if anchor == RetrainingRule.Anchor.CALENDAR:
        rule["month"] = _integer(values, "month", 1, 12, required=True)
        rule["day"] = _integer(values, "day", 1, 31, required=True)
        try:
            calendar_date(2028, rule["month"], rule["day"])  # a leap year: 29 February is a date
        except ValueError:
            month = datetime.date(2028, rule["month"], 1).strftime("%B")
            raise _invalid("day", f"{rule['day']} {month} is not a date.") from None
        rule["min_active_days"] = _integer(values, "min_active_days", 0, 3650, required=True)
        if rule["valid_for_months"] % 12:
            raise _invalid("valid_for_months", "A calendar rule's validity is a whole number of years (12, 24, …).")
        if rule["min_active_days"] < rule["window_days"]:
            raise _invalid(
                "min_active_days",
                "The minimum active days must be at least the window: a learner completing inside the window "
                "would be re-enrolled at once.",
            )
    else:
        for field in ("month", "day", "min_active_days"):
            if values.get(field) not in (None, ""):
                raise _invalid(field, f"{field.replace('_', ' ').capitalize()} is only for calendar rules.")
            rule[field] = None
    rule["reset_tracking"] = _reset_tracking_choice(values["reset_tracking"])
    rule["notify"] = _flag(values, "notify")
    rule["paused"] = _flag(values, "paused")
    statuses = values["user_statuses"]
    if isinstance(statuses, str):
        statuses = [s for s in statuses.split(",") if s.strip()]
    if not isinstance(statuses, list | tuple) or not statuses or any(s not in UserStatus.values for s in statuses):
        raise _invalid("user_statuses", f"User statuses must be one or more of: {', '.join(UserStatus.values)}.")
    rule["user_statuses"] = [s for s in UserStatus.values if s in statuses]
    start_after = values.get("start_after")
    if isinstance(start_after, str) and start_after:
        try:
            start_after = datetime.date.fromisoformat(start_after)
        except ValueError:
            raise _invalid("start_after", "Start after must be a date (YYYY-MM-DD).") from None
    elif start_after is not None and not isinstance(start_after, datetime.date):
        raise _invalid("start_after", "Start after must be a date (YYYY-MM-DD).")
    rule["start_after"] = start_after or None
    return rule


@dataclass(frozen=True)
class SavedRule:
    rule: RetrainingRule
    created: bool
    redated: int


def save_rule(*, learning_plan: LearningPlan, actor: User, data: Mapping[str, Any]) -> SavedRule:
    """Create or replace the plan's rule from `data` (omitted fields take their defaults); re-dates the plan's
    Completed rounds when the rule is new or a date field changed. Nothing is saved when the data is refused."""
    require_superadmin(actor)
    fields = clean_rule(data)
    with transaction.atomic():
        existing = RetrainingRule.objects.select_for_update().filter(learning_plan=learning_plan).first()
        created = existing is None
        redate = created or any(getattr(existing, name) != fields[name] for name in DATE_FIELDS)
        rule, _ = RetrainingRule.objects.update_or_create(
            learning_plan=learning_plan, defaults={**fields, "saved_by": actor, "saved_at": timezone.now()}
        )
        record(
            actor=actor,
            action="retraining_rule.created" if created else "retraining_rule.changed",
            object_type="learning_plan",
            object_id=learning_plan.pk,
            details={
                "rule_id": rule.pk,
                **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in fields.items()},
            },
        )
    redated = redate_plan(rule) if redate else 0
    return SavedRule(rule, created, redated)


def delete_rule(*, learning_plan: LearningPlan, actor: User) -> bool:
    """Delete the plan's rule and clear its learners' certification dates; False when it had none."""
    require_superadmin(actor)
    with transaction.atomic():
        rule = RetrainingRule.objects.filter(learning_plan=learning_plan).first()
        if rule is None:
            return False
        record(
            actor=actor,
            action="retraining_rule.deleted",
            object_type="learning_plan",
            object_id=learning_plan.pk,
            details={"rule_id": rule.pk},
        )
        rule.delete()
    _in_locked_batches(
        learning_plan.pk,
        lambda ids: LearningPlanEnrollment.objects.filter(pk__in=ids).update(certified_until=None),
        only_dated=True,
    )
    return True


def redate_plan(rule: RetrainingRule) -> int:
    """Set `certified_until` of the plan's current Completed rounds from the rule; returns how many were dated."""
    return _in_locked_batches(rule.learning_plan_id, lambda ids: _certify(ids, rule))


def certify_completed(enrollment_ids: Sequence[int]) -> int:
    """Date the rounds that just became Completed, on plans with a rule (call inside the completing transaction)."""
    if not enrollment_ids:
        return 0
    rules = {
        rule.learning_plan_id: rule
        for rule in RetrainingRule.objects.filter(learning_plan__enrollments__pk__in=list(enrollment_ids)).distinct()
    }
    if not rules:
        return 0
    dated = 0
    by_plan: dict[int, list[int]] = {}
    for pk, plan_id in LearningPlanEnrollment.objects.filter(
        pk__in=enrollment_ids, learning_plan_id__in=rules
    ).values_list("pk", "learning_plan_id"):
        by_plan.setdefault(plan_id, []).append(pk)
    for plan_id, ids in by_plan.items():
        dated += _certify(ids, rules[plan_id], keep_later=True)
    return dated


def _certify(ids: Sequence[int], rule: RetrainingRule, *, keep_later: bool = False) -> int:
    """One UPDATE: each Completed enrollment's date from its completion date. With `keep_later` (a completion) the
    later of the kept date and the new one wins: a learner who retrained early is never cut short."""
    rows = LearningPlanEnrollment.objects.filter(pk__in=ids, status=EnrollmentStatus.COMPLETED).values_list(
        "pk", "completed_at"
    )
    dates = [(pk, certified_until_for(rule, completed.date())) for pk, completed in rows if completed]
    if not dates:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE enrollments_learningplanenrollment e
            SET certified_until = CASE WHEN %s THEN greatest(e.certified_until, d.until) ELSE d.until END
            FROM unnest(%s::bigint[], %s::date[]) AS d(id, until)
            WHERE e.id = d.id
            """,
            [keep_later, [pk for pk, _ in dates], [until for _, until in dates]],
        )
        return cursor.rowcount


def _in_locked_batches(plan_id: int, apply, *, only_dated: bool = False) -> int:
    """Run `apply(ids)` over the plan's Completed (or dated) enrollments, CERTIFY_BATCH at a time, each batch in
    its own transaction with its rows locked in id order."""
    done, after = 0, 0
    while True:
        with transaction.atomic():
            rows = LearningPlanEnrollment.objects.filter(learning_plan_id=plan_id, pk__gt=after)
            rows = (
                rows.filter(certified_until__isnull=False)
                if only_dated
                else rows.filter(status=EnrollmentStatus.COMPLETED)
            )
            ids = list(rows.order_by("pk").select_for_update().values_list("pk", flat=True)[:CERTIFY_BATCH])
            if not ids:
                return done
            result = apply(ids)
            done += result if isinstance(result, int) else len(ids)
            after = ids[-1]
