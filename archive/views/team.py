"""My team: a manager's direct reports, the compliance state of their current plan enrollments, and their archived
plan enrollments (first level only, SPEC §2 and §11)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from enrollments.models import LearningPlanEnrollment
from lms_admin.accounts import roles
from lms_admin.accounts.models import User
from lms_admin.web.lists import list_context, parse_list_params
from lms_admin.web.pager import paginate
from lms_admin.web.tables import PreparedRows

from ..compliance import ComplianceState, with_compliance
from ..selectors import TEAM_LIST, archived_enrollments_visible_to
from ..services.retraining import utc_today
from ..tables import TeamArchivedTable, TeamComplianceTable

# A big team's compliance rows stop here; picking a person shows all of theirs.
TEAM_COMPLIANCE_ROWS = 500


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    """My team: the direct reports, each one's compliance per plan and their archived plan enrollments (first level
    only, SPEC §2)."""
    roles.require_admin_role(request.user)
    if not roles.manages_anyone(request.user):
        raise PermissionDenied("My team is for people who manage someone.")
    reports = roles.direct_report_ids(request.user)
    records = archived_enrollments_visible_to(request.user).filter(user_id__in=reports)
    members = list(User.objects.filter(pk__in=reports).order_by("last_name", "first_name", "username"))
    archived_counts = dict(records.order_by().values_list("user_id").annotate(n=Count("*")))
    for person in members:
        person.archived = archived_counts.get(person.pk, 0)
    member = request.GET.get("user", "")
    if member:
        if not member.isdigit() or int(member) not in {m.pk for m in members}:
            raise Http404("This person is not in your team.")
        records = records.filter(user_id=int(member))
    compliance = _team_compliance(reports, int(member) if member else None)
    params = parse_list_params(request.GET, TEAM_LIST)
    page = paginate(records, TEAM_LIST, params)
    table = TeamArchivedTable(PreparedRows(page.rows))
    context = {
        **list_context(request, params, page),
        "members": members,
        "member": member,
        "table": table,
        "compliance_table": TeamComplianceTable(PreparedRows(compliance[:TEAM_COMPLIANCE_ROWS])),
        "compliance_capped": len(compliance) > TEAM_COMPLIANCE_ROWS,
        "nav_section": "team",
    }
    return render(request, "archive/team.html", context)


def _team_compliance(reports, member: int | None) -> list[LearningPlanEnrollment]:
    """The direct reports' current plan enrollments with their compliance state (one query, the cap + 1 rows)."""
    current = LearningPlanEnrollment.objects.filter(user_id__in=reports)
    if member is not None:
        current = current.filter(user_id=member)
    rows = list(
        with_compliance(current, today=utc_today())
        .select_related("user", "learning_plan")
        .order_by("user__last_name", "user__first_name", "user__username", "learning_plan__title", "id")[
            : TEAM_COMPLIANCE_ROWS + 1
        ]
    )
    labels = dict(ComplianceState.choices)
    for row in rows:
        row.state_label = labels[row.compliance_state]
    return rows
