"""The Compliance page (counts per state per plan; the per-learner list with filters, search, keyset pages, htmx
partials and a CSV) and My team's compliance column, each for the roles that see them."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enrollments.models import LearningPlanEnrollment
from enrollments.retraining import save_rule
from tests.factories import enroll_in_bulk
from tests.retraining.pages_world import DAY, complete, rworld_fixture  # noqa: F401 - the `rworld` fixture

pytestmark = pytest.mark.django_db

URL = reverse("archive:compliance")
CSV_URL = reverse("archive:compliance_export")
STATES = ("certified", "due", "retraining", "expired", "never_completed", "exempt")


def text(response) -> str:
    return html.unescape(response.content.decode())


def listed(response) -> dict[str, str]:
    """username → state of the list's rows, in their order."""
    rows = re.findall(
        r'<tr data-enrollment-id="\d+" data-state="(\w+)">\s*<td><a [^>]*>[^<]*</a> <span class="muted">(\w+)</span>',
        text(response),
    )
    return {username: state for state, username in rows}


def counts_of(response, plan) -> dict[str, int]:
    row = re.search(rf'<tr data-plan-id="{plan.pk}">(.*?)</tr>', text(response), re.S).group(1)
    return {state: int(n) for state, n in re.findall(r'data-state="(\w+)">(?:<a [^>]*>|<span [^>]*>)(\d+)<', row)}


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_counts_per_state_and_plan_cover_every_learner(rworld):
    response = rworld.client(rworld.superadmin).get(URL)

    assert response.status_code == 200
    assert 'aria-current="page">Compliance</a>' in text(response)
    assert counts_of(response, rworld.plan) == {
        "certified": 2,  # cy, dee
        "due": 2,  # ada, fay (due, though a run leaves the deactivated fay alone)
        "retraining": 0,
        "expired": 1,  # bob
        "never_completed": 1,  # eve
        "exempt": 1,  # gus
    }
    assert counts_of(response, rworld.other_plan)["certified"] == 1  # no rule: certified with no end date


def test_each_learner_is_listed_with_the_state_and_dates_of_the_one_state_function(rworld):
    response = rworld.client(rworld.superadmin).get(URL, {"learning_plan": rworld.plan.pk})

    assert listed(response) == {
        "gus": "exempt",
        "fay": "due",
        "eve": "never_completed",
        "dee": "certified",
        "cy": "certified",
        "bob": "expired",
        "ada": "due",
    }
    ada = LearningPlanEnrollment.objects.get(pk=rworld.enrollments["ada"].pk)
    row = re.search(rf'<tr data-enrollment-id="{ada.pk}".*?</tr>', text(response), re.S).group(0)
    assert '<span class="badge badge-compliance badge-compliance-due">Due</span>' in row
    assert f"<td>{ada.certified_until:%Y-%m-%d}</td>" in row
    assert f"<td>{ada.certified_until - 30 * DAY:%Y-%m-%d}</td>" in row


@pytest.mark.parametrize(
    ("query", "usernames"),
    [
        ({"state": "due"}, ["fay", "ada"]),
        ({"state": "expired"}, ["bob"]),
        ({"search": "DRIV ad"}, ["ada"]),
        ({"search": "medic"}, ["hal"]),
        ({"state": "certified", "search": "driver"}, ["dee", "cy"]),
    ],
)
def test_filters_and_search_narrow_the_list(rworld, query, usernames):
    response = rworld.client(rworld.superadmin).get(URL, query)

    assert list(listed(response)) == usernames


def test_the_user_filter_shows_every_plan_of_one_learner(rworld):
    enroll = LearningPlanEnrollment.objects.create(user=rworld.people["ada"], learning_plan=rworld.other_plan)

    response = rworld.client(rworld.superadmin).get(URL, {"user": rworld.people["ada"].pk})

    rows = re.findall(r'<tr data-enrollment-id="(\d+)" data-state="(\w+)"', text(response))
    assert rows == [(str(enroll.pk), "never_completed"), (str(rworld.enrollments["ada"].pk), "due")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"state": "happy"}, "state must be one of certified, due, retraining, expired, never_completed, exempt."),
        ({"learning_plan": "999999"}, "learning_plan must be the id of one of your learning plans."),
        ({"user": "ada"}, "user must be a user id, not 'ada'."),
    ],
)
def test_a_bad_filter_is_named_and_lists_nothing(rworld, query, message):
    response = rworld.client(rworld.superadmin).get(URL, query)

    assert response.status_code == 200
    assert f'<div class="form-errors" role="alert"><p>{message}</p></div>' in text(response)
    assert listed(response) == {}
    assert rworld.client(rworld.superadmin).get(CSV_URL, query).status_code == 404


def test_a_power_user_sees_only_their_plans(rworld):
    response = rworld.client(rworld.power_user).get(URL)

    assert f'<tr data-plan-id="{rworld.plan.pk}">' in text(response)
    assert f'<tr data-plan-id="{rworld.other_plan.pk}">' not in text(response)
    assert "hal" not in listed(response)
    other = rworld.client(rworld.power_user).get(URL, {"learning_plan": rworld.other_plan.pk})
    assert "learning_plan must be the id of one of your learning plans." in text(other)
    assert [r["username"] for r in csv_rows(rworld.client(rworld.power_user).get(CSV_URL))] == [
        "ada", "bob", "cy", "dee", "eve", "fay", "gus",
    ]  # fmt: skip


def test_a_manager_gets_403_and_finds_compliance_in_my_team(rworld):
    client = rworld.client(rworld.manager)

    assert client.get(URL).status_code == 403
    assert client.get(CSV_URL).status_code == 403
    assert "Compliance</a>" not in text(client.get(reverse("archive:team")))


def test_the_csv_holds_exactly_the_filtered_rows_with_their_dates(rworld):
    response = rworld.client(rworld.superadmin).get(CSV_URL, {"state": "due", "page": "3", "sort": "-round"})

    rows = csv_rows(response)
    assert response["Content-Disposition"] == f'attachment; filename="compliance-{rworld.today:%Y-%m-%d}.csv"'
    assert [(r["username"], r["state"], r["learning_plan_code"]) for r in rows] == [
        ("ada", "due", "FORK"),
        ("fay", "due", "FORK"),
    ]
    ada = LearningPlanEnrollment.objects.get(pk=rworld.enrollments["ada"].pk)
    assert rows[0]["certified_until"] == ada.certified_until.isoformat()
    assert rows[0]["due_from"] == (ada.certified_until - 30 * DAY).isoformat()
    assert rows[0]["completed_at"] == ada.completed_at.isoformat()


def test_the_list_pages_by_key_and_htmx_gets_the_list_alone(rworld):
    enroll_in_bulk(rworld.plan, 30, prefix="crowd")
    client = rworld.client(rworld.superadmin)

    first = client.get(URL, {"learning_plan": rworld.plan.pk})
    assert "Showing 1–25 of 37 enrollments" in text(first)
    next_url = re.search(r'<a href="([^"]+)"[^>]*rel="next"', text(first)) or re.search(
        r'href="([^"]*after=[^"]+)"', text(first)
    )
    second = client.get(html.unescape(next_url.group(1)), HTTP_HX_REQUEST="true")

    assert "Showing 26–37 of 37 enrollments" in text(second)
    assert text(second).lstrip().startswith('<section id="compliance-results"')
    assert "compliance-counts" not in text(second)
    assert set(listed(first)).isdisjoint(listed(second))
    assert len(listed(first)) + len(listed(second)) == 37


def test_a_sorted_list_orders_by_the_column(rworld):
    response = rworld.client(rworld.superadmin).get(URL, {"learning_plan": rworld.plan.pk, "sort": "due_from"})

    assert list(listed(response))[:3] == ["bob", "gus", "ada"]  # the earliest windows first; no date last
    assert list(listed(response))[-1] == "eve"


def test_the_page_costs_at_most_ten_queries_whatever_its_size(rworld, django_assert_max_num_queries):
    client = rworld.client(rworld.superadmin)
    enroll_in_bulk(rworld.plan, 60, prefix="crowd")
    for plan_query in ({}, {"learning_plan": rworld.plan.pk, "state": "never_completed", "search": "crowd"}):
        with django_assert_max_num_queries(10):
            response = client.get(URL, plan_query)
        assert response.status_code == 200
    with django_assert_max_num_queries(10):
        client.get(URL, {"page": 2})


# --- My team ----------------------------------------------------------------------------------------------------


def team_rows(response) -> list[tuple[str, str, str]]:
    table = re.search(r'<table class="data-table" id="team-compliance-table">(.*?)</table>', text(response), re.S)
    return re.findall(
        r'data-state="(\w+)">\s*<td>([^<]+) <span class="muted">\w+</span></td>\s*<td>([^<]+)</td>', table.group(1)
    )


def test_my_team_shows_each_direct_reports_state_per_plan(rworld):
    LearningPlanEnrollment.objects.create(user=rworld.people["eve"], learning_plan=rworld.other_plan)
    complete(
        LearningPlanEnrollment.objects.get(user=rworld.people["eve"], learning_plan=rworld.other_plan), rworld.today
    )
    save_rule(learning_plan=rworld.other_plan, actor=rworld.superadmin, data={"valid_for_months": 12})

    response = rworld.client(rworld.manager).get(reverse("archive:team"))

    assert team_rows(response) == [
        ("due", "Ada Driver", "Forklift licence"),
        ("certified", "Eve Driver", "First aid"),
        ("never_completed", "Eve Driver", "Forklift licence"),
    ]
    assert "Bob Driver" not in text(response)  # not a report
    only_ada = rworld.client(rworld.manager).get(reverse("archive:team"), {"user": rworld.people["ada"].pk})
    assert team_rows(only_ada) == [("due", "Ada Driver", "Forklift licence")]


def test_one_plans_list_is_read_through_that_plans_index_not_a_walk_of_every_enrollment(rworld):
    """Newest first within one plan is a range of (learning_plan, id): the plan holding the oldest ids of a million
    enrollments no longer walks the whole table's key backwards (0.27 s in docs/PERFORMANCE.md's bench)."""
    with CaptureQueriesContext(connection) as queries:
        rworld.client(rworld.superadmin).get(URL, {"learning_plan": rworld.plan.pk})
    page = next(
        q["sql"] for q in queries.captured_queries if '"compliance_state"' in q["sql"] and "LIMIT 26" in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: make the planner show its index path
        cursor.execute(f"EXPLAIN {page}")
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "lpe_plan_id_idx" in plan
