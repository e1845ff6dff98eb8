"""The archive pop-up for one enrollment or a selection: options, a live preview, the confirmation (SPEC §5)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from enrollments import selectors as live
from enrollments.models import LearningPlan, LearningPlanEnrollment
from lms_admin.web.modals import finish_in_modal, render_modal

from ..exports import selection_csv_response
from ..forms import ArchiveOptionsForm, Selection
from ..models import Outcome
from ..previews import preview_one, preview_selection
from ..selectors import (
    get_plan_for_archiving,
)
from ..services import (
    archive_enrollments,
    check_shared_courses,
    start_archive_job,
)

# ---------------------------------------------------------------------------------------------- archive one


@login_required
@require_http_methods(["GET", "POST"])
def archive_enrollment(request: HttpRequest, plan_id: int, enrollment_id: int) -> HttpResponse:
    """The row's "Archive enrollment" pop-up: options, a live preview, and the confirmation (SPEC §5)."""
    plan = get_plan_for_archiving(request.user, plan_id)
    enrollment = (
        LearningPlanEnrollment.objects.filter(learning_plan=plan, pk=enrollment_id).select_related("user").first()
    )
    if enrollment is None:
        raise Http404("This enrollment is not in this learning plan any more.")
    shares = check_shared_courses(plan)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    form = ArchiveOptionsForm(request.POST if request.method == "POST" else request.GET, shares=shares)
    if request.method == "POST" and form.is_valid():
        outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=request.user, **form.cleaned_data)
        archived = outcome.counts.get(Outcome.ARCHIVED, 0)
        summary = f"{enrollment.user.display_name}: {outcome.summary()}."
        (messages.success if archived else messages.warning)(request, summary)
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
    if selection.select_all:
        try:
            queryset = live.filter_plan_enrollments(plan, selection.filters)
        except ValidationError as exc:
            return None, exc.message
        limit = settings.ARCHIVE_MAX_SELECT_ALL
        if queryset[: limit + 1].count() > limit:
            matching = queryset.order_by().count()
            return None, (
                f"{matching:,} enrollments match these filters; “Select all” archives at most {limit:,}. "
                "Narrow the filters and run it in several jobs."
            )
        return queryset, ""
    queryset = plan.enrollments.filter(pk__in=selection.ids)
    missing = sorted(set(selection.ids) - set(queryset.values_list("pk", flat=True)))
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:20]) + (" …" if len(missing) > 20 else "")
        return None, f"Not active enrollments of “{plan.title}”: {shown}. Nothing was archived."
    return queryset, ""


@login_required
@require_http_methods(["GET", "POST"])
def bulk_archive(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The pop-up for a selection: the preview of the whole selection, then a background job and its progress."""
    plan = get_plan_for_archiving(request.user, plan_id)
    data = request.POST if request.method == "POST" else request.GET
    selection = Selection(data)
    shares = check_shared_courses(plan)
    form = ArchiveOptionsForm(data, shares=shares)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    queryset, error = _selected(plan, selection)

    if request.method == "POST" and not error and form.is_valid():
        if not selection.select_all and len(selection.ids) == 1:  # one enrollment is archived in the request
            outcome = archive_enrollments(enrollment_ids=selection.ids, actor=request.user, **form.cleaned_data)
            messages.success(request, outcome.summary() + ".")
            response = finish_in_modal(request, back_url)
            return trigger_client_event(response, "selection:clear", {"plan": plan.pk}) if request.htmx else response
        try:
            job = start_archive_job(
                learning_plan=plan,
                actor=request.user,
                enrollment_ids=None if selection.select_all else selection.ids,
                select_all_filters=selection.filters if selection.select_all else None,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if not request.htmx:
                messages.success(request, f"Archive job #{job.pk} started for {job.total:,} enrollments.")
                return redirect(job.get_absolute_url())
            response = render(request, "archive/job_started_modal.html", {"job": job, "plan": plan})
            return trigger_client_event(response, "selection:clear", {"plan": plan.pk})

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
