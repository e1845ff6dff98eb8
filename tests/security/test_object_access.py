"""Object access (SPEC §2): certificates, details, job pages, CSV exports and API objects outside the caller's
visibility answer 404 — the same answer as for an id that never existed, so ids reveal nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from tests.security.conftest import World

pytestmark = pytest.mark.django_db

MISSING = 987_654_321  # an id no object has

# (role, URL name, how to build the args from the world): every one of these is an object the role cannot see.
INVISIBLE = [
    # A power user and a plan that is not assigned to them.
    ("power_assigned", "enrollments:plan_enrollments", lambda w: [w.other_plan.pk]),
    ("power_assigned", "enrollments:certificate_download", lambda w: [w.other_certificate.pk]),
    ("power_assigned", "archive:archived_list", lambda w: [w.other_plan.pk]),
    ("power_assigned", "archive:archived_export", lambda w: [w.other_plan.pk]),
    ("power_assigned", "archive:archived_detail", lambda w: [w.other_record.pk]),
    ("power_assigned", "archive:archived_certificate", lambda w: [w.other_record.pk]),
    ("power_assigned", "archive:archive_enrollment", lambda w: [w.other_plan.pk, w.other_enrollment.pk]),
    ("power_assigned", "archive:job_detail", lambda w: [w.job.pk]),
    ("power_assigned", "archive:job_items_csv", lambda w: [w.job.pk]),
    ("power_assigned", "api:list_plan_enrollments", lambda w: [w.other_plan.pk]),
    ("power_assigned", "api:list_plan_archived_enrollments", lambda w: [w.other_plan.pk]),
    ("power_assigned", "api:get_archived_enrollment", lambda w: [w.other_record.pk]),
    ("power_assigned", "api:archived_enrollment_certificate", lambda w: [w.other_record.pk]),
    ("power_assigned", "api:get_job", lambda w: [w.job.pk]),
    ("power_assigned", "api:list_job_items", lambda w: [w.job.pk]),
    # A first-level manager and a record of someone who does not report to them.
    ("manager", "archive:archived_detail", lambda w: [w.other_record.pk]),
    ("manager", "archive:archived_certificate", lambda w: [w.other_record.pk]),
    ("manager", "enrollments:certificate_download", lambda w: [w.certificate.pk]),
    ("manager", "api:get_archived_enrollment", lambda w: [w.other_record.pk]),
    ("manager", "api:archived_enrollment_certificate", lambda w: [w.other_record.pk]),
    # A second-level manager sees nothing of their manager's reports.
    ("director", "archive:archived_detail", lambda w: [w.record.pk]),
    ("director", "archive:archived_certificate", lambda w: [w.record.pk]),
    ("director", "api:get_archived_enrollment", lambda w: [w.record.pk]),
    # A superadmin and ids that exist nowhere, or an enrollment of another plan under this plan's URL.
    ("superadmin", "enrollments:plan_enrollments", lambda w: [MISSING]),
    ("superadmin", "enrollments:certificate_download", lambda w: [MISSING]),
    ("superadmin", "archive:archive_enrollment", lambda w: [w.plan.pk, w.other_enrollment.pk]),
    ("superadmin", "archive:archived_list", lambda w: [MISSING]),
    ("superadmin", "archive:archived_export", lambda w: [MISSING]),
    ("superadmin", "archive:archived_detail", lambda w: [MISSING]),
    ("superadmin", "archive:archived_certificate", lambda w: [MISSING]),
    ("superadmin", "archive:archived_delete", lambda w: [MISSING]),
    ("superadmin", "archive:job_detail", lambda w: [MISSING]),
    ("superadmin", "archive:job_progress", lambda w: [MISSING]),
    ("superadmin", "archive:job_items_csv", lambda w: [MISSING]),
    ("superadmin", "api:list_plan_enrollments", lambda w: [MISSING]),
    ("superadmin", "api:get_archived_enrollment", lambda w: [MISSING]),
    ("superadmin", "api:archived_enrollment_certificate", lambda w: [MISSING]),
    ("superadmin", "api:get_job", lambda w: [MISSING]),
    ("superadmin", "api:list_job_items", lambda w: [MISSING]),
]


@pytest.mark.parametrize(("role", "name", "args"), INVISIBLE, ids=[f"{r}-{n}" for r, n, _ in INVISIBLE])
def test_an_object_outside_the_callers_visibility_answers_404(world: World, role, name, args):
    response = world.client(role).get(reverse(name, args=args(world)))

    assert response.status_code == 404
    body = response.content.decode(errors="replace")
    # Nothing of the hidden object leaks into the answer.
    for secret in (world.other_record.user_username, "PLAN-B", "%PDF"):
        assert secret not in body


def test_the_csv_preview_refuses_enrollments_of_another_plan(world: World):
    client = world.client("superadmin")
    url = reverse("archive:bulk_preview_csv", args=[world.plan.pk])

    response = client.get(url, {"enrollment_ids": [world.other_enrollment.pk]})

    assert response.status_code in (400, 404, 422)
    assert "other_learner" not in response.content.decode(errors="replace")


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("DELETE", "api:delete_archived_enrollment", lambda w: [w.other_record.pk]),
        ("POST", "api:archive_plan_enrollments", lambda w: [w.other_plan.pk]),
    ],
)
def test_a_power_users_forged_api_write_on_an_invisible_object_answers_404_and_changes_nothing(
    world, method, name, args
):
    client = world.client("power_assigned")
    body = json.dumps({"enrollment_ids": [world.other_enrollment.pk], "mode": "reenroll"})

    response = client.generic(method, reverse(name, args=args(world)), body, content_type="application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert ArchivedPlanEnrollment.objects.count() == 2
    assert ArchiveJob.objects.count() == 1


def test_a_manager_cannot_list_someone_outside_their_team(world: World):
    stranger = world.other_record.user_id

    response = world.client("manager").get(reverse("archive:team"), {"user": stranger})

    assert response.status_code == 404
