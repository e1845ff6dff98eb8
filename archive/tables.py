"""Tables of the archive's lists: archived records (Archived view, My team), jobs, a job's items."""

from __future__ import annotations

import django_tables2 as tables

from lms_admin.web.tables import actions_column, select_column


class ArchivedEnrollmentTable(tables.Table):
    """Columns of the Archived view (sort names of `selectors.ARCHIVED_LIST`), rendered one row at a time by its
    template (keep both in this order)."""

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


def _num(verbose_name: str) -> tables.Column:
    return tables.Column(empty_values=(), verbose_name=verbose_name, attrs={"th": {"class": "num"}})


class JobTable(tables.Table):
    """The background jobs, newest first, rendered one row at a time by its template (keep both in this order)."""

    caption = "Archive jobs"

    job = tables.Column(empty_values=(), verbose_name="Job")
    learning_plan = tables.Column(empty_values=(), verbose_name="Learning plan")
    status = tables.Column(empty_values=(), verbose_name="Status")
    progress = tables.Column(empty_values=(), verbose_name="Progress")
    counts = tables.Column(empty_values=(), verbose_name="Counts")
    requested_by = tables.Column(empty_values=(), verbose_name="Requested by")
    created_at = tables.Column(empty_values=(), verbose_name="Created")
    finished_at = tables.Column(empty_values=(), verbose_name="Finished")

    class Meta:
        template_name = "archive/includes/job_table.html"
        attrs = {"class": "data-table", "id": "jobs-table"}
        orderable = False


class JobItemTable(tables.Table):
    """A job's items in their order, rendered one row at a time by its template (keep both in this order).
    The view sets the caption (it names the job)."""

    position = _num("#")
    enrollment = tables.Column(empty_values=(), verbose_name="Enrollment")
    round = _num("Round")
    outcome = tables.Column(empty_values=(), verbose_name="Outcome")
    archive = tables.Column(empty_values=(), verbose_name="Archived record")
    message = tables.Column(empty_values=(), verbose_name="Message")

    class Meta:
        template_name = "archive/includes/job_item_table.html"
        attrs = {"class": "data-table", "id": "job-items"}
        empty_text = "No items with this outcome."
        orderable = False


class ComplianceTable(tables.Table):
    """The Compliance page's learners (sort names of `views.compliance.COMPLIANCE_LIST`), rendered one row at a time
    by its template (keep both in this order)."""

    caption = "Learners and their compliance state"

    learner = tables.Column(empty_values=(), verbose_name="Learner")
    learning_plan = tables.Column(empty_values=(), verbose_name="Learning plan")
    state = tables.Column(empty_values=(), verbose_name="State")
    round = _num("Round")
    completed_at = tables.Column(empty_values=(), verbose_name="Completed")
    certified_until = tables.Column(empty_values=(), verbose_name="Certified until")
    due_from = tables.Column(empty_values=(), verbose_name="Due from")

    class Meta:
        template_name = "archive/includes/compliance_table.html"
        attrs = {"class": "data-table", "id": "compliance-table"}
        empty_text = "No learner matches these filters."
        order_by_field = "sort"


class TeamComplianceTable(tables.Table):
    """My team's compliance column: each direct report's current enrollment per plan and its state."""

    caption = "Compliance of my team per learning plan"

    person = tables.Column(empty_values=(), verbose_name="Person")
    learning_plan = tables.Column(empty_values=(), verbose_name="Learning plan")
    state = tables.Column(empty_values=(), verbose_name="Compliance")
    certified_until = tables.Column(empty_values=(), verbose_name="Certified until")
    due_from = tables.Column(empty_values=(), verbose_name="Due from")

    class Meta:
        template_name = "archive/includes/team_compliance_table.html"
        attrs = {"class": "data-table", "id": "team-compliance-table"}
        empty_text = "Nobody in your team is enrolled in a learning plan."
        orderable = False
