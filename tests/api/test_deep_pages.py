"""API list pages (SPEC §7) are a deferred join: the page's ids from the list's index, then those rows. Every page
holds the rows the list's order puts there, from either end, in the same envelope; the wide rows are never read
through an OFFSET."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments, start_archive_job
from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from tests.factories import UserFactory, make_plan

pytestmark = pytest.mark.django_db

RECORDS = 7
HOURS = [3, 0, 2, 3, 1, 0, 2]  # the archive (and enrollment) hour of each record: an order that is not the ids'


@pytest.fixture
def plan_with_history(superadmin):
    """A plan with RECORDS archived records (archive times with ties, so the id breaks them) and as many live
    enrollments (enrolled at tied times too)."""
    plan = make_plan(courses=1, materials_per_course=1)
    enrollments = [enroll_user(user=UserFactory(), learning_plan=plan) for _ in range(RECORDS)]
    archive_enrollments(enrollment_ids=[e.pk for e in enrollments], actor=superadmin, mode="reenroll", notify=False)
    start = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    for number, record in enumerate(ArchivedPlanEnrollment.objects.filter(learning_plan=plan).order_by("pk")):
        at = start + datetime.timedelta(hours=HOURS[number])
        ArchivedPlanEnrollment.objects.filter(pk=record.pk).update(archived_at=at)
        LearningPlanEnrollment.objects.filter(pk=record.enrollment_id).update(enrolled_at=at)
    return plan


def every_page(client, url: str, page_size: int) -> tuple[list[int], list[dict]]:
    """The ids of pages 1, 2, … up to the first empty one, and each page's envelope without its items."""
    ids, envelopes, page = [], [], 1
    while True:
        data = client.get(url, {"page": page, "page_size": page_size}).json()["data"]
        envelopes.append({key: value for key, value in data.items() if key != "items"})
        if not data["items"]:
            return ids, envelopes
        ids += [item["id"] for item in data["items"]]
        page += 1


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 200])
def test_archived_pages_from_both_ends_hold_the_list_in_order(api_as, superadmin, plan_with_history, page_size):
    client = api_as(superadmin)
    newest_first = list(
        ArchivedPlanEnrollment.objects.filter(learning_plan=plan_with_history)
        .order_by("-archived_at", "-id")
        .values_list("pk", flat=True)
    )

    ids, envelopes = every_page(
        client, f"/api/v1/learning-plans/{plan_with_history.pk}/archived-enrollments", page_size
    )

    assert ids == newest_first
    pages = -(-RECORDS // page_size)
    assert envelopes[0] == {
        "count": RECORDS,
        "current_page": 1,
        "page_size": page_size,
        "total_page_count": pages,
        "has_more_data": pages > 1,
    }
    assert envelopes[-1] == {
        "count": RECORDS,
        "current_page": pages + 1,
        "page_size": page_size,
        "total_page_count": pages,
        "has_more_data": False,
    }


@pytest.mark.parametrize("page_size", [2, 3])
def test_enrollment_pages_from_both_ends_hold_the_list_in_order(api_as, superadmin, plan_with_history, page_size):
    newest_first = list(
        LearningPlanEnrollment.objects.filter(learning_plan=plan_with_history)
        .order_by("-enrolled_at", "-id")
        .values_list("pk", flat=True)
    )

    ids, _ = every_page(api_as(superadmin), f"/api/v1/learning-plans/{plan_with_history.pk}/enrollments", page_size)

    assert ids == newest_first


def test_job_item_pages_keep_the_selection_order(api_as, superadmin, plan_with_history):
    ids = list(LearningPlanEnrollment.objects.filter(learning_plan=plan_with_history).values_list("pk", flat=True))
    job = start_archive_job(learning_plan=plan_with_history, actor=superadmin, mode="reenroll", enrollment_ids=ids)
    client = api_as(superadmin)

    pages = [client.get(f"/api/v1/jobs/{job.pk}/items", {"page": p, "page_size": 3}).json()["data"] for p in (1, 2, 3)]

    assert [item["enrollment_id"] for page in pages for item in page["items"]] == sorted(ids)


@pytest.mark.parametrize("page", [2, 3], ids=["in the first half", "in the second half: walked from the end"])
def test_a_deep_page_reads_only_ids_through_the_offset(api_as, superadmin, plan_with_history, page):
    client = api_as(superadmin)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            f"/api/v1/learning-plans/{plan_with_history.pk}/archived-enrollments", {"page": page, "page_size": 2}
        )

    assert response.status_code == 200 and response.json()["data"]["items"]
    record_reads = [q["sql"] for q in queries.captured_queries if "archive_archivedplanenrollment" in q["sql"]]
    with_offset = [sql for sql in record_reads if "OFFSET" in sql]
    assert len(with_offset) == 1
    assert with_offset[0].startswith('SELECT "archive_archivedplanenrollment"."id" AS "pk" FROM')
