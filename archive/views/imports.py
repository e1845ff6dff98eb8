"""Archive from a file (SPEC §12), superadmins only: upload a CSV, read its report, download its errors, archive its
valid rows, follow their jobs on one progress page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lms_admin.accounts import roles
from lms_admin.accounts.models import User

from ..exports import import_errors_csv_response
from ..import_forms import ArchiveImportForm
from ..import_report import ERRORS_SHOWN, error_rows, import_status, plan_summaries
from ..models import ArchiveImport, ArchiveJob
from ..services import ImportFileError, form_options, page_key_from, sign_page_key, submit_import, validate_import


def _require_superadmin(user: User) -> None:
    roles.require_admin_role(user)
    if not roles.is_superadmin(user):
        raise PermissionDenied("Archiving from a file is for superadmins.")


def _import_for(user: User, pk: int) -> ArchiveImport:
    _require_superadmin(user)
    return get_object_or_404(ArchiveImport, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    """The upload form; a valid file becomes an import and its report (nothing live is written)."""
    _require_superadmin(request.user)
    if request.method == "GET":
        return _upload_page(request, ArchiveImportForm())
    form = ArchiveImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=422)
    upload = form.cleaned_data["file"]
    data = upload.read(settings.ARCHIVE_IMPORT_MAX_BYTES + 1)
    try:
        options = form_options(
            mode=form.cleaned_data["mode"],
            reset_tracking=form.cleaned_data["reset_tracking"],
            notify=form.cleaned_data["notify"],
        )
        archive_import, created = validate_import(data=data, file_name=upload.name, actor=request.user, options=options)
    except ImportFileError as refused:
        form.add_error("file", f"{refused.message} ({refused.code})")
        return _upload_page(request, form, status=refused.status)
    except ValidationError as refused:
        form.add_error(None, " ".join(refused.messages))
        return _upload_page(request, form, status=422)
    if not created:
        messages.info(request, "This file was uploaded already with the same options: here is its report.")
    return redirect(archive_import.get_absolute_url())


def _upload_page(request: HttpRequest, form: ArchiveImportForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "max_rows": settings.ARCHIVE_IMPORT_MAX_ROWS,
        "max_megabytes": settings.ARCHIVE_IMPORT_MAX_BYTES // (1024 * 1024),
        "nav_section": "plans",
    }
    return render(request, "archive/import_upload.html", context, status=status)


@login_required
@require_GET
def import_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Totals, per plan counts, the rows in error; Download the errors and Archive N valid rows."""
    archive_import = _import_for(request.user, pk)
    submit_path = reverse("archive:import_submit", args=[pk])
    errors = list(error_rows(archive_import)[:ERRORS_SHOWN])
    context = {
        "import": archive_import,
        "status": import_status(archive_import),
        "plans": plan_summaries(archive_import),
        "errors": errors,
        "errors_more": archive_import.error_rows - len(errors),
        "request_key": sign_page_key(submit_path),
        "nav_section": "plans",
    }
    return render(request, "archive/import_report.html", context)


@login_required
@require_GET
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    return import_errors_csv_response(_import_for(request.user, pk))


@login_required
@require_POST
def import_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Archive N valid rows: the jobs start once, whatever is repeated; the answer is their progress page."""
    archive_import = _import_for(request.user, pk)
    try:
        page_key_from(request.POST.get("request_key"), request.path)
        outcome = submit_import(archive_import, actor=request.user)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect(archive_import.get_absolute_url())
    if outcome.started:
        messages.success(request, f"{archive_import.valid_rows:,} rows are being archived by {len(outcome.jobs)} jobs.")
    else:
        messages.info(request, "This import was submitted already: here are its jobs.")
    return redirect("archive:import_progress", pk=pk)


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The combined progress of the import's jobs; htmx polls the panel every second until all are finished."""
    archive_import = _import_for(request.user, pk)
    jobs = list(archive_import.jobs.order_by("learning_plan_title", "pk"))
    context = {"import": archive_import, "jobs": jobs, **_combined(jobs), "nav_section": "plans"}
    if request.htmx:
        return render(request, "archive/includes/import_progress.html", context)
    return render(request, "archive/import_progress.html", context)


def _combined(jobs: list[ArchiveJob]) -> dict:
    total = sum(job.total for job in jobs)
    processed = sum(job.processed for job in jobs)
    counts: dict[str, int] = {}
    for job in jobs:
        for outcome, n in job.outcome_counts.items():
            counts[outcome] = counts.get(outcome, 0) + n
    return {
        "total": total,
        "processed": processed,
        "progress": int(100 * processed / total) if total else 100,
        "counts": {outcome: n for outcome, n in counts.items() if n},
        "finished": all(job.is_finished for job in jobs),
    }
