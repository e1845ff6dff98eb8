"""Learning plans list, the plan's Enrollments tab (Active view) and live certificate downloads."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from lms_admin.accounts import roles
from lms_admin.audit.services import record
from lms_admin.web.downloads import file_download
from lms_admin.web.lists import list_context, parse_list_params, render_list
from lms_admin.web.pager import paginate
from lms_admin.web.tables import PreparedRows

from . import selectors
from .filters import ActiveEnrollmentFilter
from .tables import ActiveEnrollmentTable, PlanTable


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
    params = parse_list_params(request.GET, selectors.PLAN_LIST)
    page = paginate(selectors.plans_for_list(request.user, search=search), selectors.PLAN_LIST, params)
    table = PlanTable(PreparedRows(page.rows), order_by=params.sort)
    context = {**list_context(request, params, page), "table": table, "search": search, "nav_section": "plans"}
    return render_list(request, "enrollments/plan_list.html", "enrollments/includes/plan_results.html", context)


@login_required
@require_GET
def plan_enrollments(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's Enrollments tab, Active view: filters, sorting, numbered and keyset pages, htmx partials."""
    plan = selectors.get_plan_for(request.user, plan_id)
    params = parse_list_params(request.GET, selectors.ACTIVE_LIST)
    filterset = ActiveEnrollmentFilter(data=request.GET or None, queryset=plan.enrollments.none())
    page = None
    filter_error = ""
    try:
        queryset = selectors.filter_plan_enrollments(plan, request.GET)
    except ValidationError as exc:
        filter_error = exc.message
    else:
        page = selectors.page_plan_enrollments(queryset, params, exact_count=selectors.counts_exactly(request.GET))
        certificates = selectors.live_certificate_ids(plan, [row.user_id for row in page.rows])
        for row in page.rows:
            row.certificate_id = certificates.get(row.user_id)
    table = ActiveEnrollmentTable(PreparedRows(page.rows if page else []), order_by=params.sort)
    if page and page.total == 0 and not any(request.GET.get(name) for name in ActiveEnrollmentFilter.base_filters):
        table.empty_text = "Nobody is enrolled in this learning plan yet."
    context = {
        **list_context(request, params, page),
        "plan": plan,
        "filterset": filterset,
        "filter_error": filter_error,
        "table": table,
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
    return file_download(pdf, filename=filename, content_type="application/pdf")
