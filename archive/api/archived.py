"""API: archived enrollments — a plan's list, one record, its certificate, deleting it (SPEC §7).

Every read starts from `archived_enrollments_visible_to`, as the pages do; deleting goes through the same service.
"""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from enrollments.selectors import get_plan_for
from lms_admin.web.api import ERRORS, KEYED_WRITE_ERRORS, ApiError, DataOut, ObjectId, Page, PageParams, paginate

from ..models import ArchivedCourseEnrollment
from ..selectors import archived_enrollments_visible_to, filter_archived, get_archived_for
from ..services import archived_certificate_response, delete_archived_enrollments
from .idempotency import idempotent
from .schemas import ArchivedEnrollmentDetailOut, ArchivedEnrollmentOut, ArchivedFilters

router = Router()


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
    return {"data": paginate(records, paging)}


@router.get(
    "/archived-enrollments/{archive_id}",
    response={200: DataOut[ArchivedEnrollmentDetailOut], **ERRORS},
    summary="One archived enrollment, with its archived course enrollments",
)
def get_archived_enrollment(request: HttpRequest, archive_id: ObjectId):
    archived = get_archived_for(request.auth, archive_id)
    courses = ArchivedCourseEnrollment.objects.defer("tracking").order_by("position", "id")
    prefetch_related_objects([archived], Prefetch("course_enrollments", queryset=courses))
    return {"data": archived}


@router.delete(
    "/archived-enrollments/{archive_id}",
    response={204: None, **KEYED_WRITE_ERRORS},
    summary="Delete an archived enrollment (superadmins)",
)
@idempotent
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
    archived = get_archived_for(request.auth, archive_id)
    response = archived_certificate_response(archived, actor=request.auth)
    if response is None:
        raise ApiError(404, "not_found", "This archived enrollment has no certificate.")
    return response
