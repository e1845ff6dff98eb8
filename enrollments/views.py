"""Learning plans list, the plan's Enrollments tab (Active view) and live certificate downloads."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from lms_admin.accounts import roles
from lms_admin.audit.services import record
from lms_admin.web.lists import DEFAULT_PAGE_SIZE, PAGE_SIZES, POSITION_PARAMS, render_list

from . import selectors
from .filters import ActiveEnrollmentFilter
from .tables import ActiveEnrollmentTable, PlanTable, PreparedRows


@dataclass
class ListParams:
    per_page: int
    sort: str
    page: int
    after: selectors.Cursor | None
    before: selectors.Cursor | None
    last: bool
    notices: list[str]


def parse_list_params(query: QueryDict) -> ListParams:
    """Page size, sort and position of the Active list; a bad value falls back, with a notice saying so."""
    notices: list[str] = []
    per_page = DEFAULT_PAGE_SIZE
    raw = query.get("per_page", "")
    if raw:
        if raw.isdigit() and int(raw) in PAGE_SIZES:
            per_page = int(raw)
        else:
            notices.append(f"Rows per page must be one of 25, 50, 100 or 200; showing {DEFAULT_PAGE_SIZE}.")
    sort = query.get("sort") or selectors.DEFAULT_ENROLLMENT_SORT
    if sort.lstrip("-") not in selectors.ENROLLMENT_SORTS:
        notices.append("That column cannot be sorted; showing the newest enrollments first.")
        sort = selectors.DEFAULT_ENROLLMENT_SORT
    page = 1
    raw = query.get("page", "")
    if raw:
        if raw.isdigit() and int(raw) >= 1:
            page = int(raw)
        else:
            notices.append(f"“{raw}” is not a page number; showing the first page.")
    after = before = None
    try:
        if query.get("after"):
            after = selectors.Cursor.parse(query["after"])
        elif query.get("before"):
            before = selectors.Cursor.parse(query["before"])
    except ValidationError as exc:
        notices.append(f"{exc.message} Showing the first page.")
    return ListParams(per_page, sort, page, after, before, query.get("last") == "1", notices)


def pager_links(request: HttpRequest, page: selectors.EnrollmentPage) -> dict:
    """URLs of First / Previous / numbered pages / Next / Last for the Active list's pager."""

    def url(**params) -> str:
        query = request.GET.copy()
        for name in POSITION_PARAMS:
            query.pop(name, None)
        for name, value in params.items():
            query[name] = str(value)
        return f"{request.path}?{query.urlencode()}"

    if page.num_pages is not None:
        numbered_last = min(page.num_pages, page.max_numbered_page)
    else:  # at least count_cap rows exist
        numbered_last = min(page.max_numbered_page, max(1, (page.count_cap or 0) // page.per_page))
    links: dict = {"first": None, "previous": None, "next": None, "last": None, "numbers": []}
    number = page.number
    if page.has_previous:
        links["first"] = url(page=1)
        if page.keyset:
            links["previous"] = url(before=page.first_cursor)
        elif number:
            links["previous"] = url(page=number - 1)
    if page.has_next:
        if page.keyset:
            links["next"] = url(after=page.last_cursor)
            links["last"] = url(last=1)
        elif number and number + 1 <= page.max_numbered_page:
            links["next"] = url(page=number + 1)
            if page.num_pages is not None and numbered_last > number:
                links["last"] = url(page=numbered_last)
    if number:
        window = range(max(1, number - 2), min(numbered_last, number + 2) + 1)
        links["numbers"] = [(n, url(page=n), n == number) for n in window]
    return links


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The start page by role: plans for superadmins and power users, My team for managers, else a 403 page."""
    if selectors.sees_plans(request.user):
        return redirect("enrollments:plan_list")
    if roles.manages_anyone(request.user):
        return redirect("archive:team")
    raise PermissionDenied(
        "Your account has no administration role. Ask an administrator if you think you should have access."
    )


@login_required
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    selectors.require_plans_section(request.user)
    search = request.GET.get("search", "").strip()
    table = PlanTable(selectors.plans_for_list(request.user, search=search))
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    context = {"table": table, "search": search, "nav_section": "plans"}
    return render_list(request, "enrollments/plan_list.html", "enrollments/includes/plan_results.html", context)


@login_required
@require_GET
def plan_enrollments(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's Enrollments tab, Active view: filters, sorting, numbered and keyset pages, htmx partials."""
    plan = selectors.get_plan_for(request.user, plan_id)
    params = parse_list_params(request.GET)
    filterset = ActiveEnrollmentFilter(data=request.GET or None, queryset=plan.enrollments.none())
    page = None
    filter_error = ""
    try:
        queryset = selectors.filter_plan_enrollments(plan, request.GET)
    except ValidationError as exc:
        filter_error = exc.message
    else:
        page = selectors.page_plan_enrollments(
            queryset,
            sort=params.sort,
            per_page=params.per_page,
            page=params.page,
            after=params.after,
            before=params.before,
            last=params.last,
            exact_count=selectors.counts_exactly(request.GET),
        )
        certificates = selectors.live_certificate_ids(plan, [row.user_id for row in page.rows])
        for row in page.rows:
            row.certificate_id = certificates.get(row.user_id)
    table = ActiveEnrollmentTable(PreparedRows(page.rows if page else []), order_by=params.sort)
    if page and page.total == 0 and not any(request.GET.get(name) for name in ActiveEnrollmentFilter.base_filters):
        table.empty_text = "Nobody is enrolled in this learning plan yet."
    context = {
        "plan": plan,
        "filterset": filterset,
        "filter_error": filter_error,
        "table": table,
        "page": page,
        "pager": pager_links(request, page) if page else None,
        "notices": params.notices + (page.notices if page else []),
        "sort": params.sort,
        "per_page": params.per_page,
        "page_sizes": PAGE_SIZES,
        "enrollment_view": "active",
        "nav_section": "plans",
    }
    return render_list(
        request, "enrollments/plan_enrollments.html", "enrollments/includes/active_results.html", context
    )


@login_required
@require_GET
def certificate_download(request: HttpRequest, certificate_id: int) -> FileResponse:
    """A learner's live certificate PDF, for superadmins and the plan's power users."""
    certificate = selectors.get_certificate_for(request.user, certificate_id)
    try:
        pdf = certificate.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The certificate file is missing.") from exc
    record(
        actor=request.user,
        action="certificate.download",
        object_type="issued_certificate",
        object_id=certificate.pk,
        details={"learning_plan_id": certificate.learning_plan_id, "user_id": certificate.user_id},
    )
    plan = certificate.learning_plan
    filename = f"certificate-{plan.code or plan.pk}-{certificate.user.username}.pdf"
    return FileResponse(pdf, as_attachment=True, filename=filename, content_type="application/pdf")
