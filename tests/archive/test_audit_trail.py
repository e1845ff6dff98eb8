"""Every archived record's details page shows the audit event that archived it, whatever path archived it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments
from tests.factories import enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db


def test_a_multi_id_archive_without_a_job_shows_its_event_on_every_record(client, superadmin):
    plan = make_plan()
    ids = [e.pk for e in enroll_in_bulk(plan, 2)]
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll")
    client.force_login(superadmin)

    for record in ArchivedPlanEnrollment.objects.all():
        page = client.get(reverse("archive:archived_detail", args=[record.pk])).content.decode()
        trail = page.split('id="audit-trail"', 1)
        assert len(trail) == 2, "the details page shows no audit event"
        assert f"<td>{superadmin.username}</td><td>archive</td>" in trail[1]
