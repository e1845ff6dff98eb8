"""An archived record: its details, its archived certificate, deleting it (one or a selection)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from enrollments import selectors as live
from lms_admin.accounts import roles
from lms_admin.web.modals import finish_in_modal, render_modal

from ..selectors import (
    archived_enrollments_visible_to,
    audit_trail_of,
    get_archived_for,
    get_plan_for_archiving,
    material_titles,
)
from ..services import archived_certificate_response, delete_archived_enrollments

if TYPE_CHECKING:
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
    """Delete one archived record after a confirmation pop-up (superadmins; irreversible, audited)."""
    archived = _visible_record(request.user, pk)
    roles.require_superadmin(request.user)
    if archived.learning_plan_id and live.plans_visible_to(request.user).filter(pk=archived.learning_plan_id).exists():
        back_url = reverse("archive:archived_list", args=[archived.learning_plan_id])
    else:
        back_url = reverse("archive:team") if roles.manages_anyone(request.user) else reverse("home")
    if request.method == "POST":
        deleted = delete_archived_enrollments(archives=[archived], actor=request.user)
        if deleted:
            messages.success(
                request, f"Archived enrollment of {archived.user_display_name} (round {archived.round}) deleted."
            )
        if request.htmx:
            return HttpResponseClientRedirect(back_url)
        return redirect(back_url)
    context = {"archived": archived, "action_url": request.path, "back_url": archived.get_absolute_url()}
    return render_modal(request, "archive/delete_modal.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def archived_bulk_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Delete the archived records ticked in the Archived view, after a confirmation pop-up (superadmins)."""
    plan = get_plan_for_archiving(request.user, plan_id)
    data = request.POST if request.method == "POST" else request.GET
    back_url = reverse("archive:archived_list", args=[plan.pk])
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
    if request.method == "POST" and not error:
        deleted = delete_archived_enrollments(archives=records, actor=request.user)
        messages.success(request, f"{deleted} archived enrollment{'s' if deleted != 1 else ''} deleted.")
        return finish_in_modal(request, back_url)
    context = {"plan": plan, "records": found, "ids": ids, "error": error, "action_url": request.path}
    context["back_url"] = back_url
    return render_modal(request, "archive/bulk_delete_modal.html", context, status=422 if error else 200)
