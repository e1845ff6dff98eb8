"""`{% load rows %}`: what a table row needs, at a fraction of the cost of Django's generic `{% url %}` and `|date`.

A list page renders 25 to 200 rows, each with two to four links and two or three dates. Measured here (timeit,
best of 3, shared 2-core machine): `reverse()` of a two-id URL ≈ 30 µs against ≈ 7 µs for `reverse_ids`, and
`|date:"Y-m-d H:i"` ≈ 36 µs against ≈ 10 µs for `|minute` (time-zone conversion included). With them the list
pages make 10–20 % fewer Python calls (docs/architecture.md, "Server CPU per page view").
"""

from __future__ import annotations

import datetime
import html
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe

from .lists import POSITION_PARAMS
from .reversing import reverse_ids

register = template.Library()


@register.simple_tag
def row_url(viewname: str, *ids: int) -> str:
    """`{% row_url 'archive:archived_detail' archived.pk %}`: the `{% url %}` of a row, for integer ids."""
    return reverse_ids(viewname, *ids)


@register.simple_tag
def page_url(viewname: str) -> str:
    """`{% page_url 'archive:job_list' %}`: the `{% url %}` of a page without arguments, such as the navigation's
    links that every page renders, reversed once per name."""
    return reverse_ids(viewname)


def minute_text(value: datetime.datetime | None) -> str:
    """`|minute` for Python code that renders a row: the local time as "Y-m-d H:i", empty for None."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# A row's empty date: a muted dash.
DASH = mark_safe('<span class="muted">—</span>')


def minute_or_dash(value: datetime.datetime | None) -> str:
    """`minute_text(value)`, or `DASH` for None."""
    return minute_text(value) if value else DASH


def day_text(value: datetime.datetime | None) -> str:
    """`|day` for Python code that renders a row: the local date as "Y-m-d", empty for None."""
    return timezone.localtime(value).strftime("%Y-%m-%d") if value else ""


def row_html(template: str, **values) -> SafeString:
    """`format_html(template, **values)` for a table row, at a third of its cost: each value escaped with
    `html.escape` (what Django's `escape` does) unless it is already HTML (`__html__`, e.g. `mark_safe`)."""
    return SafeString(
        template.format_map(
            {
                name: value.__html__() if hasattr(value, "__html__") else html.escape(str(value))
                for name, value in values.items()
            }
        )
    )


@register.simple_tag(takes_context=True)
def table_rows(context: template.Context, table) -> SafeString:
    """`{% table_rows table %}`: a big table's rows from its `render_row(record, context)`, which builds each with
    `row_html` — a row in one call instead of ≈ 40 template variables, and no template loop over the rows."""
    return SafeString("".join(table.render_row(row.record, context) for row in table.paginated_rows))


@register.simple_tag(takes_context=True)
def table_header(context: template.Context, table) -> SafeString:
    """`{% table_header table %}`: the header cells of a table (tables/table.html). Each column's django-tables2
    properties (its `th` attributes, whether and how it is ordered, its header) are read once; each sortable
    header is a link to the same list in the column's next order, keeping the filters and starting from the first
    page, and with `hx_target` in the context it updates only that element through htmx."""
    request, hx_target = context["request"], context.get("hx_target")
    cells = []
    for column in table.columns:
        th = column.attrs["th"].as_html()
        opening = f'<th scope="col" {th}' if th else '<th scope="col"'
        header = conditional_escape(column.header)
        mark = ""
        orderable, ordered = column.orderable, column.is_ordered
        alias = column.order_by_alias if orderable or ordered else None
        if ordered:
            descending = alias.is_descending
            opening += f' aria-sort="{"descending" if descending else "ascending"}"'
            mark = "▼" if descending else "▲"
        if orderable:
            params = dict(request.GET)
            params[table.prefixed_order_by_field] = alias.next
            for name in POSITION_PARAMS:  # a new order starts from the first page
                params.pop(name, None)
            url = escape(request.path) + escape("?" + urlencode(params, doseq=True))
            htmx = (
                f' hx-get="{url}" hx-target="{escape(hx_target)}" hx-swap="outerHTML" hx-push-url="true"'
                if hx_target
                else ""
            )
            cells.append(
                f'{opening}><a class="sort-link" href="{url}"{htmx}>{header}'
                f'<span class="sort-mark" aria-hidden="true">{mark}</span></a></th>'
            )
        else:
            cells.append(f"{opening}>{header}</th>")
    return SafeString("\n".join(cells))


@register.filter(expects_localtime=True)
def minute(value: datetime.datetime | None) -> str:
    """`{{ value|minute }}`: the same text as `|date:"Y-m-d H:i"` (in the current time zone), empty for None."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@register.filter(expects_localtime=True)
def day(value: datetime.date | None) -> str:
    """`{{ value|day }}`: the same text as `|date:"Y-m-d"`, empty for None."""
    return value.strftime("%Y-%m-%d") if value else ""
