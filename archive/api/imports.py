"""API: archive from a file (SPEC §12) — upload a CSV, read its report and errors, archive its valid rows.

Superadmins only: every route refuses anyone else with 403 before it reads anything.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest
from django.urls import reverse
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.web.api import ERRORS, ApiError, DataOut, ErrorOut, ObjectId

from ..exports import import_errors_csv_response
from ..import_report import import_status, plan_summaries
from ..models import ArchiveImport
from ..services import ImportFileError, form_options, submit_import, validate_import
from .schemas import JobOut

router = Router(tags=["Archive from a file"])


class ImportTotals(Schema):
    rows: int
    valid: int
    errors: int


class ImportPlanOut(Schema):
    id: int
    title: str
    valid: int
    by_status: dict[str, int]
    shared_course: int


class ArchiveImportOut(Schema):
    id: int
    status: str
    file_name: str
    sha256: str
    totals: ImportTotals
    plans: list[ImportPlanOut]
    errors_url: str


class ImportJobsOut(Schema):
    jobs: list[JobOut]


def _import_for(user: User, import_id: int) -> ArchiveImport:
    require_superadmin(user)
    archive_import = ArchiveImport.objects.filter(pk=import_id).first()
    if archive_import is None:
        raise Http404("No such archive import.")
    return archive_import


def _import_data(archive_import: ArchiveImport) -> dict:
    return {
        "id": archive_import.pk,
        "status": import_status(archive_import),
        "file_name": archive_import.file_name,
        "sha256": archive_import.sha256,
        "totals": {
            "rows": archive_import.total_rows,
            "valid": archive_import.valid_rows,
            "errors": archive_import.error_rows,
        },
        "plans": [vars(plan) for plan in plan_summaries(archive_import)],
        "errors_url": reverse("api:api-root") + f"archive-imports/{archive_import.pk}/errors",
    }


@router.post(
    "/archive-imports",
    response={200: DataOut[ArchiveImportOut], 201: DataOut[ArchiveImportOut], 413: ErrorOut, **ERRORS},
    summary="Upload a CSV to archive from (superadmins)",
)
def upload_archive_import(
    request: HttpRequest,
    file: File[UploadedFile] = None,
    mode: Form[str] = None,
    reset_tracking: Form[str] = "false",
    notify: Form[str] = "true",
):
    """Multipart: the CSV as `file`, and the defaults a row's empty cells take. 201 with the validated import;
    nothing live is written. The same file (sha256) with the same defaults, while its first import is still
    validated, answers 200 with that import. A refused file answers 400 with its code (413 file_too_large)."""
    require_superadmin(request.auth)  # before the body is judged: a power user learns nothing from a 400
    if file is None or not mode:
        raise ApiError(400, "invalid_request", "Send the CSV as the multipart field `file`, with `mode`.")
    options = form_options(mode=mode, reset_tracking=reset_tracking, notify=notify)
    data = file.read(settings.ARCHIVE_IMPORT_MAX_BYTES + 1)
    try:
        archive_import, created = validate_import(
            data=data, file_name=file.name or "import.csv", actor=request.auth, options=options
        )
    except ImportFileError as refused:
        raise ApiError(refused.status, refused.code, refused.message) from refused
    return Status(201 if created else 200, {"data": _import_data(archive_import)})


@router.get(
    "/archive-imports/{import_id}",
    response={200: DataOut[ArchiveImportOut], **ERRORS},
    summary="An archive import's report (superadmins)",
)
def get_archive_import(request: HttpRequest, import_id: ObjectId):
    return {"data": _import_data(_import_for(request.auth, import_id))}


@router.get(
    "/archive-imports/{import_id}/errors",
    response={200: None, **ERRORS},
    summary="An archive import's rows in error, as CSV (superadmins)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The rows in error as uploaded, plus an `error` column (code: message).",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def get_archive_import_errors(request: HttpRequest, import_id: ObjectId):
    """The rows as uploaded plus an `error` column: fix them and upload the file again."""
    return import_errors_csv_response(_import_for(request.auth, import_id))


@router.post(
    "/archive-imports/{import_id}/submit",
    response={200: DataOut[ImportJobsOut], 202: DataOut[ImportJobsOut], 409: ErrorOut, **ERRORS},
    summary="Archive an import's valid rows (superadmins)",
)
def submit_archive_import(request: HttpRequest, import_id: ObjectId):
    """202 with the jobs started: one per (plan, mode, reset, notify), each of at most 10,000 rows. Submitting again
    starts nothing: 200 with the same jobs. 409 import_expired after 24 hours."""
    outcome = submit_import(_import_for(request.auth, import_id), actor=request.auth)
    return Status(202 if outcome.started else 200, {"data": {"jobs": outcome.jobs}})
