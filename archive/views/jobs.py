"""Background jobs: the list, a job's page with its items and CSV, the live progress panel, Cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from lms_admin.accounts import roles
from lms_admin.accounts.models import User
from lms_admin.web.lists import list_context, parse_list_params
from lms_admin.web.modals import REFRESH_EVENT
from lms_admin.web.pager import paginate
from lms_admin.web.tables import PreparedRows

from ..exports import job_items_csv_response
from ..models import ArchiveJob, ArchiveJobItem, Outcome
from ..selectors import JOB_ITEM_LIST, JOB_LIST, get_job_for, jobs_visible_to
from ..services import cancel_archive_job
from ..tables import JobItemTable, JobTable


def _require_jobs_section(user: User) -> None:
    roles.require_admin_role(user)
    if not roles.is_superadmin(user):
        raise PermissionDenied("Background jobs are for superadmins.")


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    _require_jobs_section(request.user)
    params = parse_list_params(request.GET, JOB_LIST)
    page = paginate(jobs_visible_to(request.user), JOB_LIST, params)
    context = {**list_context(request, params, page), "table": JobTable(PreparedRows(page.rows)), "nav_section": "jobs"}
    return render(request, "archive/job_list.html", context)


def _visible_job(user: User, pk: int) -> ArchiveJob:
    roles.require_admin_role(user)
    return get_job_for(user, pk)


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's progress, counts and per-item outcomes (filterable by outcome), with its CSV and Cancel."""
    job = _visible_job(request.user, pk)
    outcome = request.GET.get("outcome", "")
    items = ArchiveJobItem.objects.filter(job=job)
    if outcome and outcome in Outcome.values:
        items = items.filter(outcome=outcome)
    elif outcome:
        messages.warning(request, f"“{outcome}” is not an outcome; showing every item.")
        outcome = ""
    counts = dict(ArchiveJobItem.objects.filter(job=job).values_list("outcome").annotate(n=Count("*")))
    params = parse_list_params(request.GET, JOB_ITEM_LIST)
    keep = QueryDict(mutable=True)  # the pager's links keep a valid outcome only
    if outcome:
        keep["outcome"] = outcome
    page = paginate(items, JOB_ITEM_LIST, params)
    table = JobItemTable(PreparedRows(page.rows))
    table.caption = f"Items of job #{job.pk}"
    context = {
        **list_context(request, params, page, keep),
        "table": table,
        "job": job,
        "outcome": outcome,
        "outcomes": [(value, label, counts.get(value, 0)) for value, label in Outcome.choices],
        "csv_url": reverse("archive:job_items_csv", args=[job.pk]) + (f"?outcome={outcome}" if outcome else ""),
        "nav_section": "jobs",
    }
    return render(request, "archive/job_detail.html", context)


@login_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live progress panel (htmx polls it every second until the job is finished). Rendered without the
    context processors: the panel shows only the job, and each poll saves their queries (SPEC §9: ten browsers
    polling cost ≤ 5 % of a core)."""
    job = _visible_job(request.user, pk)
    response = HttpResponse(render_to_string("archive/includes/job_progress.html", {"job": job}))
    return trigger_client_event(response, REFRESH_EVENT) if job.is_finished else response


@login_required
@require_GET
def job_items_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = _visible_job(request.user, pk)
    outcome = request.GET.get("outcome") or None
    return job_items_csv_response(job, outcome=outcome if outcome in Outcome.values else None)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _visible_job(request.user, pk)
    try:
        cancel_archive_job(job, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Archive job #{job.pk}: cancel requested; it stops after the current batch.")
    return redirect(job.get_absolute_url())
