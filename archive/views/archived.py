"""The plan's Enrollments tab, Archived view: filters, search, sorting, pages, CSV (SPEC §5)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from enrollments import selectors as live
from enrollments.tables import PreparedRows
from lms_admin.accounts import roles
from lms_admin.web.lists import PAGE_SIZES, render_list

from ..exports import archived_csv_response
from ..filters import ArchivedFilterForm
from ..models import ArchivedPlanEnrollment
from ..selectors import (
    archived_enrollments_visible_to,
    filter_archived,
)
from ..tables import ARCHIVED_SORTS, DEFAULT_ARCHIVED_SORT, ArchivedEnrollmentTable

# ---------------------------------------------------------------------------------------------- archived view


@dataclass
class ArchivedPage:
    rows: list[ArchivedPlanEnrollment]
    total: int | None
    start: int | None
    previous_url: str | None
    next_url: str | None
    first_url: str | None

    @property
    def end(self) -> int | None:
        return self.start + len(self.rows) - 1 if self.start and self.rows else None


COUNT_CAP = 1_000
MAX_OFFSET_ROWS = 10_000


def _newer(stamp: datetime.datetime, pk: int) -> Q:
    """Rows before (stamp, pk) in the default newest-first order; the redundant bound lets the index range-scan."""
    return Q(archived_at__gte=stamp) & (Q(archived_at__gt=stamp) | Q(id__gt=pk))


def _older(stamp: datetime.datetime, pk: int) -> Q:
    return Q(archived_at__lte=stamp) & (Q(archived_at__lt=stamp) | Q(id__lt=pk))


def _cursor(text: str) -> tuple[datetime.datetime, int] | None:
    stamp, _, pk = text.partition("|")
    try:
        parsed = datetime.datetime.fromisoformat(stamp)
        return (parsed, int(pk)) if parsed.tzinfo else None
    except ValueError:
        return None


def page_archived(request: HttpRequest, records: QuerySet, *, sort: str, per_page: int, notices: list[str]):
    """One page: keyset (after/before cursors) in the default order, capped numbered pages in other orders."""

    def url(**params) -> str:
        query = request.GET.copy()
        for name in ("page", "after", "before"):
            query.pop(name, None)
        for name, value in params.items():
            query[name] = str(value)
        return f"{request.path}?{query.urlencode()}"

    # Exact counts for the whole plan (an index-only count); filtered views count up to COUNT_CAP, because a
    # filter that keeps most of 100,000 records would otherwise cost a scan of them all.
    exact = not any((request.GET.get(name) or "").strip() for name in ARCHIVED_FILTER_NAMES)
    counted = records.count() if exact else records[: COUNT_CAP + 1].count()
    total = counted if exact or counted <= COUNT_CAP else None
    if sort == DEFAULT_ARCHIVED_SORT:
        after, before = _cursor(request.GET.get("after", "")), _cursor(request.GET.get("before", ""))
        if (request.GET.get("after") and not after) or (request.GET.get("before") and not before):
            notices.append("That page link is not valid any more. Showing the first page.")
        if before:
            rows = list(records.filter(_newer(*before)).order_by("archived_at", "id")[: per_page + 1])
            has_previous = len(rows) > per_page
            rows = rows[:per_page][::-1]
            has_next = True
        else:
            queryset = records.filter(_older(*after)) if after else records
            rows = list(queryset.order_by("-archived_at", "-id")[: per_page + 1])
            has_next = len(rows) > per_page
            rows = rows[:per_page]
            has_previous = after is not None
        start = None
        if rows:
            preceding = records.filter(_newer(rows[0].archived_at, rows[0].pk))
            before_count = preceding.count() if exact else preceding[: COUNT_CAP + 1].count()
            start = before_count + 1 if exact or before_count <= COUNT_CAP else None
        return ArchivedPage(
            rows=rows,
            total=total,
            start=start,
            first_url=url() if has_previous else None,
            previous_url=url(before=f"{rows[0].archived_at.isoformat()}|{rows[0].pk}") if has_previous else None,
            next_url=url(after=f"{rows[-1].archived_at.isoformat()}|{rows[-1].pk}") if has_next and rows else None,
        )
    raw = request.GET.get("page", "1")
    page = int(raw) if raw.isdigit() and int(raw) >= 1 else 1
    max_page = max(1, MAX_OFFSET_ROWS // per_page)
    if page > max_page:
        notices.append(f"Numbered pages stop at page {max_page}. Sort by archive date to go further.")
        page = max_page
    descending = sort.startswith("-")
    ordering = [
        (F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True))
        for name in (*ARCHIVED_SORTS[sort.lstrip("-")], "id")
    ]
    offset = (page - 1) * per_page
    rows = list(records.order_by(*ordering)[offset : offset + per_page + 1])
    has_next = len(rows) > per_page and page < max_page
    return ArchivedPage(
        rows=rows[:per_page],
        total=total,
        start=offset + 1 if rows else None,
        first_url=url(page=1) if page > 1 else None,
        previous_url=url(page=page - 1) if page > 1 else None,
        next_url=url(page=page + 1) if has_next else None,
    )


def _list_options(request: HttpRequest, notices: list[str]) -> tuple[str, int]:
    sort = request.GET.get("sort") or DEFAULT_ARCHIVED_SORT
    if sort.lstrip("-") not in ARCHIVED_SORTS:
        notices.append("That column cannot be sorted; showing the newest archives first.")
        sort = DEFAULT_ARCHIVED_SORT
    raw = request.GET.get("per_page", "")
    per_page = int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else PAGE_SIZES[0]
    if raw and not (raw.isdigit() and int(raw) in PAGE_SIZES):
        notices.append("Rows per page must be one of 25, 50, 100 or 200; showing 25.")
    return sort, per_page


ARCHIVED_FILTER_NAMES = ("archived_from", "archived_to", "archived_by", "user_status", "search")


@login_required
@require_GET
def archived_list(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's Enrollments tab, Archived view: filters, search, sorting, pages and the CSV of the filtered rows."""
    plan = live.get_plan_for(request.user, plan_id)
    records = archived_enrollments_visible_to(request.user).filter(learning_plan=plan)
    notices: list[str] = []
    sort, per_page = _list_options(request, notices)
    filter_form = ArchivedFilterForm(request.GET or None, learning_plan_id=plan.pk)
    filter_error, page = "", None
    try:
        filtered = filter_archived(records, request.GET)
    except ValidationError as exc:
        filter_error = exc.message
    else:
        page = page_archived(request, filtered, sort=sort, per_page=per_page, notices=notices)
    can_delete = roles.is_superadmin(request.user)
    table = ArchivedEnrollmentTable(
        PreparedRows(page.rows if page else []), order_by=sort, exclude=() if can_delete else ("select",)
    )
    if page and page.total == 0 and not any(request.GET.get(name) for name in ARCHIVED_FILTER_NAMES):
        table.empty_text = "No enrollment of this learning plan has been archived yet."
    export_query = request.GET.copy()
    for name in ("page", "after", "before", "per_page"):
        export_query.pop(name, None)
    context = {
        "plan": plan,
        "filter_form": filter_form,
        "filter_error": filter_error,
        "table": table,
        "page": page,
        "notices": notices,
        "sort": sort,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "export_url": reverse("archive:archived_export", args=[plan.pk]) + "?" + export_query.urlencode(),
        "enrollment_view": "archived",
        "nav_section": "plans",
        "can_delete": can_delete,
    }
    return render_list(request, "archive/archived_list.html", "archive/includes/archived_results.html", context)


@login_required
@require_GET
def archived_export(request: HttpRequest, plan_id: int) -> StreamingHttpResponse:
    """Every archived record matching the Archived view's filters, as CSV streamed from one query."""
    plan = live.get_plan_for(request.user, plan_id)
    try:
        records = filter_archived(archived_enrollments_visible_to(request.user).filter(learning_plan=plan), request.GET)
    except ValidationError as exc:
        raise Http404(exc.message) from exc
    return archived_csv_response(plan, records)
