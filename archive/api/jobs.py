"""API: archive jobs — progress, per-enrollment outcomes, cancelling (SPEC §7)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from lms_admin.web.api import ERRORS, KEYED_WRITE_ERRORS, DataOut, ObjectId, Page, PageParams, paginate

from ..models import ArchiveJobItem
from ..selectors import get_job_for
from ..services import cancel_archive_job
from .idempotency import idempotent
from .schemas import JobItemFilters, JobItemOut, JobOut

router = Router()


@router.get("/jobs/{job_id}", response={200: DataOut[JobOut], **ERRORS}, summary="An archive job's progress")
def get_job(request: HttpRequest, job_id: ObjectId):
    return {"data": get_job_for(request.auth, job_id)}


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
    return {"data": paginate(items, paging)}


@router.post(
    "/jobs/{job_id}/cancel", response={200: DataOut[JobOut], **KEYED_WRITE_ERRORS}, summary="Cancel an archive job"
)
@idempotent
def cancel_job(request: HttpRequest, job_id: ObjectId):
    """A queued job stops at once, a running one after its current batch; done batches stay archived.
    A finished job cannot be cancelled: 400 invalid_request, nothing changes."""
    return {"data": cancel_archive_job(get_job_for(request.auth, job_id), request.auth)}
