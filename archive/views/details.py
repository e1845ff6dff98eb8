"""An archived record: its details, its archived certificate, deleting it (one or a selection)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from enrollments import selectors as live
from lms_admin.accounts import roles
from lms_admin.web.modals import render_modal

from ..content import archived_diff
from ..selectors import (
    archived_enrollments_visible_to,
    audit_trail_of,
    get_archived_for,
    get_plan_for_archiving,
    material_titles,
)
from ..services import archived_certificate_response, delete_archived_enrollments, page_key_from, sign_page_key
from .popup import LEVELS, answer_repeat, finish_with, kept_request_key, once_per_page_key

if TYPE_CHECKING:
    from enrollments.models import LearningPlan
    from lms_admin.accounts.models import User

    from ..models import ArchivedPlanEnrollment

# ---------------------------------------------------------------------------------------------- details


def _visible_record(user: User, pk: int) -> ArchivedPlanEnrollment:
    roles.require_admin_role(user)
    return get_archived_for(user, pk)


@login_required
@require_GET
def archived_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Every stored field grouped as SPEC §4.4, the course snapshots with material progress, the audit trail."""
    archived = _visible_record(request.user, pk)
    courses = list(archived.course_enrollments.all())
    titles = material_titles(courses)
    for course in courses:
        course.materials = [
            {
                "title": titles.get(material_id, f"Material #{material_id} (deleted)"),
                "status": status.replace("_", " "),
                "completed_at": datetime.datetime.fromisoformat(completed) if completed else None,
                "score": score,
            }
            for material_id, status, completed, score in course.tracking
        ]
    plan_visible = (
        archived.learning_plan_id is not None
        and live.plans_visible_to(request.user).filter(pk=archived.learning_plan_id).exists()
    )
    context = {
        "archived": archived,
        "courses": courses,
        "audit_events": audit_trail_of(archived)[:200],
        "content_diff": archived_diff(archived),
        "plan_visible": plan_visible,
        "can_delete": roles.is_superadmin(request.user),
        "nav_section": "plans" if plan_visible else "team",
    }
    return render(request, "archive/archived_detail.html", context)


@login_required
@require_GET
def archived_certificate(request: HttpRequest, pk: int) -> FileResponse:
    """The certificate as it was archived, from archive storage; audited as a certificate download."""
    archived = _visible_record(request.user, pk)
    try:
        response = archived_certificate_response(archived, actor=request.user)
    except FileNotFoundError as exc:
        raise Http404("The archived certificate file is missing.") from exc
    if response is None:
        raise Http404("This archived enrollment has no certificate.")
    return response


@login_required
@require_http_methods(["GET", "POST"])
def archived_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one archived record after a confirmation pop-up (superadmins; irreversible, audited), once per
    request key: a repeat of the confirmation gets the first answer (SPEC §4.10)."""
    if request.method == "POST" and roles.is_superadmin(request.user):
        return _confirm_delete(request, pk)
    archived = _visible_record(request.user, pk)
    roles.require_superadmin(request.user)  # everyone else stops here, GET or POST
    return _delete_popup(request, archived, sign_page_key(request.path))


def _confirm_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        key = page_key_from(request.POST.get("request_key"), request.path)
    except ValidationError as exc:
        archived = _visible_record(request.user, pk)
        return _delete_popup(request, archived, sign_page_key(request.path), refusal=exc.message, status=422)
    with once_per_page_key(request, key) as claim:
        if claim.replayed:
            return _leave(request, claim.response)
        if not claim.is_new:
            return answer_repeat(request, claim, reverse("home"))
        archived = _visible_record(request.user, pk)
        if (
            archived.learning_plan_id
            and live.plans_visible_to(request.user).filter(pk=archived.learning_plan_id).exists()
        ):
            back_url = reverse("archive:archived_list", args=[archived.learning_plan_id])
        else:
            back_url = reverse("archive:team") if roles.manages_anyone(request.user) else reverse("home")
        name = f"Archived enrollment of {archived.user_display_name} (round {archived.round})"
        if delete_archived_enrollments(archives=[archived], actor=request.user):
            answer = {"message": f"{name} deleted.", "level": "success", "back_url": back_url}
        else:
            answer = {"message": f"{name} was deleted meanwhile.", "level": "warning", "back_url": back_url}
        claim.answer(200, answer)
    return _leave(request, answer)


def _delete_popup(
    request: HttpRequest, archived: ArchivedPlanEnrollment, request_key: str, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "archived": archived,
        "action_url": request.path,
        "back_url": archived.get_absolute_url(),
        "request_key": request_key,
        "refusal": refusal,
    }
    return render_modal(request, "archive/delete_modal.html", context, status=status)


def _leave(request: HttpRequest, answer: dict) -> HttpResponse:
    """After a record's deletion: its message, and away from the page of a record that is no more."""
    messages.add_message(request, LEVELS.get(answer.get("level"), messages.INFO), answer["message"])
    if request.htmx:
        return HttpResponseClientRedirect(answer["back_url"])
    return redirect(answer["back_url"])


@login_required
@require_http_methods(["GET", "POST"])
def archived_bulk_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Delete the archived records ticked in the Archived view, after a confirmation pop-up (superadmins), once per
    request key."""
    plan = get_plan_for_archiving(request.user, plan_id)
    back_url = reverse("archive:archived_list", args=[plan.pk])
    if request.method == "GET":
        key = kept_request_key(request.GET, request.path)
        return _bulk_delete_popup(request, plan, _ticked(request, plan, request.GET), back_url, key)
    try:
        key = page_key_from(request.POST.get("request_key"), request.path)
    except ValidationError as exc:
        ticked = _ticked(request, plan, request.POST)
        return _bulk_delete_popup(request, plan, ticked, back_url, sign_page_key(request.path), refusal=exc.message)
    with once_per_page_key(request, key) as claim:
        if not claim.is_new:
            return answer_repeat(request, claim, back_url)
        ticked = _ticked(request, plan, request.POST)
        if ticked.error:
            return _bulk_delete_popup(request, plan, ticked, back_url, request.POST["request_key"])
        deleted = delete_archived_enrollments(archives=ticked.records, actor=request.user)
        answer = {"message": f"{deleted} archived enrollment{'s' if deleted != 1 else ''} deleted.", "level": "success"}
        claim.answer(200, answer)
    return finish_with(request, answer, back_url)


@dataclass
class _Ticked:
    """The archived records ticked for deletion: their ids, the records found, and why they cannot be deleted."""

    ids: list[int]
    records: QuerySet[ArchivedPlanEnrollment]
    found: list[tuple[int, str, int]]
    error: str


def _ticked(request: HttpRequest, plan: LearningPlan, data: QueryDict) -> _Ticked:
    error = ""
    try:
        ids = sorted({int(value) for value in data.getlist("archive_ids")})
    except ValueError:
        ids, error = [], "The selection is not valid: archived record ids must be numbers. Nothing was deleted."
    records = archived_enrollments_visible_to(request.user).filter(learning_plan=plan, pk__in=ids)
    found = list(records.order_by("-archived_at", "-id").values_list("pk", "user_display_name", "round"))
    if not error and not ids:
        error = "No archived enrollment selected."
    elif not error and len(found) != len(ids):
        missing = sorted(set(ids) - {pk for pk, _, _ in found})
        error = f"Not archived enrollments of “{plan.title}”: {', '.join(map(str, missing[:20]))}. Nothing was deleted."
    return _Ticked(ids, records, found, error)


def _bulk_delete_popup(
    request: HttpRequest, plan: LearningPlan, ticked: _Ticked, back_url: str, request_key: str, *, refusal: str = ""
) -> HttpResponse:
    context = {
        "plan": plan,
        "records": ticked.found,
        "ids": ticked.ids,
        "error": ticked.error,
        "refusal": refusal,
        "action_url": request.path,
        "back_url": back_url,
        "request_key": request_key,
    }
    return render_modal(
        request, "archive/bulk_delete_modal.html", context, status=422 if ticked.error or refusal else 200
    )
