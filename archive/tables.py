"""Tables of the archive's lists: archived records (Archived view, My team), jobs, a job's items."""

from __future__ import annotations

import django_tables2 as tables

from lms_admin.web.tables import actions_column, select_column


def _cell(verbose_name: str) -> tables.Column:
    """A column whose cell the table's row template renders (no value read from the record)."""
    return tables.Column(empty_values=(), verbose_name=verbose_name)


def _num(verbose_name: str) -> tables.Column:
    return tables.Column(empty_values=(), verbose_name=verbose_name, attrs={"th": {"class": "num"}})


class ArchivedEnrollmentTable(tables.Table):
    """Columns of the Archived view (sort names of `selectors.ARCHIVED_LIST`), rendered one row at a time by its
    template (keep both in this order)."""

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


class TeamArchivedTable(ArchivedEnrollmentTable):
    """My team: the same columns plus the plan (a manager's reports span several plans)."""

    caption = "Archived enrollments of my team"

    class Meta(ArchivedEnrollmentTable.Meta):
        template_name = "archive/includes/team_table.html"
        attrs = {"class": "data-table", "id": "team-archived-table"}
        empty_text = "Nobody in your team has an archived enrollment yet."
        orderable = False
        exclude = ("select",)


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
