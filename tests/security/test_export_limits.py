"""Bounded exports (issue 17): the archived export streams from a server-side cursor, and a user runs one export
at a time — a second while the first streams gets a 429 page, and the slot comes back when the first ends."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.urls import reverse

from archive.services import archive_enrollments
from archive.views.archived import archived_export
from enrollments.services import enroll_user
from tests.factories import UserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

BUSY = "Your previous CSV export is still being downloaded"


@pytest.fixture
def archived_plan(superadmin):
    """A plan with 30 archived records."""
    plan = make_plan(courses=1, materials_per_course=1)
    enrollments = enroll_in_bulk(plan, 30)
    archive_enrollments(enrollment_ids=[e.pk for e in enrollments], actor=superadmin, mode="unenroll", notify=False)
    return plan


def export(client, plan):
    return client.get(reverse("archive:archived_export", args=[plan.pk]))


def started_export(user, plan):
    """The export's response as the server gets it from the view, its first line sent: a download under way."""
    request = RequestFactory().get(reverse("archive:archived_export", args=[plan.pk]))
    request.user = user
    response = archived_export(request, plan.pk)
    assert response.status_code == 200
    next(response.streaming_content)
    return response


def abandon(response) -> None:
    """Close a download before its end, as the server does when the client goes away. (Closing sends
    request_finished, whose handler would close the test's database connection: unhooked meanwhile.)"""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_second_export_while_the_first_streams_gets_429_then_works_once_it_ended(client, superadmin, archived_plan):
    client.force_login(superadmin)
    first = export(client, archived_plan)
    assert first.status_code == 200
    next(first.streaming_content)  # the download has started and is still running

    second = export(client, archived_plan)

    assert second.status_code == 429
    assert BUSY in second.content.decode() and int(second["Retry-After"]) > 0
    assert len(b"".join(first.streaming_content).splitlines()) == 30  # the rest of the first, uncut
    third = export(client, archived_plan)
    assert third.status_code == 200
    assert len(b"".join(third.streaming_content).splitlines()) == 31


def test_a_download_the_client_abandons_gives_the_slot_back(client, superadmin, archived_plan):
    client.force_login(superadmin)
    running = started_export(superadmin, archived_plan)
    assert export(client, archived_plan).status_code == 429

    abandon(running)

    assert export(client, archived_plan).status_code == 200


def test_a_download_never_started_gives_the_slot_back_when_closed(client, superadmin, archived_plan):
    client.force_login(superadmin)
    request = RequestFactory().get(reverse("archive:archived_export", args=[archived_plan.pk]))
    request.user = superadmin
    abandon(archived_export(request, archived_plan.pk))

    assert export(client, archived_plan).status_code == 200


def test_another_user_exports_meanwhile(client, superadmin, power_user, archived_plan):
    archived_plan.power_users.add(power_user)
    client.force_login(superadmin)
    running = started_export(superadmin, archived_plan)
    other = client.__class__()
    other.force_login(power_user)

    assert export(client, archived_plan).status_code == 429
    assert export(other, archived_plan).status_code == 200
    abandon(running)


def test_the_export_reads_from_a_server_side_cursor(superadmin, archived_plan):
    running = started_export(superadmin, archived_plan)
    next(running.streaming_content)  # the first row: the query is running

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_cursors WHERE statement ILIKE %s", ["%archivedplanenrollment%"])
        declared = [row[0] for row in cursor.fetchall()]

    assert len(declared) == 1 and declared[0].lstrip().upper().startswith("DECLARE")
    abandon(running)


def test_a_small_export_of_another_plan_is_refused_too_while_one_runs(client, superadmin, archived_plan):
    other_plan = make_plan(courses=1, materials_per_course=1)
    enroll_user(user=UserFactory(), learning_plan=other_plan)
    client.force_login(superadmin)
    running = started_export(superadmin, archived_plan)

    assert export(client, other_plan).status_code == 429
    abandon(running)
