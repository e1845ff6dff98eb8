"""Tables of the archive's lists: archived records (Archived view, My team), jobs, a job's items."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.safestring import SafeString, mark_safe

from lms_admin.web.reversing import reverse_ids
from lms_admin.web.row_tags import minute_or_dash, minute_text, row_html
from lms_admin.web.tables import actions_column, select_column


def _cell(verbose_name: str) -> tables.Column:
    """A column whose cell the table's row template renders (no value read from the record)."""
    return tables.Column(empty_values=(), verbose_name=verbose_name)


def _num(verbose_name: str) -> tables.Column:
    return tables.Column(empty_values=(), verbose_name=verbose_name, attrs={"th": {"class": "num"}})


class ArchivedEnrollmentTable(tables.Table):
    """Columns of the Archived view (sort names of `selectors.ARCHIVED_LIST`), rendered one row at a time by
    `render_row` (keep both in this order)."""

    caption = "Archived enrollments"

    select = select_column()
    user = _cell("User")
    archived_at = tables.Column(verbose_name="Archived")
    archived_by = _cell("Archived by")
    plan_status = tables.Column(verbose_name="Plan status at archive")
    completed_at = tables.Column(verbose_name="Completed")
    certificate = tables.Column(empty_values=(), verbose_name="Certificate", orderable=False)
    actions = actions_column()

    class Meta:
        template_name = "archive/includes/archived_table.html"
        attrs = {"class": "data-table", "id": "archived-table"}
        empty_text = "No archived enrollments match these filters."
        order_by_field = "sort"

    def render_row(self, archived, context) -> SafeString:
        """A row of the Archived view, every value escaped by `row_html`."""
        pk, name = archived.pk, archived.user_display_name
        select = delete = ""
        if context.get("can_delete"):
            select = row_html(ARCHIVED_SELECT, pk=pk, name=name, round=archived.round)
            delete = row_html(ARCHIVED_DELETE, url=reverse_ids("archive:archived_delete", pk))
        return row_html(ARCHIVED_ROW, **_record_cells(archived), select=select, delete=delete)


class TeamArchivedTable(ArchivedEnrollmentTable):
    """My team: the same columns plus the plan (a manager's reports span several plans)."""

    caption = "Archived enrollments of my team"

    class Meta(ArchivedEnrollmentTable.Meta):
        attrs = {"class": "data-table", "id": "team-archived-table"}
        empty_text = "Nobody in your team has an archived enrollment yet."
        orderable = False
        exclude = ("select",)

    def render_row(self, archived, context) -> SafeString:
        """A row of My team: the Archived view's cells with the plan under the name, and only Details to do."""
        return row_html(TEAM_ROW, **_record_cells(archived), plan=archived.plan_title)


def _record_cells(archived) -> dict:
    """The values both archived tables show of a record: name and details link, archived when and by whom, the
    frozen status, completion and certificate."""
    return {
        "pk": archived.pk,
        "name": archived.user_display_name,
        "details": reverse_ids("archive:archived_detail", archived.pk),
        "username": archived.user_username,
        "archived": minute_text(archived.archived_at),
        "archived_by": archived.archived_by_username,
        "status": archived.plan_status,
        "status_display": archived.get_plan_status_display(),
        "completed": minute_or_dash(archived.completed_at),
        "certificate": _certificate_cell(archived),
    }


def _certificate_cell(archived) -> SafeString:
    """An archived record's certificate cell: a download link drawn as a document icon, or a dash."""
    if not archived.certificate_id:
        return NO_CERTIFICATE
    url = reverse_ids("archive:archived_certificate", archived.pk)
    return row_html(CERTIFICATE_LINK, url=url, name=archived.user_display_name)


class JobTable(tables.Table):
    """The background jobs, newest first, rendered one row at a time by its template (keep both in this order)."""

    caption = "Archive jobs"

    job = _cell("Job")
    learning_plan = _cell("Learning plan")
    status = _cell("Status")
    progress = _cell("Progress")
    counts = _cell("Counts")
    requested_by = _cell("Requested by")
    created_at = _cell("Created")
    finished_at = _cell("Finished")

    class Meta:
        template_name = "archive/includes/job_table.html"
        attrs = {"class": "data-table", "id": "jobs-table"}
        orderable = False


class JobItemTable(tables.Table):
    """A job's items in their order, rendered one row at a time by its template (keep both in this order).
    The view sets the caption (it names the job)."""

    position = _num("#")
    enrollment = _cell("Enrollment")
    round = _num("Round")
    outcome = _cell("Outcome")
    archive = _cell("Archived record")
    message = _cell("Message")

    class Meta:
        template_name = "archive/includes/job_item_table.html"
        attrs = {"class": "data-table", "id": "job-items"}
        empty_text = "No items with this outcome."
        orderable = False


class ComplianceTable(tables.Table):
    """The Compliance page's learners (sort names of `views.compliance.COMPLIANCE_LIST`), rendered one row at a time
    by its template (keep both in this order)."""

    caption = "Learners and their compliance state"

    learner = _cell("Learner")
    learning_plan = _cell("Learning plan")
    state = _cell("State")
    round = _num("Round")
    completed_at = _cell("Completed")
    certified_until = _cell("Certified until")
    due_from = _cell("Due from")

    class Meta:
        template_name = "archive/includes/compliance_table.html"
        attrs = {"class": "data-table", "id": "compliance-table"}
        empty_text = "No learner matches these filters."
        order_by_field = "sort"


class TeamComplianceTable(tables.Table):
    """My team's compliance column: each direct report's current enrollment per plan and its state."""

    caption = "Compliance of my team per learning plan"

    person = _cell("Person")
    learning_plan = _cell("Learning plan")
    state = _cell("Compliance")
    certified_until = _cell("Certified until")
    due_from = _cell("Due from")

    class Meta:
        template_name = "archive/includes/team_compliance_table.html"
        attrs = {"class": "data-table", "id": "team-compliance-table"}
        empty_text = "Nobody in your team is enrolled in a learning plan."
        orderable = False


ARCHIVED_SELECT = (
    '<td class="select"><input type="checkbox" name="archive_ids" value="{pk}" class="row-select" '
    'form="archived-delete-form" aria-label="Select {name}, round {round}"></td>'
)
ARCHIVED_DELETE = (
    '<li role="none"><a role="menuitem" class="danger" href="{url}" hx-get="{url}" hx-target="#modal">Delete</a></li>'
)
CERTIFICATE_LINK = (
    '<td><a class="cert-icon" href="{url}" download title="Download certificate"><svg class="icon" '
    'viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false"><path d="M3.5 1.5h6l3 3v10h-9z '
    'M9.5 1.5v3h3" fill="none" stroke="currentColor" stroke-width="1.2" stroke-linejoin="round"/><path '
    'd="M5.5 8h5M5.5 10.5h5M5.5 13h3" fill="none" stroke="currentColor" stroke-width="1.2" stroke-linecap="round"/>'
    '</svg><span class="visually-hidden">Download the certificate of {name}</span></a></td>'
)
NO_CERTIFICATE = mark_safe(
    '<td><span class="muted" aria-hidden="true">—</span><span class="visually-hidden">No certificate</span></td>'
)
TEAM_ROW = """
<tr data-archive-id="{pk}">
  <td><a href="{details}">{name}</a> <span class="muted">{username}</span><br><span class="muted">{plan}</span></td>
  <td>{archived}</td>
  <td>{archived_by}</td>
  <td><span class="badge badge-status-{status}">{status_display}</span></td>
  <td>{completed}</td>
  {certificate}
  <td class="actions"><a href="{details}">Details</a></td>
</tr>
"""
ARCHIVED_ROW = """
<tr data-archive-id="{pk}">
  {select}
  <td><a href="{details}">{name}</a> <span class="muted">{username}</span></td>
  <td>{archived}</td>
  <td>{archived_by}</td>
  <td><span class="badge badge-status-{status}">{status_display}</span></td>
  <td>{completed}</td>
  {certificate}
  <td class="actions">
    <div class="menu row-menu">
      <button type="button" class="icon-button menu-button" data-menu-button aria-haspopup="menu" \
aria-expanded="false" aria-controls="archived-menu-{pk}" aria-label="Actions for {name}">⋯</button>
      <ul class="menu-list" role="menu" id="archived-menu-{pk}" aria-label="Actions for {name}">
        <li role="none"><a role="menuitem" href="{details}">Details</a></li>
        {delete}
      </ul>
    </div>
  </td>
</tr>
"""
