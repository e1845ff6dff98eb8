"""SPEC §13: `reset_tracking` is false | true | "changed" wherever it is accepted or returned; a bad value is a
clear error and archives nothing. The pop-ups and the details page show what changed in words."""

from __future__ import annotations

import datetime
import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from archive.services import archive_enrollments, start_archive_job, submit_archive
from archive.services.retraining import start_run, utc_today
from enrollments.content import mark_materials_changed
from enrollments.models import LearningPlanEnrollment, MaterialTracking, TrackingStatus, TrainingMaterial
from enrollments.retraining import save_rule
from enrollments.services import enroll_user, record_material_progress
from tests.api.conftest import ApiClient
from tests.archive.popup_forms import HTMX, opened
from tests.factories import TrainingMaterialFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_of_three():
    plan = make_plan(courses=1, materials_per_course=2, title="Ladder safety")
    enrollments = [enroll_user(user=UserFactory(), learning_plan=plan) for _ in range(3)]
    for enrollment in enrollments:
        for material in TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan):
            record_material_progress(user=enrollment.user, material=material, status=TrackingStatus.COMPLETED)
    return plan, enrollments


def assert_nothing_archived(plan):
    assert not ArchiveJob.objects.exists()
    assert not ArchivedPlanEnrollment.objects.exists()
    assert set(LearningPlanEnrollment.objects.filter(learning_plan=plan).values_list("round", flat=True)) == {1}


@pytest.mark.parametrize("bad", ["sometimes", "", None, 1, "Changed!", ["changed"]])
def test_the_services_refuse_a_bad_value_before_writing_anything(superadmin, plan_of_three, bad):
    plan, enrollments = plan_of_three
    ids = [e.pk for e in enrollments]
    calls = [
        lambda: archive_enrollments(enrollment_ids=ids[:1], actor=superadmin, mode="reenroll", reset_tracking=bad),
        lambda: start_archive_job(
            learning_plan=plan, actor=superadmin, mode="reenroll", reset_tracking=bad, enrollment_ids=ids
        ),
        lambda: submit_archive(
            learning_plan=plan, actor=superadmin, mode="reenroll", reset_tracking=bad, enrollment_ids=ids[:1]
        ),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as refused:
            call()
        assert refused.value.code == "invalid_request"
        assert "true, false or “changed”" in refused.value.messages[0]
    assert_nothing_archived(plan)


@pytest.mark.parametrize("bad", ["yes", "all", 0, None, {"changed": True}])
def test_the_api_answers_400_invalid_request_for_a_bad_value(superadmin, plan_of_three, bad):
    plan, enrollments = plan_of_three
    answer = ApiClient(superadmin).post(
        f"/api/v1/learning-plans/{plan.pk}/archive",
        {"enrollment_ids": [enrollments[0].pk], "mode": "reenroll", "reset_tracking": bad},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and "reset_tracking" in error["message"]
    assert_nothing_archived(plan)


def test_the_api_takes_changed_and_returns_it_on_the_record_and_the_job(superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    api = ApiClient(superadmin)
    material = TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).first()
    mark_materials_changed([material.pk])

    one = api.post(
        f"/api/v1/learning-plans/{plan.pk}/archive",
        {"enrollment_ids": [enrollments[0].pk], "mode": "reenroll", "reset_tracking": "changed"},
    )
    assert one.status_code == 200, one.content
    record = api.get(f"/api/v1/archived-enrollments/{one.json()['data']['archive_id']}").json()["data"]
    assert record["options"] == {"mode": "reenroll", "reset_tracking": "changed", "notify": True}
    assert not MaterialTracking.objects.filter(user=enrollments[0].user, material=material).exists()
    assert MaterialTracking.objects.filter(user=enrollments[0].user).count() == 1  # the unchanged one stays

    job = api.post(
        f"/api/v1/learning-plans/{plan.pk}/archive",
        {"enrollment_ids": [e.pk for e in enrollments[1:]], "mode": "reenroll", "reset_tracking": "changed"},
    )
    assert job.status_code == 202 and job.json()["data"]["job"]["reset_tracking"] == "changed"
    assert ArchiveJob.objects.get().reset_tracking == "changed"


def single_url(plan, enrollment) -> str:
    return reverse("archive:archive_enrollment", args=[plan.pk, enrollment.pk])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reset_tracking": "1", "reset_scope": "some"}, "Choose what to reset: “everything” or “only what changed”."),
        ({"reset_tracking": "banana"}, "The reset option was changed"),
    ],
)
def test_the_popup_shows_a_clear_error_for_a_bad_value_and_archives_nothing(
    client, superadmin, plan_of_three, fields, message
):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)
    url = single_url(plan, enrollments[0])
    form = {**opened(client, url), "mode": "reenroll", "notify": "1", **fields}

    answer = client.post(url, form, **HTMX)

    assert answer.status_code == 422
    assert message in html.unescape(answer.content.decode())
    assert_nothing_archived(plan)


def test_the_popup_resets_only_what_changed_when_asked(client, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    material = TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).first()
    mark_materials_changed([material.pk])
    client.force_login(superadmin)
    url = single_url(plan, enrollments[0])
    form = {**opened(client, url), "mode": "reenroll", "notify": "1", "reset_tracking": "1", "reset_scope": "changed"}

    preview = client.get(url, form, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="archive-preview").content.decode()
    assert 'data-preview="tracking">1<' in preview and 'data-todo="never-completed">1<' in preview

    assert client.post(url, form, **HTMX).status_code in (200, 204)
    assert ArchivedPlanEnrollment.objects.get().reset_tracking == "changed"
    assert list(MaterialTracking.objects.filter(user=enrollments[0].user).values_list("material_id", flat=True)) == [
        m.pk for m in TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).exclude(pk=material.pk)
    ]


def test_the_bulk_preview_counts_who_is_completed_again_at_once_and_warns(client, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    url = reverse("archive:bulk_archive", args=[plan.pk])
    client.force_login(superadmin)
    params = {"enrollment_ids": [e.pk for e in enrollments], "mode": "reenroll", "notify": "1"}

    page = html.unescape(client.get(url, params, **HTMX).content.decode())
    assert 'data-preview="completed-again">3<' in page
    assert "they would be Completed again at once and get a new certificate immediately" in page

    TrainingMaterialFactory(course=plan.plan_courses.get().course, title="New ladder")
    page = html.unescape(client.get(url, params, **HTMX).content.decode())
    assert 'data-preview="completed-again">0<' in page and "new certificate immediately" not in page
    assert "3 learners never archived in this plan: no earlier version." in page


def test_the_details_page_of_an_old_record_says_content_not_recorded(client, superadmin, plan_of_three, settings):
    plan, enrollments = plan_of_three
    settings.ARCHIVE_RECORD_CONTENT = False
    archive_enrollments(enrollment_ids=[enrollments[0].pk], actor=superadmin, mode="reenroll")
    old = ArchivedPlanEnrollment.objects.get()
    client.force_login(superadmin)

    page = html.unescape(client.get(reverse("archive:archived_detail", args=[old.pk])).content.decode())

    assert "Content not recorded" in page


def test_the_details_page_shows_what_was_added_since_the_round_before(client, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    archive_enrollments(enrollment_ids=[enrollments[0].pk], actor=superadmin, mode="reenroll")
    TrainingMaterialFactory(course=plan.plan_courses.get().course, title="Harness check")
    archive_enrollments(enrollment_ids=[enrollments[0].pk], actor=superadmin, mode="reenroll")
    first, second = ArchivedPlanEnrollment.objects.order_by("round")
    client.force_login(superadmin)

    first_page = html.unescape(client.get(reverse("archive:archived_detail", args=[first.pk])).content.decode())
    second_page = html.unescape(client.get(reverse("archive:archived_detail", args=[second.pk])).content.decode())

    assert "No earlier version" in first_page
    assert "Harness check" in second_page and 'data-diff="added">1' in second_page


def test_a_rule_that_resets_only_what_changed_starts_jobs_with_that_option(superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    LearningPlanEnrollment.objects.filter(learning_plan=plan).update(status=2)
    rule = save_rule(
        learning_plan=plan, actor=superadmin, data={"valid_for_months": 12, "reset_tracking": "changed"}
    ).rule
    LearningPlanEnrollment.objects.filter(learning_plan=plan).update(
        certified_until=utc_today() - datetime.timedelta(days=1)
    )

    run, started = start_run(rule, actor=superadmin)

    assert started and rule.reset_tracking == "changed"
    assert list(run.jobs.values_list("reset_tracking", flat=True)) == ["changed"]
