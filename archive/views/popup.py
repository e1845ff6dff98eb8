"""The archive pop-up for one enrollment or a selection: options, a live preview, the confirmation (SPEC §5).

Every pop-up carries a signed request key made when it opens, and the single one the round it shows (SPEC §4.10):
its confirmation runs once, and a repeat (a double click, a resubmitted page) gets the first answer back.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from lms_admin.web.modals import finish_in_modal, render_modal

from ..exports import selection_csv_response
from ..forms import ArchiveOneForm, ArchiveOptionsForm, Selection
from ..models import ArchivedPlanEnrollment, Outcome, RequestKey
from ..previews import preview_changes, preview_one, preview_selection
from ..selectors import get_job_for, get_plan_for_archiving
from ..services import (
    RequestKeyClaim,
    check_shared_courses,
    once_per_request_key,
    page_fingerprint,
    page_key_from,
    selected_enrollments,
    sign_page_key,
    submit_archive,
)

if TYPE_CHECKING:
    from enrollments.models import LearningPlan, LearningPlanEnrollment

LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING}

# ---------------------------------------------------------------------------------------------- request keys


def kept_request_key(data: QueryDict, path: str) -> str:
    """The pop-up's key for a render: the one it already carries (preview and error re-renders keep it), or a new
    one when it opens."""
    try:
        page_key_from(data.get("request_key"), path)
    except ValidationError:
        return sign_page_key(path)
    return data["request_key"]


def once_per_page_key(request: HttpRequest, key: str) -> AbstractContextManager[RequestKeyClaim]:
    """Claim a pop-up's key for this confirmation (see `once_per_request_key`)."""
    return once_per_request_key(
        caller=request.user, scope=RequestKey.Scope.PAGE, key=key, fingerprint=page_fingerprint(request.path)
    )


def finish_with(request: HttpRequest, answer: dict[str, Any], back_url: str) -> HttpResponse:
    """Show a confirmation's answer (the first time, or again to its repeat) and leave the pop-up."""
    messages.add_message(request, LEVELS.get(answer.get("level"), messages.INFO), answer["message"])
    return finish_in_modal(request, answer.get("back_url") or back_url)


def answer_repeat(request: HttpRequest, claim: RequestKeyClaim, back_url: str) -> HttpResponse:
    """A confirmation whose key was used already: the first answer, or "still being processed" while it runs."""
    if claim.replayed:
        return finish_with(request, claim.response, back_url)
    return render_modal(request, "archive/request_in_use_modal.html", {"back_url": back_url}, status=409)


# ---------------------------------------------------------------------------------------------- archive one


@login_required
@require_http_methods(["GET", "POST"])
def archive_enrollment(request: HttpRequest, plan_id: int, enrollment_id: int) -> HttpResponse:
    """The row's "Archive enrollment" pop-up: options, a live preview, and the confirmation (SPEC §5)."""
    plan = get_plan_for_archiving(request.user, plan_id)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    if request.method == "POST":
        return _confirm_one(request, plan, enrollment_id, back_url)
    enrollment = _live_enrollment(plan, enrollment_id)
    if enrollment is None:
        raise Http404("This enrollment is not in this learning plan any more.")
    form = ArchiveOneForm(request.GET, shares=check_shared_courses(plan))
    return _one_popup(request, plan, enrollment, form, kept_request_key(request.GET, request.path), back_url)


def _confirm_one(request: HttpRequest, plan: LearningPlan, enrollment_id: int, back_url: str) -> HttpResponse:
    """Archive the round the pop-up showed, once per request key."""
    form = ArchiveOneForm(request.POST, shares=check_shared_courses(plan))
    try:
        key = page_key_from(request.POST.get("request_key"), request.path)
    except ValidationError as exc:
        enrollment = _live_enrollment(plan, enrollment_id)
        if enrollment is None:
            raise Http404("This enrollment is not in this learning plan any more.") from exc
        return _one_popup(
            request, plan, enrollment, form, sign_page_key(request.path), back_url, refusal=exc.message, status=422
        )
    with once_per_page_key(request, key) as claim:
        if not claim.is_new:
            return answer_repeat(request, claim, back_url)
        enrollment = _live_enrollment(plan, enrollment_id)
        if not form.is_valid():
            if enrollment is None:
                raise Http404("This enrollment is not in this learning plan any more.")
            return _one_popup(request, plan, enrollment, form, _posted_key(request), back_url, status=422)
        options = form.options()
        shown = form.cleaned_data["round"]
        try:
            # A row gone meanwhile goes to the engine too: it tells "that round was archived" from "not found".
            outcome = submit_archive(
                learning_plan=plan, actor=request.user, enrollment_ids=[enrollment_id], rounds=[shown], **options
            ).outcome
        except ValidationError as exc:
            if enrollment is None:
                raise Http404(" ".join(exc.messages)) from exc
            refusal = " ".join(exc.messages)
            return _one_popup(
                request, plan, enrollment, form, _posted_key(request), back_url, refusal=refusal, status=422
            )
        item = outcome.items[0]
        if item.outcome == Outcome.SKIPPED_ALREADY_ARCHIVED:
            message = _round_taken(enrollment_id, shown) or item.message
        elif enrollment is not None:
            message = f"{enrollment.user.display_name}: {outcome.summary()}."
        else:
            message = item.message
        answer = {"message": message, "level": "success" if outcome.archived else "warning"}
        claim.answer(200, answer)
    return finish_with(request, answer, back_url)


def _posted_key(request: HttpRequest) -> str:
    """The signed key a confirmation came with (checked already), for its error re-render."""
    return request.POST["request_key"]


def _live_enrollment(plan: LearningPlan, enrollment_id: int) -> LearningPlanEnrollment | None:
    try:
        return selected_enrollments(plan, enrollment_ids=[enrollment_id]).select_related("user").first()
    except ValidationError:
        return None


def _round_taken(enrollment_id: int, round_: int) -> str:
    """The "Round 1 was already archived on … by …" message, from the snapshot of that round ("" without one)."""
    first = (
        ArchivedPlanEnrollment.objects.filter(enrollment_id=enrollment_id, round=round_)
        .values("archived_at", "archived_by_username")
        .first()
    )
    if first is None:
        return ""
    when = timezone.localtime(first["archived_at"]).strftime("%Y-%m-%d %H:%M")
    return f"Round {round_} was already archived on {when} by {first['archived_by_username']}. Nothing was archived."


def _one_popup(
    request: HttpRequest,
    plan: LearningPlan,
    enrollment: LearningPlanEnrollment,
    form: ArchiveOneForm,
    request_key: str,
    back_url: str,
    *,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    preview = preview_one(enrollment, shares=form.shares, **form.options())
    context = {
        "plan": plan,
        "enrollment": enrollment,
        "form": form,
        "preview": preview,
        "action_url": request.path,
        "back_url": back_url,
        "request_key": request_key,
        "refusal": refusal,
        "errors": form.errors if request.method == "POST" else {},
    }
    template = "archive/includes/preview.html" if _wants_preview(request) else "archive/archive_modal.html"
    return render_modal(request, template, context, status=status)


def _wants_preview(request: HttpRequest) -> bool:
    return bool(request.htmx) and request.htmx.target == "archive-preview"


# ---------------------------------------------------------------------------------------------- archive many


def _selected(plan: LearningPlan, selection: Selection) -> tuple[QuerySet[LearningPlanEnrollment] | None, str]:
    """The selection's enrollments, or None and a message saying why it cannot be archived."""
    if selection.error:
        return None, selection.error
    try:
        return selected_enrollments(plan, **selection.arguments()), ""
    except ValidationError as exc:
        return None, " ".join(exc.messages)


@login_required
@require_http_methods(["GET", "POST"])
def bulk_archive(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The pop-up for a selection: the preview of the whole selection, then the archive — one enrollment at once,
    more as a background job whose progress it shows."""
    plan = get_plan_for_archiving(request.user, plan_id)
    if request.method == "POST":
        return _confirm_selection(request, plan)
    selection = Selection(request.GET)
    form = ArchiveOptionsForm(request.GET, shares=check_shared_courses(plan))
    queryset, error = _selected(plan, selection)
    request_key = kept_request_key(request.GET, request.path)
    return _selection_popup(request, plan, selection, form, queryset, request_key, error=error)


def _confirm_selection(request: HttpRequest, plan: LearningPlan) -> HttpResponse:
    """Archive the selection (one enrollment now, more as a job) once per request key."""
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    selection = Selection(request.POST)
    form = ArchiveOptionsForm(request.POST, shares=check_shared_courses(plan))
    try:
        key = page_key_from(request.POST.get("request_key"), request.path)
    except ValidationError as exc:
        queryset, _ = _selected(plan, selection)
        return _selection_popup(
            request, plan, selection, form, queryset, sign_page_key(request.path), error=exc.message
        )
    with once_per_page_key(request, key) as claim:
        if claim.replayed and claim.response.get("job_id"):
            return _show_job(request, plan, claim.response, back_url)
        if not claim.is_new:
            return _cleared(request, plan, answer_repeat(request, claim, back_url))
        queryset, error = _selected(plan, selection)
        if error or not form.is_valid():
            return _selection_popup(request, plan, selection, form, queryset, _posted_key(request), error=error)
        try:
            submitted = submit_archive(
                learning_plan=plan, actor=request.user, **selection.arguments(), **form.cleaned_data
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
            return _selection_popup(request, plan, selection, form, queryset, _posted_key(request), error=error)
        if submitted.job is not None:
            job = submitted.job
            answer = {"message": f"Archive job #{job.pk} started for {job.total:,} enrollments.", "job_id": job.pk}
            claim.answer(200, {**answer, "level": "success"})
            return _show_job(request, plan, answer, back_url)
        outcome = submitted.outcome
        answer = {"message": outcome.summary() + ".", "level": "success" if outcome.archived else "warning"}
        claim.answer(200, answer)
    return _cleared(request, plan, finish_with(request, answer, back_url))


def _show_job(request: HttpRequest, plan: LearningPlan, answer: dict[str, Any], back_url: str) -> HttpResponse:
    """The job a confirmation started: its progress in the pop-up (htmx), or its page."""
    try:
        job = get_job_for(request.user, answer["job_id"])
    except Http404:  # purged meanwhile: the message is all there is to show
        return _cleared(request, plan, finish_with(request, answer, back_url))
    if not request.htmx:
        messages.success(request, answer["message"])
        return redirect(job.get_absolute_url())
    return _cleared(request, plan, render(request, "archive/job_started_modal.html", {"job": job, "plan": plan}))


def _cleared(request: HttpRequest, plan: LearningPlan, response: HttpResponse) -> HttpResponse:
    """The page's selection is spent once the archive ran: tell it to forget the ticked rows."""
    return trigger_client_event(response, "selection:clear", {"plan": plan.pk}) if request.htmx else response


def _selection_popup(
    request: HttpRequest,
    plan: LearningPlan,
    selection: Selection,
    form: ArchiveOptionsForm,
    queryset: QuerySet[LearningPlanEnrollment] | None,
    request_key: str,
    *,
    error: str = "",
) -> HttpResponse:
    preview = None
    if queryset is not None:
        preview = preview_changes(
            plan, queryset, preview_selection(plan, queryset, shares=form.shares, **form.options())
        )
    context = {
        "plan": plan,
        "form": form,
        "selection": selection,
        "selection_error": error,
        "preview": preview,
        "action_url": request.path,
        "csv_url": reverse("archive:bulk_preview_csv", args=[plan.pk]) + "?" + selection.query(),
        "back_url": reverse("enrollments:plan_enrollments", args=[plan.pk]),
        "request_key": request_key,
        "errors": form.errors if request.method == "POST" else {},
    }
    template = "archive/includes/preview.html" if _wants_preview(request) else "archive/bulk_modal.html"
    status = 422 if error or (request.method == "POST") else 200
    return render_modal(request, template, context, status=status)


@login_required
@require_GET
def bulk_preview_csv(request: HttpRequest, plan_id: int) -> StreamingHttpResponse:
    """The enrollments a bulk archive would take, as CSV (streamed, one query)."""
    plan = get_plan_for_archiving(request.user, plan_id)
    queryset, error = _selected(plan, Selection(request.GET))
    if queryset is None:
        raise Http404(error)
    return selection_csv_response(plan, queryset)
