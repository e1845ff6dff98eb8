"""Forms of the plan's Retraining tab (SPEC §11): the rule, an exemption, a run's confirmation.

The rule form only renders and collects: `enrollments.retraining.clean_rule` is its one validation, so the page
and the API refuse the same input with the same words.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from enrollments.models import ResetTracking, RetrainingRule, reset_tracking_value
from enrollments.retraining import RULE_DEFAULTS, clean_rule
from lms_admin.accounts.models import User, UserStatus
from lms_admin.web.api import MAX_ID

from .filters import IsoDateField

CALENDAR_FIELDS = ("month", "day", "min_active_days")
RULE_FIELDS = tuple(RULE_DEFAULTS)
# What a new rule's form proposes (saving it as it is gives a rule that works).
NEW_RULE = {**RULE_DEFAULTS, "valid_for_months": 12}
RESET_CHOICES = [
    (ResetTracking.ALL.value, "Reset everything: learners redo the whole plan"),
    (ResetTracking.KEEP.value, "Keep tracking: learners only redo what they had not completed"),
    (ResetTracking.CHANGED.value, "Reset only what changed since the learner's last round"),
]


class DescribedErrors:
    """Marks each field with errors `aria-invalid` and points it at its message (`err-<name>` in the template)."""

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": f"err-{name}"})


def _number(label: str, low: int, high: int, help_text: str = "") -> forms.CharField:
    # Text, not IntegerField: clean_rule words every refusal, so the form adds no messages of its own.
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": low, "max": high, "step": 1, "inputmode": "numeric"}),
    )


class RuleForm(DescribedErrors, forms.Form):
    """A plan's retraining rule as a page form; `clean()` hands the values to `clean_rule` and shows its refusal
    beside the field it names. Month, day and minimum active days count only for calendar rules."""

    valid_for_months = _number("Valid for (months)", 1, 120, "How long a completion counts: 1 to 120 months.")
    anchor = forms.CharField(
        label="Certification ends",
        required=False,
        widget=forms.RadioSelect(choices=RetrainingRule.Anchor.choices),
    )
    month = forms.CharField(
        label="Month",
        required=False,
        widget=forms.Select(choices=[("", "—")] + [(str(m), calendar.month_name[m]) for m in range(1, 13)]),
    )
    day = _number("Day", 1, 31)
    min_active_days = _number(
        "Minimum active days",
        0,
        3650,
        "A learner completing fewer days than this before the date keeps the certificate to the next year's date.",
    )
    window_days = _number(
        "Retraining window (days)", 0, 365, "Learners are re-enrolled this many days before their certification ends."
    )
    reset_tracking = forms.CharField(label="Tracking", required=False, widget=forms.RadioSelect(choices=RESET_CHOICES))
    notify = forms.BooleanField(label="Tell learners a new round started", required=False)
    user_statuses = forms.Field(
        label="Re-enroll learners whose user status is",
        required=False,
        widget=forms.CheckboxSelectMultiple(choices=UserStatus.choices),
    )
    paused = forms.BooleanField(label="Paused (no daily run)", required=False)
    start_after = forms.CharField(
        label="First run on or after",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: no run before this day.",
    )

    def __init__(self, data: Mapping | None = None, *, rule: RetrainingRule | None = None) -> None:
        values = {name: getattr(rule, name) for name in RULE_FIELDS} if rule else NEW_RULE
        initial = {name: "" if value is None else value for name, value in values.items()}
        initial["anchor"] = values["anchor"]
        super().__init__(data, initial=initial)
        self.rule_fields: dict[str, Any] | None = None

    def rule_data(self) -> dict[str, Any]:
        """The posted values as `clean_rule` reads them: checkboxes as booleans, the calendar fields left out of a
        completion rule (they stay on the page, hidden, while the anchor is "completion")."""
        data = self.data
        values: dict[str, Any] = {name: data.get(name, "") for name in RULE_FIELDS}
        values["start_after"] = values["start_after"] or None  # an empty date field: no start date
        values["notify"] = bool(data.get("notify"))
        values["paused"] = bool(data.get("paused"))
        values["user_statuses"] = (
            data.getlist("user_statuses") if hasattr(data, "getlist") else data.get("user_statuses")
        )
        if values["anchor"] != RetrainingRule.Anchor.CALENDAR:
            for name in CALENDAR_FIELDS:
                values[name] = None
        return values

    def clean(self) -> dict:
        try:
            self.rule_fields = clean_rule(self.rule_data())
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return self.cleaned_data

    def value_of(self, name: str) -> Any:
        """What the form shows for `name`: the posted value when bound, else the initial one."""
        return self[name].value()

    @property
    def keeps_tracking(self) -> bool:
        return reset_tracking_value(self.value_of("reset_tracking")) is False


class ExemptionForm(DescribedErrors, forms.Form):
    """A learner to exempt from the plan's rule: username or user id, the reason, and an optional last day."""

    user = forms.CharField(
        label="Learner (username or user id)",
        max_length=150,
        error_messages={"required": "Give the learner's username or user id."},
    )
    reason = forms.CharField(
        label="Reason", max_length=255, error_messages={"required": "Give the reason for the exemption."}
    )
    until = IsoDateField(
        label="Exempt until (inclusive)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for an exemption with no end.",
        error_messages={"invalid": "The last exempt day must be a date (YYYY-MM-DD).", "not_a_day": "Enter a date."},
    )

    def clean_user(self) -> User:
        text = self.cleaned_data["user"].strip()
        found = None
        if text.isdigit() and int(text) <= MAX_ID:
            found = User.objects.filter(pk=int(text)).first()
        if found is None:
            found = User.objects.filter(username=text).first()
        if found is None:
            raise ValidationError(f"No user has the username or id “{text}”.")
        return found


class ConfirmRunForm(forms.Form):
    """A superadmin repeats the number of learners a run waiting for confirmation would archive."""

    count = forms.IntegerField(
        label="Number of learners",
        min_value=0,
        max_value=MAX_ID,
        error_messages={
            "required": "Type the number of learners the run archives to confirm it.",
            "invalid": "Type the number of learners as a whole number.",
            "min_value": "Type the number of learners as a whole number.",
            "max_value": "Type the number of learners the run archives to confirm it.",
        },
    )
