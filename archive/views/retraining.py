"""The plan's Retraining tab (SPEC §11): the rule form with its live forecast, the dry-run CSV, the runs with Run now
and Confirm, the exemptions. Superadmins edit; the plan's power users read."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enrollments import selectors as live
from enrollments.models import EnrollmentStatus, LearningPlan, LearningPlanEnrollment, ResetTracking, RetrainingRule
from enrollments.retraining import clean_rule, delete_rule, save_rule
from lms_admin.accounts import roles
from lms_admin.web.csv import csv_response, iso
from lms_admin.web.modals import render_modal

from ..compliance import due_rounds, forecast
from ..content import completed_again_count
from ..models import ArchiveJob, RetrainingExemption, RetrainingRun
from ..retraining_forms import NEW_RULE, RULE_FIELDS, ConfirmRunForm, ExemptionForm, RuleForm
from ..retraining_preview import forecast_chart, forecast_of_values
from ..services.exemptions import add_exemption, remove_exemption
from ..services.retraining import confirm_run, start_run, utc_today

RUNS_SHOWN = 20
SKIP_LABELS = {"exempt": "exempt", "merged_user": "merged user", "user_status": "user status not chosen"}
DRY_RUN_HEADER = ("enrollment_id", "username", "name", "round", "completed_at", "certified_until", "due_from")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _retraining_url(plan: LearningPlan, anchor: str = "") -> str:
    return reverse("archive:retraining", args=[plan.pk]) + (f"#{anchor}" if anchor else "")


def _rule_of(plan: LearningPlan) -> RetrainingRule | None:
    return RetrainingRule.objects.filter(learning_plan=plan).select_related("saved_by").first()


def _editable_plan(request: HttpRequest, plan_id: int) -> tuple[LearningPlan, RetrainingRule | None]:
    """The plan for a write: 403 without the plans section, 404 when not visible, 403 unless superadmin."""
    plan = live.get_plan_for(request.user, plan_id)
    roles.require_superadmin(request.user)
    return plan, _rule_of(plan)


def _forecast_context(plan: LearningPlan, rule: RetrainingRule | None, form: RuleForm | None) -> dict:
    """The forecast of a bound form's values when they are a valid rule (else its refusal), or of the saved rule;
    a plan without a rule shows what the new rule's proposed values would do."""
    today = utc_today()
    context: dict = {"forecast": None, "forecast_error": "", "forecast_of": "saved"}
    if form is not None and form.is_bound:
        if form.is_valid():
            context["forecast"] = forecast_of_values(plan, form.rule_fields, saved=rule, today=today)
            context["forecast_of"] = "saved" if rule and _same_rule(rule, form.rule_fields) else "form"
        else:
            context["forecast_error"] = next(iter(e for errors in form.errors.values() for e in errors), "")
    elif rule is not None:
        context["forecast"] = forecast(rule, today=today)
    else:
        context["forecast"] = forecast_of_values(plan, clean_rule(NEW_RULE), saved=None, today=today)
        context["forecast_of"] = "form"
    if context["forecast"] is not None:
        context["chart"] = forecast_chart(context["forecast"])
    shown = form if form is not None else RuleForm(rule=rule)
    if shown.keeps_tracking:  # §13's count: who a keep-tracking round would leave with nothing to do
        completed = plan.enrollments.filter(status=EnrollmentStatus.COMPLETED).values_list("user_id", flat=True)
        context["completed_again"] = completed_again_count(plan, list(completed), ResetTracking.KEEP)
    return context


def _same_rule(rule: RetrainingRule, fields: dict) -> bool:
    """Whether the form's cleaned values are the saved rule's (compared as stored: "true" is the rule's True)."""

    def stored(name: str, value: Any) -> Any:
        return RetrainingRule._meta.get_field(name).get_prep_value(value)

    return all(stored(name, getattr(rule, name)) == stored(name, value) for name, value in fields.items())


def _render_page(
    request: HttpRequest,
    plan: LearningPlan,
    rule: RetrainingRule | None,
    *,
    form: RuleForm | None = None,
    exemption_form: ExemptionForm | None = None,
    confirm_errors: dict[int, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    can_edit = roles.is_superadmin(request.user)
    shown_form = form or RuleForm(rule=rule)
    runs, exemptions = [], []
    if rule is not None:
        jobs = Prefetch("jobs", queryset=ArchiveJob.objects.order_by("id").only("id", "status", "retraining_run_id"))
        runs = list(RetrainingRun.objects.filter(rule=rule).prefetch_related(jobs)[:RUNS_SHOWN])
        for run in runs:
            run.confirm_errors = (confirm_errors or {}).get(run.pk, [])
            run.skipped_shown = [(SKIP_LABELS.get(reason, reason), n) for reason, n in sorted(run.skipped.items())]
        exemptions = list(
            RetrainingExemption.objects.filter(rule=rule)
            .select_related("user", "created_by")
            .order_by("user__username")
        )
    context = {
        "plan": plan,
        "rule": rule,
        "can_edit": can_edit,
        "form": shown_form,
        "runs": runs,
        "exemptions": exemptions,
        "exemption_form": exemption_form or ExemptionForm(),
        "today": utc_today(),
        "nav_section": "plans",
        "plan_tab": "retraining",
        **_forecast_context(plan, rule, form),
    }
    return render(request, "archive/retraining.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def retraining(request: HttpRequest, plan_id: int) -> HttpResponse:
    """GET: the Retraining tab. POST (superadmins): save the rule; a refusal shows beside its field, nothing saved."""
    if request.method == "GET":
        plan = live.get_plan_for(request.user, plan_id)
        return _render_page(request, plan, _rule_of(plan))
    plan, rule = _editable_plan(request, plan_id)
    form = RuleForm(request.POST, rule=rule)
    if not form.is_valid():
        return _render_page(request, plan, rule, form=form, status=422)
    try:
        saved = save_rule(learning_plan=plan, actor=request.user, data=form.rule_data())
    except ValidationError as exc:
        form.add_error(None, exc)
        return _render_page(request, plan, rule, form=form, status=422)
    verb = "created" if saved.created else "saved"
    if saved.redated or saved.created:
        dated = f"Certification dates set for {_count(saved.redated, 'completed round')} of this plan."
    else:
        dated = "The certification dates did not change."
    messages.success(request, f"The retraining rule was {verb}. {dated}")
    return redirect("archive:retraining", plan.pk)


@login_required
@require_GET
def retraining_forecast(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The forecast panel for the rule form's values (htmx, as they change), or for the saved rule without them."""
    plan = live.get_plan_for(request.user, plan_id)
    rule = _rule_of(plan)
    form = RuleForm(request.GET, rule=rule) if any(name in request.GET for name in RULE_FIELDS) else None
    context = {
        "plan": plan,
        "rule": rule,
        "form": form or RuleForm(rule=rule),
        "can_edit": roles.is_superadmin(request.user),
        "oob": True,
    }
    context.update(_forecast_context(plan, rule, form))
    return render(request, "archive/includes/retraining_forecast.html", context)


@login_required
@require_GET
def retraining_dry_run(request: HttpRequest, plan_id: int) -> StreamingHttpResponse:
    """Exactly who a run would archive today, as CSV (the due set without the learners a run leaves alone)."""
    plan = live.get_plan_for(request.user, plan_id)
    rule = _rule_of(plan)
    if rule is None:
        raise Http404("This learning plan has no retraining rule.")
    today = utc_today()
    chosen = {r.enrollment_id: r.round for r in due_rounds(today=today, rule_ids=[rule.pk]) if r.skip_reason is None}
    rows = (
        LearningPlanEnrollment.objects.filter(pk__in=list(chosen))
        .order_by("pk")
        .values_list("pk", "user__username", "user__first_name", "user__last_name", "completed_at", "certified_until")
    )

    def lines():
        for pk, username, first, last, completed_at, until in rows.iterator(chunk_size=2000):
            due = until - datetime.timedelta(days=rule.window_days) if until else None
            yield (pk, username, f"{first} {last}".strip(), chosen[pk], iso(completed_at), iso(until), iso(due))

    filename = f"retraining-dry-run-{plan.code or plan.pk}-{today:%Y-%m-%d}.csv"
    return csv_response(DRY_RUN_HEADER, lines(), filename=filename)


@login_required
@require_http_methods(["GET", "POST"])
def retraining_rule_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    """GET: the confirmation (a pop-up with htmx). POST: delete the rule and clear its learners' dates."""
    plan, rule = _editable_plan(request, plan_id)
    if rule is None:
        messages.info(request, "This learning plan has no retraining rule.")
        return redirect("archive:retraining", plan.pk)
    dated = LearningPlanEnrollment.objects.filter(learning_plan=plan, certified_until__isnull=False).count()
    if request.method == "GET":
        context = {
            "plan": plan,
            "rule": rule,
            "dated": dated,
            "back_url": _retraining_url(plan),
        }
        return render_modal(request, "archive/retraining_delete_modal.html", context)
    delete_rule(learning_plan=plan, actor=request.user)
    messages.success(
        request,
        f"The retraining rule was deleted; the certification dates of {_count(dated, 'learner')} were cleared. "
        "No run will start for this plan.",
    )
    return redirect("archive:retraining", plan.pk)


@login_required
@require_POST
def retraining_run_now(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Start today's run of the plan's rule now (or say that today's run exists, or why the rule does not run)."""
    plan, rule = _editable_plan(request, plan_id)
    if rule is None:
        messages.error(request, "This learning plan has no retraining rule to run.")
        return redirect("archive:retraining", plan.pk)
    try:
        run, created = start_run(rule, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("archive:retraining", plan.pk)
    learners = _count(run.selected, "learner")
    if not created:
        messages.info(
            request,
            f"Today's run exists already ({run.get_status_display().lower()}, {learners} selected); nothing new was "
            "started.",
        )
    elif run.status == RetrainingRun.Status.AWAITING_CONFIRMATION:
        messages.warning(request, f"Today's run selected {learners}; it waits for a superadmin to confirm the number.")
    elif run.selected:
        messages.success(request, f"Today's run started: {learners} are being archived and re-enrolled.")
    else:
        messages.success(request, "Today's run found nobody to re-enroll; it is complete.")
    return redirect(_retraining_url(plan, f"run-{run.pk}"))


@login_required
@require_POST
def retraining_run_confirm(request: HttpRequest, plan_id: int, run_id: int) -> HttpResponse:
    """Confirm a run waiting for it by typing its number of learners; a wrong number starts nothing."""
    plan, rule = _editable_plan(request, plan_id)
    run = RetrainingRun.objects.filter(pk=run_id, rule__learning_plan=plan).first()
    if run is None:
        raise Http404("No such run of this plan's rule.")
    form = ConfirmRunForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            run = confirm_run(run, actor=request.user, count=form.cleaned_data["count"])
        except ValidationError as exc:
            error = exc.messages[0]
    else:
        error = form.errors["count"][0]
    if error:
        return _render_page(request, plan, rule, confirm_errors={run.pk: [error]}, status=422)
    messages.success(
        request,
        f"Run of {run.run_date:%Y-%m-%d} confirmed: {_count(run.selected, 'learner')} are being archived and "
        "re-enrolled.",
    )
    return redirect(_retraining_url(plan, f"run-{run.pk}"))


@login_required
@require_POST
def exemption_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Exempt a learner from the plan's rule; every refusal shows beside its field and adds nothing."""
    plan, rule = _editable_plan(request, plan_id)
    form = ExemptionForm(request.POST)
    if rule is None:
        form.add_error(None, "Save the plan's retraining rule first: exemptions belong to it.")
    elif form.is_valid():
        try:
            exemption = add_exemption(
                rule=rule,
                user=form.cleaned_data["user"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
                until=form.cleaned_data["until"],
                today=utc_today(),
            )
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                form.add_error(field, errors)
        else:
            until = f"until {exemption.until:%Y-%m-%d}" if exemption.until else "with no end date"
            messages.success(request, f"{exemption.user.display_name} is exempt from the retraining rule {until}.")
            return redirect(_retraining_url(plan, "exemptions"))
    return _render_page(request, plan, rule, exemption_form=form, status=422)


@login_required
@require_POST
def exemption_remove(request: HttpRequest, plan_id: int, exemption_id: int) -> HttpResponse:
    """Remove an exemption: the learner's next due round is archived by the rule again."""
    plan, rule = _editable_plan(request, plan_id)
    exemption = (
        RetrainingExemption.objects.filter(pk=exemption_id, rule__learning_plan=plan)
        .select_related("user", "rule")
        .first()
    )
    if exemption is None:
        raise Http404("No such exemption of this plan's rule.")
    remove_exemption(exemption=exemption, actor=request.user)
    messages.success(request, f"{exemption.user.display_name} is no longer exempt from the retraining rule.")
    return redirect(_retraining_url(plan, "exemptions"))
