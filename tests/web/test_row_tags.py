"""`{% load rows %}`: a row's links and dates read exactly as `{% url %}` and `|date` wrote them, for less CPU."""

from __future__ import annotations

import datetime

import pytest
from django.template import engines
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from archive.tables import JobTable
from enrollments.tables import ActiveEnrollmentTable
from lms_admin.web.reversing import reverse_ids

ROW = engines["django"].from_string(
    "{% load rows %}{% row_url 'archive:archive_enrollment' plan record as archive_url %}"
    "<a href=\"{% row_url 'archive:archived_detail' record %}\">{{ archive_url }}</a>"
    "|{{ at|minute }}|{{ at|day }}|{{ day|day }}|{{ missing|minute }}|{{ missing|day|default:'…' }}"
)
GENERIC = engines["django"].from_string(
    "{% url 'archive:archive_enrollment' plan record as archive_url %}"
    "<a href=\"{% url 'archive:archived_detail' record %}\">{{ archive_url }}</a>"
    '|{{ at|date:"Y-m-d H:i" }}|{{ at|date:"Y-m-d" }}|{{ day|date:"Y-m-d" }}|{{ missing|date:"Y-m-d H:i" }}'
    "|{{ missing|date:'Y-m-d'|default:'…' }}"
)


def render_both(**context) -> tuple[str, str]:
    return ROW.render(context), GENERIC.render(context)


def test_a_row_reads_the_same_as_with_the_generic_url_tag_and_date_filter_in_another_time_zone():
    # 23:30 UTC is the next day in Paris: both must show the Paris date and time.
    context = {"plan": 7, "record": 9_100_000_000_000_000_000, "day": datetime.date(2026, 3, 1), "missing": None}
    with timezone.override("Europe/Paris"):
        fast, generic = render_both(at=datetime.datetime(2026, 3, 28, 23, 30, tzinfo=datetime.UTC), **context)
    assert fast == generic
    assert "2026-03-29 00:30|2026-03-29|2026-03-01||…" in fast


def test_row_links_follow_the_script_prefix_and_take_every_id_in_its_place():
    set_script_prefix("/lms/")
    try:
        assert reverse_ids("archive:archive_enrollment", 12, 345) == reverse(
            "archive:archive_enrollment", args=[12, 345]
        )
        assert reverse_ids("archive:archive_enrollment", 12, 345).startswith("/lms/")
    finally:
        set_script_prefix("/")
    assert reverse_ids("archive:archive_enrollment", 345, 12) == reverse("archive:archive_enrollment", args=[345, 12])
    assert reverse_ids("archive:archived_detail", 5) == "/archive/records/5/"
    # An id that happens to spell another argument's placeholder is still only itself.
    huge = 9_100_000_000_000_000_002
    assert reverse_ids("archive:archive_enrollment", huge, 5) == reverse("archive:archive_enrollment", args=[huge, 5])


# The header loop tables/table.html had, through django-tables2's template tags: `{% table_header %}` writes the same.
GENERIC_HEADER = engines["django"].from_string(
    """{% load django_tables2 %}{% for column in table.columns %}
<th scope="col" {{ column.attrs.th.as_html }}{% if column.is_ordered %} aria-sort="{% if column.order_by_alias.is_descending %}descending{% else %}ascending{% endif %}"{% endif %}>{% if column.orderable %}{% querystring_replace table.prefixed_order_by_field=column.order_by_alias.next as=sort_query without "page" "after" "before" "last" %}<a class="sort-link" href="{{ request.path }}{{ sort_query }}"{% if hx_target %} hx-get="{{ request.path }}{{ sort_query }}" hx-target="{{ hx_target }}" hx-swap="outerHTML" hx-push-url="true"{% endif %}>{{ column.header }}<span class="sort-mark" aria-hidden="true">{% if column.is_ordered %}{% if column.order_by_alias.is_descending %}▼{% else %}▲{% endif %}{% endif %}</span></a>{% else %}{{ column.header }}{% endif %}</th>{% endfor %}"""  # noqa: E501
)
HEADER = engines["django"].from_string("{% load rows %}{% table_header table %}")


def header_cells(html: str) -> list[str]:
    return [" ".join(cell.split()).replace('scope="col" >', 'scope="col">') for cell in html.split("<th")[1:]]


@pytest.mark.parametrize("sort", ["", "-enrolled_at", "user", "-round", "actions"])
@pytest.mark.parametrize("hx_target", ["", "#enrollment-results"])
def test_the_header_reads_as_django_tables2_wrote_it_for_every_order(rf, sort, hx_target):
    query = {"status": ["1", "2"], "search": "<Ada & Bo>", "page": "3", "after": "x|1"}
    request = rf.get("/plans/7/enrollments/", {**query, **({"sort": sort} if sort else {})})
    table = ActiveEnrollmentTable([], order_by=sort or None)
    table.columns["user"].column.verbose_name = "User <b>"  # a header is escaped like any value

    fast = HEADER.render({"table": table, "request": request, "hx_target": hx_target})
    generic = GENERIC_HEADER.render({"table": table, "request": request, "hx_target": hx_target})

    assert header_cells(fast) == header_cells(generic)
    assert len(header_cells(fast)) == len(table.columns) == 9
    assert "User &lt;b&gt;" in fast and "page=" not in fast and "after=" not in fast
    assert ("hx-get=" in fast) == bool(hx_target)
    if sort == "-enrolled_at":
        assert 'aria-sort="descending"' in fast and "sort=enrolled_at" in fast


def test_the_jobs_table_header_reads_as_django_tables2_wrote_it(rf):
    table = JobTable([])

    fast = HEADER.render({"table": table, "request": rf.get("/archive/jobs/")})

    assert header_cells(fast) == header_cells(
        GENERIC_HEADER.render({"table": table, "request": rf.get("/archive/jobs/")})
    )
