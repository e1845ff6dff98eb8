"""Tables of the plans list and of a plan's Active enrollments (cell HTML lives in templates)."""

from __future__ import annotations

import django_tables2 as tables

from lms_admin.web.tables import actions_column, select_column

from .models import LearningPlan


class PlanTable(tables.Table):
    caption = "Learning plans"

    title = tables.TemplateColumn(template_name="enrollments/cells/plan_title.html", verbose_name="Title")
    code = tables.Column(verbose_name="Code")
    courses_count = tables.Column(verbose_name="Courses", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    active_count = tables.Column(
        verbose_name="Active enrollments", attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    archived_count = tables.Column(verbose_name="Archived", attrs={"td": {"class": "num"}, "th": {"class": "num"}})

    class Meta:
        model = LearningPlan
        fields = ("title", "code", "courses_count", "active_count", "archived_count")
        order_by = ("title",)
        attrs = {"class": "data-table", "id": "plans-table"}
        empty_text = "No learning plans match."


class ActiveEnrollmentTable(tables.Table):
    """Columns, headers and sort keys (the sort names of `selectors.ACTIVE_LIST`) of the Active view.

    The cells are rendered by the table's template, one row at a time; keep both in the same order.
    """

    caption = "Active enrollments"

    select = select_column()
    user = tables.Column(empty_values=(), verbose_name="User")
    username = tables.Column(empty_values=(), verbose_name="Username")
    status = tables.Column(verbose_name="Status")
    enrolled_at = tables.Column(verbose_name="Enrolled")
    validity = tables.Column(empty_values=(), verbose_name="Validity")
    completed_at = tables.Column(verbose_name="Completed")
    round = tables.Column(verbose_name="Round", attrs={"th": {"class": "num"}})
    actions = actions_column()

    class Meta:
        template_name = "enrollments/includes/active_table.html"
        attrs = {"class": "data-table", "id": "enrollments-table"}
        empty_text = "No enrollments match these filters."
        order_by_field = "sort"
