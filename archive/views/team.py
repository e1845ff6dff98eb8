"""My team: a manager's direct reports and their archived plan enrollments (first level only, SPEC §2)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from lms_admin.accounts import roles
from lms_admin.accounts.models import User
from lms_admin.web.lists import list_context, parse_list_params
from lms_admin.web.pager import paginate
from lms_admin.web.tables import PreparedRows

from ..selectors import TEAM_LIST, archived_enrollments_visible_to
from ..tables import TeamArchivedTable


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    """My team: the direct reports and their archived plan enrollments (first level only, SPEC §2)."""
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
    params = parse_list_params(request.GET, TEAM_LIST)
    page = paginate(records, TEAM_LIST, params)
    table = TeamArchivedTable(PreparedRows(page.rows))
    context = {
        **list_context(request, params, page),
        "members": members,
        "member": member,
        "table": table,
        "nav_section": "team",
    }
    return render(request, "archive/team.html", context)
