"""`submit_archive`: one enrollment picked by hand is archived now, anything more becomes a job; the selection
limits are checked once, with the same message for the pop-up, the API and the service (SPEC §4.5)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem
from archive.services import selected_enrollments, submit_archive
from enrollments.models import LearningPlan, LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.accounts.tokens import create_api_token
from lms_admin.audit.models import AuditEvent
from tests.factories import PowerUserFactory, UserFactory, make_plan

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "modal"}
MANUAL_LIMIT_MESSAGE = (
    "3 enrollments were picked by hand; at most 2 can be. Use “Select all” with filters for up to 10000."
)
SELECT_ALL_LIMIT_MESSAGE = (
    "3 enrollments match these filters; “Select all” archives at most 2. Narrow the filters and run it in several jobs."
)


def plan_with_learners(count: int, title: str = "Forklift safety") -> tuple[LearningPlan, list[int]]:
    plan = make_plan(courses=1, materials_per_course=1, title=title)
    return plan, sorted(enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(count))


def refused(**kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        submit_archive(mode="reenroll", **kwargs)
    return raised.value


def assert_nothing_created() -> None:
    assert not ArchiveJob.objects.exists() and not ArchiveJobItem.objects.exists()
    assert not ArchivedPlanEnrollment.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["archive", "archive_job.submitted"]).exists()


@pytest.mark.django_db
def test_one_enrollment_picked_by_hand_is_archived_now_without_a_job(superadmin):
    plan, (first, *_) = plan_with_learners(2)

    submitted = submit_archive(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=[first, first])

    assert submitted.job is None
    assert submitted.outcome.counts == {"archived": 1}
    assert submitted.outcome.items[0].enrollment_id == first
    assert LearningPlanEnrollment.objects.get(pk=first).round == 2
    assert not ArchiveJob.objects.exists()


@pytest.mark.django_db
def test_two_enrollments_become_a_queued_job_with_their_frozen_rounds(superadmin):
    plan, ids = plan_with_learners(3)

    submitted = submit_archive(learning_plan=plan, actor=superadmin, mode="unenroll", enrollment_ids=ids[:2])

    assert submitted.outcome is None
    job = submitted.job
    assert (job.status, job.total, job.mode, job.select_all) == ("queued", 2, "unenroll", False)
    assert list(job.items.order_by("position").values_list("enrollment_id", "round")) == [(ids[0], 1), (ids[1], 1)]
    assert not ArchivedPlanEnrollment.objects.exists()  # the worker archives, not the request


@pytest.mark.django_db
def test_select_all_is_a_job_even_when_it_matches_one_enrollment(superadmin):
    plan, (only,) = plan_with_learners(1)

    submitted = submit_archive(learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={})

    assert submitted.outcome is None
    assert submitted.job.select_all and list(submitted.job.items.values_list("enrollment_id", flat=True)) == [only]


@pytest.mark.django_db
def test_one_id_that_is_gone_comes_back_as_its_outcome_not_as_an_error(superadmin):
    plan, (first, *_) = plan_with_learners(2)
    submit_archive(learning_plan=plan, actor=superadmin, mode="unenroll", enrollment_ids=[first])

    again = submit_archive(learning_plan=plan, actor=superadmin, mode="unenroll", enrollment_ids=[first])

    assert again.outcome.counts == {"skipped_already_archived": 1}
    assert ArchivedPlanEnrollment.objects.filter(enrollment_id=first).count() == 1


@pytest.mark.django_db
def test_more_ids_than_the_manual_limit_are_refused_and_nothing_is_created(superadmin, settings):
    settings.ARCHIVE_MAX_MANUAL_SELECTION = 2
    settings.ARCHIVE_MAX_SELECT_ALL = 10_000
    plan, ids = plan_with_learners(3)

    error = refused(learning_plan=plan, actor=superadmin, enrollment_ids=ids)

    assert (error.code, error.message) == ("limit_exceeded", MANUAL_LIMIT_MESSAGE)
    assert_nothing_created()


@pytest.mark.django_db
def test_select_all_over_its_limit_is_refused_and_nothing_is_created(superadmin, settings):
    settings.ARCHIVE_MAX_SELECT_ALL = 2
    plan, _ = plan_with_learners(3)

    error = refused(learning_plan=plan, actor=superadmin, select_all_filters={})

    assert (error.code, error.message) == ("limit_exceeded", SELECT_ALL_LIMIT_MESSAGE)
    assert_nothing_created()
    settings.ARCHIVE_MAX_SELECT_ALL = 3
    assert submit_archive(learning_plan=plan, actor=superadmin, mode="reenroll", select_all_filters={}).job.total == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("limits", "preview", "popup", "api", "message"),
    [
        (
            {"ARCHIVE_MAX_MANUAL_SELECTION": 2},
            {"enrollment_ids": "{ids}"},
            {"enrollment_ids": "{ids}"},
            {"enrollment_ids": "{ids}"},
            MANUAL_LIMIT_MESSAGE,
        ),
        (
            {"ARCHIVE_MAX_SELECT_ALL": 2},
            {"select_all_filters": {}},
            {"select_all": "1"},
            {"select_all": True},
            SELECT_ALL_LIMIT_MESSAGE,
        ),
    ],
)
def test_the_popup_preview_and_the_api_refuse_with_the_same_limit_message(
    client, superadmin, settings, limits, preview, popup, api, message
):
    settings.ARCHIVE_MAX_MANUAL_SELECTION, settings.ARCHIVE_MAX_SELECT_ALL = 200, 10_000
    for name, value in limits.items():
        setattr(settings, name, value)
    plan, ids = plan_with_learners(3)
    preview, popup, api = ({k: ids if v == "{ids}" else v for k, v in d.items()} for d in (preview, popup, api))
    client.force_login(superadmin)
    bearer = {"Authorization": f"Bearer {create_api_token(user=superadmin)[1]}"}

    with pytest.raises(ValidationError) as refused_preview:
        selected_enrollments(plan, **preview)
    page = client.get(reverse("archive:bulk_archive", args=[plan.pk]), popup, **HTMX)
    answer = client.post(
        f"/api/v1/learning-plans/{plan.pk}/archive",
        {**api, "mode": "reenroll"},
        content_type="application/json",
        headers=bearer,
    )

    assert refused_preview.value.message == message
    assert page.status_code == 422 and message in page.content.decode()
    assert answer.status_code == 400 and answer.json()["error"] == {"code": "limit_exceeded", "message": message}
    assert_nothing_created()


@pytest.mark.django_db
def test_one_id_of_another_plan_is_refused_and_named(superadmin):
    plan, _ = plan_with_learners(1)
    _, (foreign,) = plan_with_learners(1, title="Other plan")

    error = refused(learning_plan=plan, actor=superadmin, enrollment_ids=[foreign])

    assert (error.code, error.message) == ("invalid_selection", f"Enrollment {foreign} is not in this learning plan.")
    assert LearningPlanEnrollment.objects.get(pk=foreign).round == 1
    assert_nothing_created()


@pytest.mark.django_db
def test_a_power_user_may_submit_nothing(superadmin):
    plan, ids = plan_with_learners(2)
    power_user = PowerUserFactory()
    plan.power_users.add(power_user)

    for selection in ({"enrollment_ids": ids[:1]}, {"enrollment_ids": ids}, {"select_all_filters": {}}):
        with pytest.raises(PermissionDenied):
            submit_archive(learning_plan=plan, actor=power_user, mode="reenroll", **selection)
    assert_nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize("entry", ["service", "preview"])
def test_select_all_with_a_filter_name_the_list_does_not_have_is_refused_by_the_service_itself(superadmin, entry):
    """The API and the pop-up refuse unknown filters at their door; the service refuses them too, so a caller
    that forgets cannot unenroll a whole plan through a misspelt filter."""
    plan, ids = plan_with_learners(3)
    filters = {"enroled_to": "2000-01-01", "pk__in": [ids[0]], "status": "0"}

    with pytest.raises(ValidationError) as raised:
        if entry == "service":
            submit_archive(learning_plan=plan, actor=superadmin, mode="unenroll", select_all_filters=filters)
        else:
            selected_enrollments(plan, select_all_filters=filters)

    assert raised.value.code == "invalid_request"
    assert raised.value.message == (
        "Unknown filters enroled_to, pk__in: select all takes only the Active list's filters "
        "(search, status, user_status, enrolled_from, enrolled_to). Nothing was archived."
    )
    assert_nothing_created()
    assert sorted(LearningPlanEnrollment.objects.filter(learning_plan=plan).values_list("pk", flat=True)) == ids
