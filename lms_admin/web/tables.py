"""What every list table shares: rows the pager already read, and the select and actions columns."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.safestring import mark_safe
from django_tables2.data import TableListData


class PreparedRows(TableListData):
    """Rows the pager already read and ordered: the table shows them as they are."""

    def order_by(self, aliases) -> None:
        pass


def actions_column() -> tables.Column:
    """The row ellipsis menu's column: no sorting, a heading only screen readers hear."""
    return tables.Column(
        empty_values=(),
        verbose_name=mark_safe('<span class="visually-hidden">Actions</span>'),
        orderable=False,
        attrs={"th": {"class": "actions"}},
    )


def select_column() -> tables.Column:
    """The rows' checkboxes for bulk actions: no sorting, a heading checkbox that selects the whole page."""
    return tables.Column(
        empty_values=(),
        verbose_name=mark_safe(
            '<input type="checkbox" class="select-page" data-select-page aria-label="Select every row on this page">'
        ),
        orderable=False,
        attrs={"th": {"class": "select"}},
    )
