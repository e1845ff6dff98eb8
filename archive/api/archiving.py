"""API: archiving a plan's enrollments — one now, two or more or select all as a job (SPEC §7).

The endpoint parses the body and answers; `submit_archive` decides "now or as a job" and checks the limits, for
the pop-up and the API alike.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status

from enrollments.selectors import get_plan_for
from lms_admin.accounts.roles import require_superadmin
from lms_admin.web.api import KEYED_WRITE_ERRORS, ApiError, DataOut, ObjectId

from ..models import ArchiveMode, Outcome
from ..services import submit_archive
from .idempotency import idempotent, keep_answer
from .schemas import ArchivedNowOut, ArchiveIn, JobStartedOut

router = Router()

# A single archive that did not come out archived: how it answers.
SINGLE_OUTCOME_ERRORS = {
    Outcome.SKIPPED_SHARED_COURSE: (409, "shared_course"),
    Outcome.SKIPPED_ALREADY_ARCHIVED: (409, "already_archived"),
    Outcome.NOT_FOUND: (404, "not_found"),
}


@router.post(
    "/learning-plans/{plan_id}/archive",
    response={200: DataOut[ArchivedNowOut], 202: DataOut[JobStartedOut], **KEYED_WRITE_ERRORS},
    summary="Archive enrollments of a learning plan (superadmins)",
)
@idempotent
def archive_plan_enrollments(request: HttpRequest, plan_id: ObjectId, body: ArchiveIn):
    """One enrollment id is archived in the request (200). Two or more, or `select_all`, start a background
    job (202) that `GET /jobs/{id}` follows. Power users get 403; nothing changes on any error.

    Retry only with an `Idempotency-Key` or with `rounds`: a retry with neither archives the round current then."""
    plan = get_plan_for(request.auth, plan_id)
    require_superadmin(request.auth)  # before the body is judged: a power user learns nothing from a 400
    if body.mode not in ArchiveMode.values:
        raise ApiError(400, "invalid_mode", f"mode must be one of: {', '.join(ArchiveMode.values)}.")
    ids = list(dict.fromkeys(body.enrollment_ids or []))
    if body.select_all == bool(ids):
        raise ApiError(400, "invalid_selection", "Send either a non-empty enrollment_ids list or select_all: true.")
    if body.filters is not None and not body.select_all:
        raise ApiError(400, "invalid_selection", "filters go with select_all: true.")
    if body.rounds is not None and (body.select_all or len(body.rounds) != len(body.enrollment_ids or [])):
        raise ApiError(
            400, "invalid_request", "rounds must give one round per enrollment id, in the same order (no select_all)."
        )

    submitted = submit_archive(
        learning_plan=plan,
        actor=request.auth,
        mode=body.mode,
        reset_tracking=body.reset_tracking,
        notify=body.notify,
        enrollment_ids=None if body.select_all else (ids if body.rounds is None else body.enrollment_ids),
        select_all_filters=(body.filters.as_filters() if body.filters else {}) if body.select_all else None,
        rounds=body.rounds,
    )
    if submitted.job is not None:
        return Status(202, {"data": {"job": submitted.job}})
    item = submitted.outcome.items[0]
    if item.outcome == Outcome.ARCHIVED:
        return Status(200, {"data": item})
    status, code = SINGLE_OUTCOME_ERRORS.get(item.outcome, (500, "archive_failed"))
    if status != 500:
        keep_answer(request)  # the archive's outcome: a repeat with the same key gets it again
    raise ApiError(status, code, item.message or f"Enrollment {item.enrollment_id} was not archived ({item.outcome}).")
