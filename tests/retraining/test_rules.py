"""Saving a retraining rule: every bad input refused with its reason and nothing saved; the plan's Completed rounds
dated when a rule is saved and cleared when it is deleted; a completion dated, never cut short."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from enrollments.models import LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import certify_completed, clean_rule, delete_rule, save_rule
from lms_admin.audit.models import AuditEvent
from tests.factories import enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "valid_for_months", "Valid for months is required."),
        ({"valid_for_months": 0}, "valid_for_months", "between 1 and 120"),
        ({"valid_for_months": 121}, "valid_for_months", "between 1 and 120"),
        ({"valid_for_months": True}, "valid_for_months", "whole number"),
        (
            {"valid_for_months": 1, "window_days": 28},
            "window_days",
            "The window must be shorter than the validity period.",
        ),
        ({"valid_for_months": 12, "window_days": 366}, "window_days", "between 0 and 365"),
        ({"valid_for_months": 12, "anchor": "sometimes"}, "anchor", "completion"),
        (
            {"valid_for_months": 12, "anchor": "calendar", "month": 2, "day": 30, "min_active_days": 60},
            "day",
            "30 February is not a date.",
        ),
        (
            {"valid_for_months": 12, "anchor": "calendar", "month": 13, "day": 1, "min_active_days": 60},
            "month",
            "between 1 and 12",
        ),
        ({"valid_for_months": 12, "anchor": "calendar", "month": 1, "day": 31}, "min_active_days", "required"),
        (
            {"valid_for_months": 18, "anchor": "calendar", "month": 1, "day": 31, "min_active_days": 60},
            "valid_for_months",
            "whole number of years",
        ),
        (
            {
                "valid_for_months": 12,
                "anchor": "calendar",
                "month": 1,
                "day": 31,
                "min_active_days": 10,
                "window_days": 30,
            },
            "min_active_days",
            "re-enrolled at once",
        ),
        ({"valid_for_months": 12, "min_active_days": 10}, "min_active_days", "only for calendar rules"),
        ({"valid_for_months": 12, "reset_tracking": "sometimes"}, "reset_tracking", "true, false or “changed”"),
        ({"valid_for_months": 12, "user_statuses": ["gone"]}, "user_statuses", "one or more of"),
        ({"valid_for_months": 12, "start_after": "next week"}, "start_after", "YYYY-MM-DD"),
        ({"valid_for_months": 12, "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_a_bad_rule_is_refused_with_its_reason_and_nothing_is_saved(superadmin, data, field, message):
    plan = make_plan()
    with pytest.raises(ValidationError) as refused:
        save_rule(learning_plan=plan, actor=superadmin, data=data)
    assert refused.value.error_dict[field][0].code == "invalid_rule"
    assert message in " ".join(refused.value.message_dict[field])
    assert not RetrainingRule.objects.exists() and not AuditEvent.objects.exists()


def test_omitted_fields_take_their_defaults():
    assert clean_rule({"valid_for_months": 12}) == {
        "valid_for_months": 12,
        "anchor": "completion",
        "month": None,
        "day": None,
        "min_active_days": None,
        "window_days": 30,
        "reset_tracking": "true",
        "notify": True,
        "paused": False,
        "user_statuses": ["active"],
        "start_after": None,
    }


def test_a_power_user_cannot_save_a_rule(power_user):
    with pytest.raises(PermissionDenied):
        save_rule(learning_plan=make_plan(), actor=power_user, data={"valid_for_months": 12})


def completed(enrollment, on: datetime.date) -> None:
    stamp = datetime.datetime.combine(on, datetime.time(12), tzinfo=datetime.UTC)
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=2, completed_at=stamp)


def test_saving_a_rule_dates_the_completed_rounds_and_deleting_it_clears_them(superadmin):
    plan = make_plan()
    done, busy = enroll_in_bulk(plan, 2)
    completed(done, datetime.date(2026, 1, 31))

    saved = save_rule(learning_plan=plan, actor=superadmin, data={"valid_for_months": 1, "window_days": 7})
    assert saved.created and saved.redated == 1
    assert LearningPlanEnrollment.objects.get(pk=done.pk).certified_until == datetime.date(2026, 2, 28)
    assert LearningPlanEnrollment.objects.get(pk=busy.pk).certified_until is None

    save_rule(learning_plan=plan, actor=superadmin, data={"valid_for_months": 12, "window_days": 7})
    assert LearningPlanEnrollment.objects.get(pk=done.pk).certified_until == datetime.date(2027, 1, 31)

    assert delete_rule(learning_plan=plan, actor=superadmin)
    assert LearningPlanEnrollment.objects.get(pk=done.pk).certified_until is None
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["retraining_rule.created", "retraining_rule.changed", "retraining_rule.deleted"]


def test_a_completion_is_dated_and_an_early_retraining_keeps_the_later_date(superadmin):
    plan = make_plan()
    [enrollment] = enroll_in_bulk(plan, 1)
    save_rule(learning_plan=plan, actor=superadmin, data={"valid_for_months": 12})
    kept = timezone.now().date() + datetime.timedelta(days=900)
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(certified_until=kept)
    completed(enrollment, timezone.now().date())
    assert certify_completed([enrollment.pk]) == 1
    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).certified_until == kept
