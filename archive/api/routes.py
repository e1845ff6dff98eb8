"""API: archived enrollments, archiving, and archive jobs (SPEC §7).

Reads start from archive/selectors.py (visibility), writes go through archive/services.py,
archive.services — the same services the pages use.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import field_validator

from enrollments.api import LAST_FILTER_DAY, EnrollmentFilters, reject_nul
from enrollments.models import LearningPlanEnrollment
from enrollments.selectors import get_plan_for
from lms_admin.accounts.roles import require_superadmin
from lms_admin.web.api import ERRORS, MAX_ID, ApiError, DataOut, ErrorOut, Page, PageParams, UserRef, paginate

from ..models import ArchivedCourseEnrollment, ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, ArchiveMode, Outcome
from ..selectors import archived_enrollments_visible_to, filter_archived, get_archived_for, get_job_for
from ..services import cancel_archive_job, delete_archived_enrollments, start_archive_job

router = Router(tags=["Archive"])

ObjectId = Annotated[int, Path(..., ge=1, le=MAX_ID)]

# --- archived enrollments -----------------------------------------------------------------------------------


class ArchivedUser(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    display_name: str
    language: str


class ArchivedPlan(Schema):
    id: int
    title: str
    code: str
    uid: str
    status: int
    course_list: str
    credits: str = Field(..., description='Decimal CEUs as a string, e.g. "2.50".')


class ArchivedCertificateOut(Schema):
    url: str = Field(..., description="Download URL of the archived PDF (same authentication as the API).")
    assigned_at: datetime.datetime | None


class ArchivedEnrollmentState(Schema):
    enrolled_at: datetime.datetime
    enrolled_by: UserRef | None
    validity_start: datetime.datetime | None
    validity_end: datetime.datetime | None
    status: str = Field(..., description="Validity state when archived: active, expired or not_yet_valid.")
    completed_at: datetime.datetime | None


class ArchiveOptions(Schema):
    mode: str
    reset_tracking: bool
    notify: bool


class ArchivedEnrollmentOut(Schema):
    id: int
    archived_at: datetime.datetime
    archived_by: UserRef
    user: ArchivedUser
    learning_plan: ArchivedPlan
    certificate: ArchivedCertificateOut | None
    enrollment: ArchivedEnrollmentState
    options: ArchiveOptions


class ArchivedCourse(Schema):
    id: int
    title: str
    code: str
    uid: str
    type: str


class ArchivedCourseEnrollmentOut(Schema):
    course: ArchivedCourse
    enrolled_at: datetime.datetime
    status: int
    completed_at: datetime.datetime | None
    score: str | None = Field(..., description="Decimal as a string, or null.")
    materials_completed: int
    materials_total: int


class ArchivedEnrollmentDetailOut(ArchivedEnrollmentOut):
    course_enrollments: list[ArchivedCourseEnrollmentOut]


class ArchivedFilters(Schema):
    archived_from: datetime.date | None = Field(None, description="Inclusive, YYYY-MM-DD (UTC).")
    archived_to: datetime.date | None = Field(None, le=LAST_FILTER_DAY, description="Inclusive, YYYY-MM-DD (UTC).")
    archived_by: int | None = Field(None, ge=1, le=MAX_ID, description="Id of the user who archived.")
    user_status: Literal["active", "deactivated", "expired"] | None = Field(None, description="As frozen.")
    search: str | None = Field(None, max_length=200, description="Words matching username, first or last name.")

    _no_nul = field_validator("search")(reject_nul)


def _decimal(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def archived_data(record: ArchivedPlanEnrollment, request: HttpRequest) -> dict:
    """One archived record as the API shows it: the frozen copies, never a `*` field of SPEC §4.4."""
    certificate = None
    if record.certificate_id is not None:
        url = request.build_absolute_uri(reverse("api:archived_enrollment_certificate", args=[record.pk]))
        certificate = {"url": url, "assigned_at": record.certificate_assigned_at}
    return {
        "id": record.pk,
        "archived_at": record.archived_at,
        "archived_by": {"id": record.archived_by_id, "username": record.archived_by_username},
        "user": {
            "id": record.user_number,
            "username": record.user_username,
            "first_name": record.user_first_name,
            "last_name": record.user_last_name,
            "display_name": record.user_display_name,
            "language": record.user_language,
        },
        "learning_plan": {
            "id": record.plan_number,
            "title": record.plan_title,
            "code": record.plan_code,
            "uid": str(record.plan_uid),
            "status": record.plan_status,
            "course_list": record.plan_course_list,
            "credits": _decimal(record.plan_credits),
        },
        "certificate": certificate,
        "enrollment": {
            "enrolled_at": record.enrolled_at,
            "enrolled_by": _user_ref(record.enrolled_by_id, record.enrolled_by_username),
            "validity_start": record.validity_start,
            "validity_end": record.validity_end,
            "status": record.enrollment_status,
            "completed_at": record.completed_at,
        },
        "options": {"mode": record.mode, "reset_tracking": record.reset_tracking, "notify": record.notify},
    }


def course_enrollment_data(course: ArchivedCourseEnrollment) -> dict:
    return {
        "course": {
            "id": course.course_number,
            "title": course.course_title,
            "code": course.course_code,
            "uid": str(course.course_uid),
            "type": course.course_type,
        },
        "enrolled_at": course.enrolled_at,
        "status": course.status,
        "completed_at": course.completed_at,
        "score": _decimal(course.score),
        "materials_completed": course.materials_completed,
        "materials_total": course.materials_total,
    }


@router.get(
    "/learning-plans/{plan_id}/archived-enrollments",
    response={200: DataOut[Page[ArchivedEnrollmentOut]], **ERRORS},
    summary="A learning plan's archived enrollments",
)
def list_plan_archived_enrollments(
    request: HttpRequest,
    plan_id: ObjectId,
    filters: Query[ArchivedFilters] = None,
    paging: Query[PageParams] = None,
):
    """Newest archive first. The plan is the live plan the records were archived from."""
    plan = get_plan_for(request.auth, plan_id)
    records = filter_archived(
        archived_enrollments_visible_to(request.auth).filter(learning_plan=plan),
        filters.model_dump(exclude_none=True),
    ).order_by("-archived_at", "-id")
    return {"data": paginate(records, paging, lambda r: archived_data(r, request))}


@router.get(
    "/archived-enrollments/{archive_id}",
    response={200: DataOut[ArchivedEnrollmentDetailOut], **ERRORS},
    summary="One archived enrollment, with its archived course enrollments",
)
def get_archived_enrollment(request: HttpRequest, archive_id: ObjectId):
    archived = get_archived_for(request.auth, archive_id)
    courses = (
        ArchivedCourseEnrollment.objects.filter(plan_archive=archived).defer("tracking").order_by("position", "id")
    )
    return {
        "data": {**archived_data(archived, request), "course_enrollments": [course_enrollment_data(c) for c in courses]}
    }


@router.delete(
    "/archived-enrollments/{archive_id}",
    response={204: None, **ERRORS},
    summary="Delete an archived enrollment (superadmins)",
)
def delete_archived_enrollment(request: HttpRequest, archive_id: ObjectId):
    """Irreversible. The archived certificate file goes when no other archive shares its content."""
    archived = get_archived_for(request.auth, archive_id)
    delete_archived_enrollments(archives=[archived], actor=request.auth)
    return Status(204, None)


@router.get(
    "/archived-enrollments/{archive_id}/certificate",
    response={200: None, **ERRORS},
    summary="Download the archived certificate (PDF)",
    url_name="archived_enrollment_certificate",
    openapi_extra={
        "responses": {
            200: {
                "description": "The certificate PDF as it was when archived.",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_archived_certificate(request: HttpRequest, archive_id: ObjectId):
    from ..services import archived_certificate_response

    archived = get_archived_for(request.auth, archive_id)
    response = archived_certificate_response(archived, actor=request.auth)
    if response is None:
        raise ApiError(404, "not_found", "This archived enrollment has no certificate.")
    return response


# --- archiving -------------------------------------------------------------------------------------------------


class ArchiveIn(Schema):
    enrollment_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, description="Enrollments of this plan to archive. One id is archived at once; two or more start a job."
    )
    select_all: bool = Field(False, description="Archive every enrollment matching `filters` (as a job).")
    filters: EnrollmentFilters | None = Field(None, description="The active-list filters, with select_all.")
    mode: str | None = Field(None, description="reenroll or unenroll.", examples=["reenroll"])
    reset_tracking: bool = False
    notify: bool = True


class ArchivedNowOut(Schema):
    enrollment_id: int
    outcome: str
    archive_id: int | None
    message: str


class JobOut(Schema):
    id: int
    status: str
    mode: str
    reset_tracking: bool
    notify: bool
    total: int
    processed: int
    progress: int = Field(..., ge=0, le=100)
    counts: dict[str, int]
    requested_by: UserRef | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    eta_seconds: int | None
    error: str | None


class JobStartedOut(Schema):
    job: JobOut


def _user_ref(user_id: int | None, username: str) -> dict | None:
    """`{id, username}` of a user as recorded (the id is null once the user is deleted); None when nobody was."""
    if user_id is not None or username:
        return {"id": user_id, "username": username}
    return None


def job_data(job: ArchiveJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "mode": job.mode,
        "reset_tracking": job.reset_tracking,
        "notify": job.notify,
        "total": job.total,
        "processed": job.processed,
        "progress": max(0, min(100, job.progress)),
        "counts": {str(key): int(value) for key, value in (job.counts or {}).items()},
        "requested_by": _user_ref(job.requested_by_id, job.requested_by_username),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "eta_seconds": job.eta_seconds,
        "error": job.error or None,
    }


# A single archive that did not come out archived: how it answers.
SINGLE_OUTCOME_ERRORS = {
    Outcome.SKIPPED_SHARED_COURSE: (409, "shared_course"),
    Outcome.SKIPPED_ALREADY_ARCHIVED: (409, "already_archived"),
    Outcome.NOT_FOUND: (404, "not_found"),
}


@router.post(
    "/learning-plans/{plan_id}/archive",
    response={200: DataOut[ArchivedNowOut], 202: DataOut[JobStartedOut], 409: ErrorOut, **ERRORS},
    summary="Archive enrollments of a learning plan (superadmins)",
)
def archive_plan_enrollments(request: HttpRequest, plan_id: ObjectId, body: ArchiveIn):
    """One enrollment id is archived in the request (200). Two or more, or `select_all`, start a background
    job (202) that `GET /jobs/{id}` follows. Power users get 403; nothing changes on any error."""
    from ..services import archive_enrollments

    plan = get_plan_for(request.auth, plan_id)
    require_superadmin(request.auth)
    if body.mode not in ArchiveMode.values:
        raise ApiError(400, "invalid_mode", f"mode must be one of: {', '.join(ArchiveMode.values)}.")
    ids = list(dict.fromkeys(body.enrollment_ids or []))
    if body.select_all == bool(ids):
        raise ApiError(400, "invalid_selection", "Send either a non-empty enrollment_ids list or select_all: true.")
    if body.filters is not None and not body.select_all:
        raise ApiError(400, "invalid_selection", "filters go with select_all: true.")
    options = {"mode": body.mode, "reset_tracking": body.reset_tracking, "notify": body.notify}

    if len(ids) == 1:
        enrollment_id = ids[0]
        elsewhere = LearningPlanEnrollment.objects.filter(pk=enrollment_id).exclude(learning_plan=plan).exists()
        if elsewhere:
            raise ApiError(400, "invalid_selection", f"Enrollment {enrollment_id} is not in this learning plan.")
        outcome = archive_enrollments(enrollment_ids=ids, actor=request.auth, **options)
        _, result, archive_id, message = outcome.items[0]
        if result == Outcome.ARCHIVED:
            data = {
                "enrollment_id": enrollment_id,
                "outcome": str(result),
                "archive_id": archive_id,
                "message": message,
            }
            return Status(200, {"data": data})
        status, code = SINGLE_OUTCOME_ERRORS.get(result, (500, "archive_failed"))
        raise ApiError(status, code, message or f"Enrollment {enrollment_id} was not archived ({result}).")

    job = start_archive_job(
        learning_plan=plan,
        actor=request.auth,
        enrollment_ids=ids or None,
        select_all_filters=body.filters.as_filters()
        if body.select_all and body.filters
        else ({} if body.select_all else None),
        **options,
    )
    return Status(202, {"data": {"job": job_data(job)}})


# --- jobs -------------------------------------------------------------------------------------------------------


class JobItemOut(Schema):
    enrollment_id: int
    outcome: str | None = Field(..., description="Null while the item is still waiting to be processed.")
    archive_id: int | None
    message: str


class JobItemFilters(Schema):
    outcome: Literal[tuple(Outcome.values)] | None = None  # type: ignore[valid-type]


@router.get("/jobs/{job_id}", response={200: DataOut[JobOut], **ERRORS}, summary="An archive job's progress")
def get_job(request: HttpRequest, job_id: ObjectId):
    return {"data": job_data(get_job_for(request.auth, job_id))}


@router.get(
    "/jobs/{job_id}/items",
    response={200: DataOut[Page[JobItemOut]], **ERRORS},
    summary="An archive job's per-enrollment outcomes",
)
def list_job_items(
    request: HttpRequest, job_id: ObjectId, filters: Query[JobItemFilters] = None, paging: Query[PageParams] = None
):
    """In selection order."""
    job = get_job_for(request.auth, job_id)
    items = ArchiveJobItem.objects.filter(job=job).order_by("position")
    if filters.outcome:
        items = items.filter(outcome=filters.outcome)
    items = items.only("enrollment_id", "outcome", "archive_id", "message")
    return {
        "data": paginate(
            items,
            paging,
            lambda item: {
                "enrollment_id": item.enrollment_id,
                "outcome": item.outcome or None,
                "archive_id": item.archive_id,
                "message": item.message,
            },
        )
    }


@router.post("/jobs/{job_id}/cancel", response={200: DataOut[JobOut], **ERRORS}, summary="Cancel an archive job")
def cancel_job(request: HttpRequest, job_id: ObjectId):
    """A queued job stops at once, a running one after its current batch; done batches stay archived.
    A finished job cannot be cancelled: 400 invalid_request, nothing changes."""
    job = cancel_archive_job(get_job_for(request.auth, job_id), request.auth)
    return {"data": job_data(job)}
