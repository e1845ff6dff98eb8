"""The archive pop-up for one enrollment or a selection: options, a live preview, the confirmation (SPEC §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from lms_admin.web.modals import finish_in_modal, render_modal

from ..exports import selection_csv_response
from ..forms import ArchiveOptionsForm, Selection
from ..previews import preview_one, preview_selection
from ..selectors import get_plan_for_archiving
from ..services import archive_enrollments, check_shared_courses, selected_enrollments, submit_archive

if TYPE_CHECKING:
    from enrollments.models import LearningPlan, LearningPlanEnrollment

# ---------------------------------------------------------------------------------------------- archive one


@login_required
@require_http_methods(["GET", "POST"])
def archive_enrollment(request: HttpRequest, plan_id: int, enrollment_id: int) -> HttpResponse:
    """The row's "Archive enrollment" pop-up: options, a live preview, and the confirmation (SPEC §5)."""
    plan = get_plan_for_archiving(request.user, plan_id)
    try:
        enrollment = selected_enrollments(plan, enrollment_ids=[enrollment_id]).select_related("user").first()
    except ValidationError:
        enrollment = None
    if enrollment is None:
        raise Http404("This enrollment is not in this learning plan any more.")
    shares = check_shared_courses(plan)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    form = ArchiveOptionsForm(request.POST if request.method == "POST" else request.GET, shares=shares)
    if request.method == "POST" and form.is_valid():
        outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=request.user, **form.cleaned_data)
        summary = f"{enrollment.user.display_name}: {outcome.summary()}."
        (messages.success if outcome.archived else messages.warning)(request, summary)
        return finish_in_modal(request, back_url)
    preview = preview_one(enrollment, shares=shares, **form.options())
    context = {
        "plan": plan,
        "enrollment": enrollment,
        "form": form,
        "preview": preview,
        "action_url": request.path,
        "back_url": back_url,
        "errors": form.errors if request.method == "POST" else {},
    }
    template = "archive/includes/preview.html" if _wants_preview(request) else "archive/archive_modal.html"
    return render_modal(request, template, context, status=422 if request.method == "POST" else 200)


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
    data = request.POST if request.method == "POST" else request.GET
    selection = Selection(data)
    shares = check_shared_courses(plan)
    form = ArchiveOptionsForm(data, shares=shares)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    queryset, error = _selected(plan, selection)

    if request.method == "POST" and not error and form.is_valid():
        try:
            submitted = submit_archive(
                learning_plan=plan, actor=request.user, **selection.arguments(), **form.cleaned_data
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if submitted.job is None:
                messages.success(request, submitted.outcome.summary() + ".")
                response = finish_in_modal(request, back_url)
            elif request.htmx:
                response = render(request, "archive/job_started_modal.html", {"job": submitted.job, "plan": plan})
            else:
                job = submitted.job
                messages.success(request, f"Archive job #{job.pk} started for {job.total:,} enrollments.")
                return redirect(job.get_absolute_url())
            return trigger_client_event(response, "selection:clear", {"plan": plan.pk}) if request.htmx else response

    preview = None
    if queryset is not None:
        preview = preview_selection(plan, queryset, shares=shares, **form.options())
    context = {
        "plan": plan,
        "form": form,
        "selection": selection,
        "selection_error": error,
        "preview": preview,
        "action_url": request.path,
        "csv_url": reverse("archive:bulk_preview_csv", args=[plan.pk]) + "?" + selection.query(),
        "back_url": back_url,
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
