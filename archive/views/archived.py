"""The plan's Enrollments tab, Archived view: filters, search, sorting, pages, CSV (SPEC §5)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from enrollments import selectors as live
from lms_admin.accounts import roles
from lms_admin.web.limits import ExportSlot, refused_page
from lms_admin.web.lists import POSITION_PARAMS, list_context, parse_list_params, render_list
from lms_admin.web.pager import paginate
from lms_admin.web.tables import PreparedRows

from ..exports import archived_csv_response
from ..filters import ArchivedFilterSet
from ..selectors import (
    ARCHIVED_FILTERS,
    ARCHIVED_LIST,
    archived_counts_exactly,
    archived_enrollments_visible_to,
    archived_rows,
    archivers_of_plan,
    filter_archived,
)
from ..tables import ArchivedEnrollmentTable

EXPORT_RETRY_SECONDS = 10


@login_required
@require_GET
def archived_list(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's Enrollments tab, Archived view: filters, search, sorting, pages and the CSV of the filtered rows."""
    plan = live.get_plan_for(request.user, plan_id)
    records = archived_enrollments_visible_to(request.user).filter(learning_plan=plan)
    params = parse_list_params(request.GET, ARCHIVED_LIST)
    filterset = ArchivedFilterSet(request.GET or None, queryset=records, archivers=archivers_of_plan(plan.pk))
    filter_error, page = "", None
    if filterset.is_bound and not filterset.is_valid():
        filter_error = filterset.error_message()
    else:
        page = paginate(
            filterset.qs,
            ARCHIVED_LIST,
            params,
            exact_count=archived_counts_exactly(request.GET),
            ids_first=True,
            rows=archived_rows(),
        )
    can_delete = roles.is_superadmin(request.user)
    table = ArchivedEnrollmentTable(
        PreparedRows(page.rows if page else []), order_by=params.sort, exclude=() if can_delete else ("select",)
    )
    if page and page.total == 0 and not any(request.GET.get(name) for name in ARCHIVED_FILTERS):
        table.empty_text = "No enrollment of this learning plan has been archived yet."
    export_query = request.GET.copy()
    for name in (*POSITION_PARAMS, "per_page"):
        export_query.pop(name, None)
    context = {
        **list_context(request, params, page),
        "plan": plan,
        "filterset": filterset,
        "filter_error": filter_error,
        "table": table,
        "export_url": reverse("archive:archived_export", args=[plan.pk]) + "?" + export_query.urlencode(),
        "enrollment_view": "archived",
        "nav_section": "plans",
        "can_delete": can_delete,
    }
    return render_list(request, "archive/archived_list.html", "archive/includes/archived_results.html", context)


@login_required
@require_GET
def archived_export(request: HttpRequest, plan_id: int) -> StreamingHttpResponse:
    """Every archived record matching the Archived view's filters, as CSV streamed from one query.

    One running export per user: a plan's whole archive takes seconds and a worker, so a second one started
    while the first streams gets a 429 page instead."""
    plan = live.get_plan_for(request.user, plan_id)
    try:
        records = filter_archived(archived_enrollments_visible_to(request.user).filter(learning_plan=plan), request.GET)
    except ValidationError as exc:
        raise Http404(exc.message) from exc
    slot = ExportSlot.take(request.user)
    if slot is None:
        return refused_page(
            request,
            status=429,
            title="An export is already running",
            message=(
                "Your previous CSV export is still being downloaded. Wait for it to finish (or cancel it), "
                "then start this one again."
            ),
            retry_after=EXPORT_RETRY_SECONDS,
        )
    try:
        return archived_csv_response(plan, records, slot=slot)
    except BaseException:
        slot.release()
        raise
