"""Tables of archived records and of a job's items (cell HTML lives in templates)."""

from __future__ import annotations

import django_tables2 as tables

from enrollments.tables import actions_column, select_column

# Sort keys of the Archived view: column name → fields (the id breaks ties).
ARCHIVED_SORTS: dict[str, tuple[str, ...]] = {
    "user": ("user_last_name", "user_first_name", "user_username"),
    "archived_at": ("archived_at",),
    "archived_by": ("archived_by_username",),
    "plan_status": ("plan_status",),
    "completed_at": ("completed_at",),
}
DEFAULT_ARCHIVED_SORT = "-archived_at"


class ArchivedEnrollmentTable(tables.Table):
    """Columns of the Archived view, rendered one row at a time by its template (keep both in this order)."""

    caption = "Archived enrollments"

    select = select_column()
    user = tables.Column(empty_values=(), verbose_name="User")
    archived_at = tables.Column(verbose_name="Archived")
    archived_by = tables.Column(empty_values=(), verbose_name="Archived by")
    plan_status = tables.Column(verbose_name="Plan status at archive")
    completed_at = tables.Column(verbose_name="Completed")
    certificate = tables.Column(empty_values=(), verbose_name="Certificate", orderable=False)
    actions = actions_column()

    class Meta:
        template_name = "archive/includes/archived_table.html"
        attrs = {"class": "data-table", "id": "archived-table"}
        empty_text = "No archived enrollments match these filters."
        order_by_field = "sort"


class TeamArchivedTable(ArchivedEnrollmentTable):
    """My team: the same columns plus the plan (a manager's reports span several plans)."""

    caption = "Archived enrollments of my team"

    class Meta(ArchivedEnrollmentTable.Meta):
        template_name = "archive/includes/team_table.html"
        attrs = {"class": "data-table", "id": "team-archived-table"}
        empty_text = "Nobody in your team has an archived enrollment yet."
        orderable = False
        exclude = ("select",)
