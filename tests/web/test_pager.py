"""The one pager on keys other than the Active list's: a number (job items), a timestamp (jobs, archived records,
My team) and a text (plans by title); and the Archived view's FilterSet behind `filter_archived`."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, ArchiveMode
from archive.selectors import JOB_ITEM_LIST, filter_archived
from archive.services import archive_batch, current_rounds
from lms_admin.web.lists import parse_list_params
from lms_admin.web.pager import ListParams, paginate
from tests.factories import ManagerLinkFactory, SuperadminFactory, UserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 2, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def link(body: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)"[^>]* rel="{rel}">', body)
    return match.group(1).replace("&amp;", "&") if match else None


# ------------------------------------------------------------------------------------------------ a number key


@pytest.fixture
def job_items():
    """A job of 120 items at positions 0, 2, 4, … (gaps: a cursor must not assume consecutive keys)."""
    job = ArchiveJob.objects.create(mode=ArchiveMode.REENROLL, total=120)
    ArchiveJobItem.objects.bulk_create(
        ArchiveJobItem(job=job, position=2 * n, enrollment_id=1000 + n, round=1) for n in range(120)
    )
    return ArchiveJobItem.objects.filter(job=job)


def test_cursors_walk_a_number_key_forwards_and_back_without_gaps_or_repeats(job_items):
    params = ListParams(per_page=50, sort="position")
    first = paginate(job_items, JOB_ITEM_LIST, params)
    assert [row.position for row in first.rows] == list(range(0, 100, 2))
    assert (first.number, first.num_pages, first.has_next, first.keyset) == (1, 3, True, True)

    second = paginate(job_items, JOB_ITEM_LIST, ListParams(per_page=50, sort="position", after=first.last_cursor))
    third = paginate(job_items, JOB_ITEM_LIST, ListParams(per_page=50, sort="position", after=second.last_cursor))
    seen = [row.position for page in (first, second, third) for row in page.rows]
    assert seen == list(range(0, 240, 2))
    assert (second.start_index, second.number, third.number, third.has_next) == (51, 2, 3, False)

    back = paginate(job_items, JOB_ITEM_LIST, ListParams(per_page=50, sort="position", before=third.first_cursor))
    assert [row.pk for row in back.rows] == [row.pk for row in second.rows]
    last = paginate(job_items, JOB_ITEM_LIST, ListParams(per_page=50, sort="position", last=True))
    assert [row.position for row in last.rows] == list(range(200, 240, 2))  # the remainder, aligned with page 3


def test_a_number_cursor_reads_back_from_its_link_and_a_bad_one_falls_back_with_a_notice(job_items):
    first = paginate(job_items, JOB_ITEM_LIST, ListParams(per_page=50, sort="position"))
    params = parse_list_params(QueryDict(f"after={first.last_cursor}"), JOB_ITEM_LIST)
    assert params.after == first.last_cursor and not params.notices
    for bad in ("98", "x|1", "1|99999999999999999999", "2026-01-01T00:00:00+00:00|1"):
        params = parse_list_params(QueryDict(f"after={bad}"), JOB_ITEM_LIST)
        assert params.after is None
        assert params.notices == ["That page link is not valid any more. Showing the first page."]
    with pytest.raises(ValidationError) as caught:
        JOB_ITEM_LIST.parse_cursor("12")
    assert caught.value.code == "invalid_request"


def test_a_capped_count_says_so_and_keyset_pages_still_reach_the_end(job_items):
    params = ListParams(per_page=50, sort="position")
    capped = paginate(job_items, JOB_ITEM_LIST, params, exact_count=False, count_cap=60)
    assert (capped.total, capped.count_cap, capped.num_pages) == (None, 60, None)
    deep = paginate(
        job_items,
        JOB_ITEM_LIST,
        ListParams(per_page=50, sort="position", after=capped.last_cursor),
        exact_count=False,
        count_cap=60,
    )
    assert deep.start_index == 51 and deep.has_next
    beyond = paginate(
        job_items,
        JOB_ITEM_LIST,
        ListParams(per_page=50, sort="position", after=deep.last_cursor),
        exact_count=False,
        count_cap=60,
    )
    assert beyond.start_index is None and len(beyond.rows) == 20  # past the counted rows: no position shown


def test_the_job_page_pages_its_items_and_the_links_keep_the_outcome(client, job_items):
    client.force_login(SuperadminFactory())
    job = job_items.first().job
    ArchiveJobItem.objects.filter(job=job, position__gte=100).update(outcome="archived")
    url = reverse("archive:job_detail", args=[job.pk])
    first = client.get(url, {"outcome": "archived"}).content.decode()
    assert "Page 1 of 2" in first
    second = client.get(link(first, "next")).content.decode()
    assert "outcome=archived" in link(first, "next") and "after=" in link(first, "next")
    positions = [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', second)]
    assert positions == list(range(200, 240, 2))
    ignored = client.get(url, {"outcome": "sideways"}).content.decode()
    assert "outcome=" not in link(ignored, "next")  # a refused outcome is not carried along


# ------------------------------------------------------------------------------------------------ timestamp keys


def test_the_jobs_list_pages_newest_first_by_keyset(client):
    admin = SuperadminFactory()
    ArchiveJob.objects.bulk_create(
        ArchiveJob(mode=ArchiveMode.REENROLL, created_at=START + datetime.timedelta(minutes=n)) for n in range(30)
    )
    oldest = list(ArchiveJob.objects.order_by("created_at", "id").values_list("pk", flat=True)[:5])
    client.force_login(admin)
    first = client.get(reverse("archive:job_list")).content.decode()
    assert first.count("<tr data-job-id=") == 25 and "Page 1 of 2" in first
    second = client.get(link(first, "next")).content.decode()
    assert sorted(int(pk) for pk in re.findall(r'<tr data-job-id="(\d+)"', second)) == sorted(oldest)
    assert "Page 2 of 2" in second
    assert "is not a page number" in client.get(reverse("archive:job_list"), {"page": "x"}).content.decode()


@pytest.fixture
def archived_plan():
    """60 archived records of one plan, archived one per hour, the learner's number in the username."""
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=1, materials_per_course=1, title="Scaffolding")
    enrollments = enroll_in_bulk(plan, 60, prefix="rigger", start=START)
    for n, enrollment in enumerate(enrollments):
        archive_batch(
            current_rounds([enrollment.pk]),
            actor=admin,
            mode=ArchiveMode.REENROLL,
            reset_tracking=False,
            notify=False,
            now=START + datetime.timedelta(hours=n),
        )
    return admin, plan


def archived_usernames(body: str) -> list[str]:
    return re.findall(r'<span class="muted">(rigger\d+)</span>', body)


def test_the_archived_view_walks_its_pages_like_the_active_view(client, archived_plan):
    admin, plan = archived_plan
    client.force_login(admin)
    url = reverse("archive:archived_list", args=[plan.pk])
    first = client.get(url).content.decode()
    assert archived_usernames(first)[0] == "rigger00059"
    assert "Showing 1–25 of 60 archived enrollments" in first and "Page 1 of 3" in first
    assert re.search(r'hx-get="[^"]*after=[^"]*" hx-target="#archived-results"', first)
    second = client.get(link(first, "next")).content.decode()
    assert archived_usernames(second) == [f"rigger{n:05d}" for n in range(34, 9, -1)]
    assert "Showing 26–50 of 60 archived enrollments" in second
    last = client.get(link(second, "last")).content.decode()
    assert archived_usernames(last) == [f"rigger{n:05d}" for n in range(9, -1, -1)]
    back = client.get(link(last, "prev")).content.decode()
    assert archived_usernames(back) == archived_usernames(second)
    by_user = client.get(url, {"sort": "user", "page": "3"}).content.decode()
    assert "Showing 51–60 of 60 archived enrollments" in by_user


def test_my_team_pages_by_keyset_and_the_links_keep_the_chosen_member(client, archived_plan):
    _, plan = archived_plan
    manager = UserFactory(username="foreman")
    team = list(ArchivedPlanEnrollment.objects.filter(learning_plan=plan).order_by("id")[:30])
    for record in team:
        ManagerLinkFactory(manager=manager, employee=record.user)
    client.force_login(manager)
    url = reverse("archive:team")
    first = client.get(url).content.decode()
    assert "30 archived enrollments" in first and "Page 1 of 2" in first
    second = client.get(link(first, "next")).content.decode()
    assert second.count("<tr data-archive-id=") == 5
    one = client.get(url, {"user": team[0].user_id}).content.decode()
    assert "1 archived enrollment" in one and link(one, "next") is None


# ------------------------------------------------------------------------------------------------ a text key


def test_the_plans_list_pages_by_title_even_through_a_title_holding_the_cursor_separator(client):
    for n in range(30):
        make_plan(courses=0, title=f"Plan|{n:02d}")
    client.force_login(SuperadminFactory())
    first = client.get(reverse("enrollments:plan_list")).content.decode()
    second = client.get(link(first, "next")).content.decode()
    titles = re.findall(r'<a href="[^"]+">(Plan\|\d+)</a>', first + second)
    assert titles == [f"Plan|{n:02d}" for n in range(30)]


# ------------------------------------------------------------------------------------------------ archived filters


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"archived_from": "yesterday"}, "archived_from must be a date (YYYY-MM-DD), not 'yesterday'."),
        ({"archived_to": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)}, "archived_to must be a date"),
        ({"archived_from": "2026-03-12", "archived_to": "2026-03-10"}, "archived_from must not be after"),
        ({"archived_to": "9999-12-31"}, "archived_to is out of range."),
        ({"archived_by": "me"}, "archived_by must be a user id, not 'me'."),
        ({"archived_by": 0}, "archived_by is out of range."),
        ({"archived_by": str(2**63)}, "archived_by is out of range."),
        ({"user_status": "asleep"}, "user_status must be one of active, deactivated, expired."),
        ({"search": "ada\x00"}, "search must not contain NUL characters."),
    ],
)
def test_a_bad_archived_filter_names_itself(filters, message):
    with pytest.raises(ValidationError) as caught:
        filter_archived(ArchivedPlanEnrollment.objects.all(), filters)
    assert caught.value.code == "invalid_request"
    assert message in caught.value.message


def test_archived_filters_take_parsed_values_as_the_api_hands_them(archived_plan):
    admin, plan = archived_plan
    records = filter_archived(
        plan.archived_enrollments.all(),
        {"archived_from": datetime.date(2026, 2, 4), "archived_by": admin.pk, "user_status": "active", "search": ""},
    )
    assert records.count() == 21  # archived from 2026-02-04 00:00 on: hours 39 to 59 after START
