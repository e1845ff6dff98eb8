"""API: a plan's retraining rule, its forecast and runs, and the compliance list (SPEC §11).

Superadmins read and write; power users read the rules, forecasts, runs and compliance of their plans (writes
answer 403); managers and learners get 403. Every route starts from `get_plan_for` / `plans_visible_to`, so a
plan outside the caller's sight answers 404.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from enrollments.filters import ActiveEnrollmentFilter
from enrollments.models import LearningPlan, LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import delete_rule, save_rule
from enrollments.selectors import get_plan_for, plans_visible_to, require_plans_section
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.web.api import ERRORS, ApiError, DataOut, ErrorOut, ObjectId, Page, PageParams, paginate

from ..compliance import forecast, with_compliance
from ..models import RetrainingRun
from ..services.retraining import confirm_run, start_run, utc_today
from .retraining_schemas import (
    ComplianceFilters,
    ComplianceOut,
    ConfirmIn,
    ForecastOut,
    RetrainingRuleIn,
    RetrainingRuleOut,
    RetrainingRunOut,
)

router = Router(tags=["Retraining and compliance"])


def _rule_of(plan: LearningPlan) -> RetrainingRule:
    rule = RetrainingRule.objects.filter(learning_plan=plan).select_related("learning_plan", "saved_by").first()
    if rule is None:
        raise Http404("This learning plan has no retraining rule.")
    return rule


def _run_for(user: User, run_id: int) -> RetrainingRun:
    """The run, if its plan is visible to the user: 403 without the plans section, 404 otherwise."""
    require_plans_section(user)
    run = (
        RetrainingRun.objects.filter(pk=run_id, rule__learning_plan__in=plans_visible_to(user))
        .select_related("rule__learning_plan", "rule__saved_by")
        .prefetch_related("jobs")
        .first()
    )
    if run is None:
        raise Http404("No such retraining run.")
    return run


# --- the rule -------------------------------------------------------------------------------------------------


@router.get(
    "/learning-plans/{plan_id}/retraining-rule",
    response={200: DataOut[RetrainingRuleOut], **ERRORS},
    summary="A learning plan's retraining rule",
)
def get_retraining_rule(request: HttpRequest, plan_id: ObjectId):
    """404 when the plan has no rule."""
    return {"data": _rule_of(get_plan_for(request.auth, plan_id))}


@router.put(
    "/learning-plans/{plan_id}/retraining-rule",
    response={200: DataOut[RetrainingRuleOut], 201: DataOut[RetrainingRuleOut], **ERRORS},
    summary="Create or replace a learning plan's retraining rule (superadmins)",
)
def put_retraining_rule(request: HttpRequest, plan_id: ObjectId, body: RetrainingRuleIn):
    """The body is the whole rule: omitted fields take their defaults. 201 when the plan had no rule, 200 when it
    is replaced. A refused rule answers 400 invalid_rule with the reason, and nothing is saved."""
    plan = get_plan_for(request.auth, plan_id)
    require_superadmin(request.auth)  # before the body is judged: a power user learns nothing from a 400
    try:
        saved = save_rule(learning_plan=plan, actor=request.auth, data=body.model_dump(exclude_none=True))
    except ValidationError as refused:
        raise ApiError(400, "invalid_rule", _first_message(refused)) from refused
    return Status(201 if saved.created else 200, {"data": saved.rule})


@router.delete(
    "/learning-plans/{plan_id}/retraining-rule",
    response={204: None, **ERRORS},
    summary="Delete a learning plan's retraining rule (superadmins)",
)
def delete_retraining_rule(request: HttpRequest, plan_id: ObjectId):
    """Its learners' certification dates are cleared; its runs and exemptions go with it. 404 without a rule."""
    plan = get_plan_for(request.auth, plan_id)
    require_superadmin(request.auth)
    if not delete_rule(learning_plan=plan, actor=request.auth):
        raise Http404("This learning plan has no retraining rule.")
    return Status(204, None)


def _first_message(refused: ValidationError) -> str:
    """The refused field's message, as the Retraining tab shows it beside the field."""
    if hasattr(refused, "error_dict"):
        return " ".join(next(iter(refused.message_dict.values())))
    return " ".join(refused.messages)


# --- forecast and runs ------------------------------------------------------------------------------------------


@router.get(
    "/learning-plans/{plan_id}/retraining-forecast",
    response={200: DataOut[ForecastOut], **ERRORS},
    summary="How many learners fall due per month over the next 12 months",
)
def get_retraining_forecast(request: HttpRequest, plan_id: ObjectId):
    """Months from this one (UTC), and how many learners the first run would re-enroll today."""
    rule = _rule_of(get_plan_for(request.auth, plan_id))
    return {"data": forecast(rule, today=utc_today())}


@router.post(
    "/learning-plans/{plan_id}/retraining-runs",
    response={200: DataOut[RetrainingRunOut], 202: DataOut[RetrainingRunOut], 409: ErrorOut, **ERRORS},
    summary="Run the plan's retraining rule now (superadmins)",
)
def start_retraining_run(request: HttpRequest, plan_id: ObjectId):
    """202 with today's run when this call started it; 200 with today's run when it already existed (nothing is
    started twice). 409 rule_inactive when the rule is paused or starts later; 404 when the plan has no rule."""
    plan = get_plan_for(request.auth, plan_id)
    require_superadmin(request.auth)
    run, created = start_run(_rule_of(plan), actor=request.auth)
    return Status(202 if created else 200, {"data": _run_for(request.auth, run.pk)})


@router.get(
    "/retraining-runs/{run_id}",
    response={200: DataOut[RetrainingRunOut], **ERRORS},
    summary="A retraining run: its status, counts and jobs",
)
def get_retraining_run(request: HttpRequest, run_id: ObjectId):
    return {"data": _run_for(request.auth, run_id)}


@router.post(
    "/retraining-runs/{run_id}/confirm",
    response={200: DataOut[RetrainingRunOut], **ERRORS},
    summary="Confirm a run awaiting confirmation (superadmins)",
)
def confirm_retraining_run(request: HttpRequest, run_id: ObjectId, body: ConfirmIn):
    """`count` must repeat the run's number of learners; the run then starts. A run not awaiting confirmation,
    a run of an earlier day or a wrong count answer 400 invalid_request, and nothing starts."""
    run = _run_for(request.auth, run_id)
    require_superadmin(request.auth)
    if body.count is None:
        message = f"count is required: the number of learners the run archives ({run.selected:,})."
        raise ApiError(400, "invalid_request", message)
    confirm_run(run, actor=request.auth, count=body.count)
    return {"data": _run_for(request.auth, run.pk)}


# --- compliance -------------------------------------------------------------------------------------------------


def compliance_rows(user: User, filters: ComplianceFilters) -> QuerySet[LearningPlanEnrollment]:
    """The learners' compliance in the plans the user sees, filtered; one query per page."""
    rows = LearningPlanEnrollment.objects.filter(learning_plan__in=plans_visible_to(user))
    if filters.learning_plan is not None:
        rows = rows.filter(learning_plan_id=filters.learning_plan)
    if filters.user is not None:
        rows = rows.filter(user_id=filters.user)
    if filters.search:
        rows = ActiveEnrollmentFilter(data={"search": filters.search}, queryset=rows).qs
    rows = with_compliance(rows, today=utc_today())
    if filters.state is not None:
        rows = rows.filter(compliance_state=filters.state)
    return (
        rows.select_related("user", "learning_plan")
        .only(
            "round",
            "completed_at",
            "certified_until",
            "learning_plan__id",
            "learning_plan__title",
            "learning_plan__code",
            "user__id",
            "user__username",
            "user__first_name",
            "user__last_name",
        )
        .order_by("learning_plan_id", "id")
    )


@router.get(
    "/compliance",
    response={200: DataOut[Page[ComplianceOut]], **ERRORS},
    summary="Who is certified, due, retraining, expired, never completed or exempt",
)
def list_compliance(request: HttpRequest, filters: Query[ComplianceFilters] = None, paging: Query[PageParams] = None):
    """One item per learner and plan, by plan then enrollment. Superadmins see every plan, power users theirs;
    managers see compliance only in My team (403 here)."""
    require_plans_section(request.auth)
    return {"data": paginate(compliance_rows(request.auth, filters), paging)}
