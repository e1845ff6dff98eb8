"""`{% load rows %}`: a row's links and dates read exactly as `{% url %}` and `|date` wrote them, for less CPU."""

from __future__ import annotations

import datetime

from django.template import engines
from django.urls import reverse, set_script_prefix
from django.utils import timezone

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
