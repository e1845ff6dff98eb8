"""The Archived view's search chooses how to read the list (newest first, by matching ids, or a walk in date order)
from what it finds, not from PostgreSQL's guess: every way finds the same records, and none leaves its planner
settings behind on the connection."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from archive import filters
from archive.models import ArchivedPlanEnrollment
from archive.selectors import filter_archived
from archive.services import archive_enrollments
from enrollments.services import enroll_user
from tests.factories import UserFactory, make_plan

pytestmark = pytest.mark.django_db

NAMES = [
    ("ada.l", "Ada", "Lovelace"),
    ("grace", "Grace", "Hopper"),
    ("alan_t", "Alan", "Turing"),
    ("ada.b", "Ada", "Byron"),
    ("kat", "Katherine", "Johnson"),
    ("dorothy", "Dorothy", "Vaughan"),
]


@pytest.fixture
def archived_plan(superadmin):
    """Six archived records a day apart, the first oldest; another plan with an Ada too."""
    plan = make_plan(courses=1, materials_per_course=1)
    people = [UserFactory(username=u, first_name=f, last_name=last) for u, f, last in NAMES]
    enrollments = [enroll_user(user=person, learning_plan=plan) for person in people]
    archive_enrollments(enrollment_ids=[e.pk for e in enrollments], actor=superadmin, mode="reenroll", notify=False)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for days, enrollment in enumerate(enrollments):
        ArchivedPlanEnrollment.objects.filter(enrollment_id=enrollment.pk).update(
            archived_at=start + datetime.timedelta(days=days)
        )
    other = enroll_user(
        user=UserFactory(username="ada.x", first_name="Ada", last_name="Other"), learning_plan=make_plan()
    )
    archive_enrollments(enrollment_ids=[other.pk], actor=superadmin, mode="reenroll", notify=False)
    return plan


def found(plan, search: str) -> list[str]:
    records = filter_archived(plan.archived_enrollments.all(), {"search": search})
    return list(records.order_by("-archived_at", "-id").values_list("user_username", flat=True))


def expected(search: str) -> list[str]:
    """The same search done in Python, newest first."""
    terms = search.upper().split()
    return [u for u, f, last in reversed(NAMES) if all(t in f"{u} {f} {last}".upper() for t in terms)]


SEARCHES = ["ada", "ADA LOVE", "ada hopper", "a", "ada by", "al", "ohn", "zzz", "_t", "on son"]


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize(
    ("probe_matches", "ids_max"),
    [(1, 20_000), (1_000, 20_000), (1_000, 1)],
    ids=["dense among the newest: date order", "few: by their ids", "many: date order"],
)
def test_every_way_of_searching_finds_the_same_records_newest_first(
    archived_plan, monkeypatch, search, probe_matches, ids_max
):
    monkeypatch.setattr(filters, "PROBE_MATCHES", probe_matches)
    monkeypatch.setattr(filters, "SEARCH_IDS_MAX", ids_max)

    assert found(archived_plan, search) == expected(search)


def test_a_search_matching_few_old_records_reads_them_by_id_not_by_walking_the_dates(client, superadmin, archived_plan):
    client.force_login(superadmin)
    url = reverse("archive:archived_list", args=[archived_plan.pk])

    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"search": "lovelace"})

    assert page.status_code == 200 and "Lovelace" in page.content.decode() and "Hopper" not in page.content.decode()
    statements = [q["sql"] for q in queries.captured_queries]
    page_ids = next(sql for sql in statements if "= ANY(" in sql and "LIMIT 26" in sql)
    assert "LIKE" not in page_ids
    rows_query = next(sql for sql in reversed(statements) if '"user_last_name"' in sql)
    assert '"id" IN (' in rows_query and "LIKE" not in rows_query


def test_a_search_matching_many_old_records_walks_only_the_index_then_reads_the_page_by_id(
    client, superadmin, archived_plan, monkeypatch
):
    """The walk in date order tests the names the plan's date index carries (an index-only scan): only the page's
    ids come out of it, and the page's rows are read by id afterwards."""
    monkeypatch.setattr(filters, "SEARCH_IDS_MAX", 0)  # as when thousands of old records match
    client.force_login(superadmin)
    url = reverse("archive:archived_list", args=[archived_plan.pk])

    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"search": "lovelace"})

    assert page.status_code == 200 and "Lovelace" in page.content.decode() and "Hopper" not in page.content.decode()
    statements = [q["sql"] for q in queries.captured_queries]
    walk = next(sql for sql in statements if "LIKE" in sql and "LIMIT 26" in sql)
    assert walk.startswith('SELECT "archive_archivedplanenrollment"."id" AS "pk" FROM')
    rows_query = next(sql for sql in reversed(statements) if '"user_last_name"' in sql)
    assert '"id" IN (' in rows_query and "LIKE" not in rows_query
    assert len(queries.captured_queries) <= 10


def current_plan_settings() -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan'), "
            "current_setting('enable_indexonlyscan')"
        )
        return cursor.fetchone()


def test_the_planner_settings_of_the_lookup_end_with_it_inside_a_transaction(archived_plan):
    assert found(archived_plan, "lovelace") == ["ada.l"]

    assert current_plan_settings() == ("on", "on", "on")


@pytest.mark.django_db(transaction=True)
def test_the_planner_settings_end_with_the_lookup_in_autocommit_too(superadmin):
    plan = make_plan(courses=1, materials_per_course=1)
    person = UserFactory(username="ada.l", first_name="Ada", last_name="Lovelace")
    archive_enrollments(
        enrollment_ids=[enroll_user(user=person, learning_plan=plan).pk], actor=superadmin, mode="reenroll"
    )
    assert connection.get_autocommit()

    assert found(plan, "lovelace") == ["ada.l"]

    assert current_plan_settings() == ("on", "on", "on")
