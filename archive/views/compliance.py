"""The Compliance page (SPEC §11): per plan the learners in each compliance state, per learner the state and dates,
with filters, search, keyset pages and a CSV. Superadmins see every plan, power users their plans."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from enrollments import selectors as live
from enrollments.models import LearningPlanEnrollment
from lms_admin.accounts import roles
from lms_admin.accounts.models import User
from lms_admin.web.csv import csv_response, iso
from lms_admin.web.lists import POSITION_PARAMS, list_context, parse_list_params, render_list, wants_partial
from lms_admin.web.pager import ListSpec, bigint, paginate
from lms_admin.web.tables import PreparedRows

from ..compliance import ComplianceState, compliance_counts, with_compliance
from ..filters_compliance import ComplianceFilterSet
from ..services.retraining import utc_today
from ..tables import ComplianceTable

# Newest enrollments first by default: the primary key walks any page of every plan (or one plan) in key order.
COMPLIANCE_LIST = ListSpec(
    sorts={
        "id": ("id",),
        "learner": ("user__last_name", "user__first_name", "user__username"),
        "learning_plan": ("learning_plan__title",),
        "state": ("compliance_state",),
        "round": ("round",),
        "completed_at": ("completed_at",),
        "certified_until": ("certified_until",),
        "due_from": ("due_from",),
    },
    default_sort="-id",
    noun="enrollment",
    sort_notice="That column cannot be sorted; showing the newest enrollments first.",
    deep_hint="Narrow the filters, or use the default order, to go further.",
    nullable=frozenset({"completed_at", "certified_until", "due_from"}),
    parse_key=bigint,
)
CSV_HEADER = (
    "user_id",
    "username",
    "first_name",
    "last_name",
    "learning_plan_id",
    "learning_plan_title",
    "learning_plan_code",
    "state",
    "round",
    "completed_at",
    "certified_until",
    "due_from",
)


def _scope(user: User) -> tuple[list[tuple[int, str, str]], object]:
    """The caller's plans (id, title, code) and their live enrollments; 403 for a role without the plans section."""
    live.require_plans_section(user)
    plans = list(live.plans_visible_to(user).order_by("title", "id").values_list("pk", "title", "code"))
    enrollments = LearningPlanEnrollment.objects.all()
    if not roles.is_superadmin(user):
        enrollments = enrollments.filter(learning_plan_id__in=[pk for pk, _, _ in plans])
    return plans, enrollments


@login_required
@require_GET
def compliance(request: HttpRequest) -> HttpResponse:
    """Counts per state per plan, and the per-learner list (htmx swaps only the list on a filter, sort or page)."""
    plans, enrollments = _scope(request.user)
    today = utc_today()
    annotated = with_compliance(enrollments, today=today)
    filterset = ComplianceFilterSet(
        request.GET or None, queryset=annotated, plans=[(pk, title) for pk, title, _ in plans]
    )
    params = parse_list_params(request.GET, COMPLIANCE_LIST)
    filter_error, page = "", None
    if filterset.is_bound and not filterset.is_valid():
        filter_error = filterset.error_message()
    else:
        # A plan or a user is an index range to count; a state or a search is computed per row: count to a cap.
        per_row = any(str(request.GET.get(name) or "").strip() for name in ("state", "search"))
        page = paginate(
            filterset.qs,
            COMPLIANCE_LIST,
            params,
            rows=filterset.qs.select_related("user", "learning_plan"),
            exact_count=not per_row,
        )
    labels = dict(ComplianceState.choices)
    for row in page.rows if page else []:
        row.state_label = labels[row.compliance_state]
    table = ComplianceTable(PreparedRows(page.rows if page else []), order_by=params.sort)
    export_query = request.GET.copy()
    for name in (*POSITION_PARAMS, "per_page", "sort"):
        export_query.pop(name, None)
    context = {
        **list_context(request, params, page),
        "filterset": filterset,
        "filter_error": filter_error,
        "table": table,
        "export_url": reverse("archive:compliance_export") + "?" + export_query.urlencode(),
        "states": ComplianceState.choices,
        "nav_section": "compliance",
    }
    if not wants_partial(request):
        # The counts are the page's, not the list's: a filter, sort or page swaps only the list.
        # Filtered to one plan, only that plan is counted: a superadmin's all-plans count reads every enrollment.
        chosen = str(request.GET.get("learning_plan") or "")
        if chosen.isdigit() and int(chosen) in {pk for pk, _, _ in plans}:
            plans = [plan for plan in plans if plan[0] == int(chosen)]
            enrollments = enrollments.filter(learning_plan_id=int(chosen))
        counts = compliance_counts(enrollments, today=today)
        context["plan_counts"] = [
            {
                "pk": pk,
                "title": title,
                "code": code,
                "states": [(state, label, counts[pk][state]) for state, label in ComplianceState.choices],
            }
            for pk, title, code in plans
            if pk in counts
        ]
        context["plans_without_learners"] = len(plans) - len(context["plan_counts"])
    return render_list(request, "archive/compliance.html", "archive/includes/compliance_results.html", context)


@login_required
@require_GET
def compliance_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every learner row matching the Compliance page's filters, as CSV streamed from one query."""
    plans, enrollments = _scope(request.user)
    today = utc_today()
    filterset = ComplianceFilterSet(
        request.GET or None, queryset=with_compliance(enrollments, today=today), plans=[(p, t) for p, t, _ in plans]
    )
    if filterset.is_bound and not filterset.is_valid():
        raise Http404(filterset.error_message())
    rows = filterset.qs.order_by("learning_plan__title", "user__username", "id").values_list(
        "user_id",
        "user__username",
        "user__first_name",
        "user__last_name",
        "learning_plan_id",
        "learning_plan__title",
        "learning_plan__code",
        "compliance_state",
        "round",
        "completed_at",
        "certified_until",
        "due_from",
    )

    def lines():
        for *head, completed_at, until, due in rows.iterator(chunk_size=2000):
            yield (*head, iso(completed_at), iso(until), iso(due))

    return csv_response(CSV_HEADER, lines(), filename=f"compliance-{today:%Y-%m-%d}.csv")
