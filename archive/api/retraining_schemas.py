"""What the retraining and compliance API reads and answers (SPEC §11).

The rule's body is typed loosely on purpose: ranges, anchors, statuses and dates are judged by
`enrollments.retraining.clean_rule`, so the API and the Retraining tab refuse a rule with the same words
(400 invalid_rule); only a value of the wrong JSON type is a malformed body (400 invalid_request).
"""

from __future__ import annotations

import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt, field_validator

from enrollments.api import reject_nul
from enrollments.models import RetrainingRule
from lms_admin.web.api import MAX_ID, StrictSchema

from ..compliance import ComplianceState
from ..models import RetrainingRun


class RetrainingRuleIn(StrictSchema):
    """The whole rule: a field left out takes its default (only `valid_for_months` has none)."""

    valid_for_months: StrictInt | None = Field(None, description="1–120; a multiple of 12 for calendar rules.")
    anchor: str | None = Field(None, description="completion (default) or calendar.", examples=["completion"])
    month: StrictInt | None = Field(None, description="Calendar rules: 1–12.")
    day: StrictInt | None = Field(None, description="Calendar rules: 1–31, a day of `month`.")
    min_active_days: StrictInt | None = Field(
        None, description="Calendar rules (required, at least `window_days`); null for completion rules."
    )
    window_days: StrictInt | None = Field(
        None,
        description="0–365, fewer than 28 × valid_for_months; default 30. Learners fall due this many days "
        "before their certification ends.",
    )
    reset_tracking: StrictBool | Literal["changed"] | None = Field(
        None, description='true (default: reset everything), false (keep tracking) or "changed" (§13).'
    )
    notify: StrictBool | None = Field(None, description="Tell learners a new round started (default true).")
    user_statuses: list[str] | None = Field(
        None, description="User statuses a run archives: active (default), deactivated, expired."
    )
    paused: StrictBool | None = Field(None, description="A paused rule does not run (default false).")
    start_after: str | None = Field(
        None, description="YYYY-MM-DD: the rule runs from this day on.", json_schema_extra={"format": "date"}
    )


class RetrainingRuleOut(Schema):
    valid_for_months: int
    anchor: Literal[tuple(RetrainingRule.Anchor.values)]  # type: ignore[valid-type]
    month: int | None
    day: int | None
    min_active_days: int | None
    window_days: int
    reset_tracking: bool | Literal["changed"]
    notify: bool
    user_statuses: list[str]
    paused: bool
    start_after: datetime.date | None


class ForecastMonth(Schema):
    month: str = Field(..., description="YYYY-MM.", examples=["2027-06"])
    due: int = Field(..., description="Learners whose window opens in this month (after today).")


class ForecastOut(Schema):
    months: list[ForecastMonth] = Field(..., description="The next 12 months, this one first.")
    due_today: int = Field(..., description="Learners the first run would re-enroll today.")


class RetrainingRunOut(Schema):
    id: int
    run_date: datetime.date
    status: Literal[tuple(RetrainingRun.Status.values)]  # type: ignore[valid-type]
    selected: int = Field(..., description="Learners the run froze to archive.")
    archived: int
    skipped: dict[str, int] = Field(..., description="Learners left out, per reason (exempt, user_status, …).")
    jobs: list[int] = Field(..., description="Ids of the run's archive jobs (GET /jobs/{id}).")

    @staticmethod
    def resolve_skipped(run: RetrainingRun) -> dict[str, int]:
        return {str(reason): int(n) for reason, n in (run.skipped or {}).items()}

    @staticmethod
    def resolve_jobs(run: RetrainingRun) -> list[int]:
        return sorted(job.pk for job in run.jobs.all())


class ConfirmIn(StrictSchema):
    # Required, but judged in the endpoint: a power user's empty body answers 403, as every refused action does.
    count: StrictInt | None = Field(
        None, description="Required: the number of learners the run archives, repeated to confirm it."
    )


class ComplianceUser(Schema):
    id: int
    username: str
    first_name: str
    last_name: str


class CompliancePlan(Schema):
    id: int
    title: str
    code: str


class ComplianceOut(Schema):
    """One learner's standing in one learning plan."""

    user: ComplianceUser
    learning_plan: CompliancePlan
    state: Literal[tuple(ComplianceState.values)] = Field(..., alias="compliance_state")  # type: ignore[valid-type]
    round: int
    completed_at: datetime.datetime | None
    certified_until: datetime.date | None = Field(..., description="The last valid day, inclusive.")
    due_from: datetime.date | None = Field(..., description="The day the learner falls due for retraining.")


class ComplianceFilters(Schema):
    learning_plan: int | None = Field(None, ge=1, le=MAX_ID, description="A learning plan id.")
    state: Literal[tuple(ComplianceState.values)] | None = None  # type: ignore[valid-type]
    user: int | None = Field(None, ge=1, le=MAX_ID, description="A learner's user id.")
    search: str | None = Field(None, max_length=200, description="Words matching username, first or last name, e-mail.")

    _no_nul = field_validator("search")(reject_nul)
