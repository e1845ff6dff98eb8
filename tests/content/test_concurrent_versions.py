"""SPEC §13 under concurrency: two batches of the same plan archived at the same moment, the first still holding
its new content version uncommitted, neither fails nor duplicates it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from archive.models import ArchivedPlanEnrollment, PlanContentVersion
from archive.services import archive_batch, archive_enrollments, current_rounds
from tests.archive.popup_forms import InThread
from tests.factories import enroll_in_bulk, make_plan
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_on_a_lock() -> bool:
    """The second batch's snapshot statement (which writes the content version) waits for the first's lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            " AND query LIKE %s",
            ["WITH batch AS MATERIALIZED%content_courses AS MATERIALIZED%"],
        )
        return cursor.fetchone()[0] > 0


def test_two_batches_of_one_plan_at_once_share_one_version(superadmin):
    plan = make_plan(courses=2, materials_per_course=3)
    enrollments = enroll_in_bulk(plan, 6)
    first, second = [e.pk for e in enrollments[:3]], [e.pk for e in enrollments[3:]]
    written, release = threading.Event(), threading.Event()

    def first_batch_held_open():
        with transaction.atomic():
            results = archive_batch(
                current_rounds(first), actor=superadmin, mode="reenroll", reset_tracking=False, notify=False
            )
            written.set()
            assert release.wait(30)
        return results

    holding = InThread(first_batch_held_open)
    assert written.wait(30)
    racing = InThread(
        lambda: archive_enrollments(enrollment_ids=second, actor=superadmin, mode="reenroll", notify=False)
    )
    wait_for(waiting_on_a_lock, timeout=30, message="the second batch never met the first one's version row")
    release.set()

    assert {result.outcome for result in holding.result()} == {"archived"}
    assert racing.result().counts == {"archived": 3}
    version = PlanContentVersion.objects.get()
    assert ArchivedPlanEnrollment.objects.filter(content_version=version).count() == 6
