"""Tampered hidden fields of the bulk pop-up (SPEC §8): unknown fields, a select-all filter the Active list does
not have, ids that are not whole numbers and a field sent twice answer 422 with a clear message in the pop-up,
and nothing is archived or started."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from tests.archive.popup_forms import HIDDEN, HTMX, hidden_fields, opened
from tests.factories import UserFactory, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_of_three():
    plan = make_plan(courses=1, materials_per_course=1, title="Ladder safety")
    enrollments = [enroll_user(user=UserFactory(), learning_plan=plan) for _ in range(3)]
    return plan, enrollments


def bulk_url(plan) -> str:
    return reverse("archive:bulk_archive", args=[plan.pk])


def refusal(response) -> str:
    """The pop-up's answer to a tampered form: 422 and its text (unescaped)."""
    assert response.status_code == 422, response.content[:300]
    return html.unescape(response.content.decode())


def assert_nothing_archived(plan, enrollments):
    assert not ArchiveJob.objects.exists()
    assert not ArchivedPlanEnrollment.objects.exists()
    assert sorted(LearningPlanEnrollment.objects.filter(learning_plan=plan).values_list("round", flat=True)) == [
        1
    ] * len(enrollments)


@pytest.mark.parametrize("tampered", ["learning_plan_id", "user__is_superuser", "pk__in", "enroled_to"])
def test_a_select_all_with_a_filter_the_active_list_does_not_have_archives_nothing(
    client, superadmin, plan_of_three, tampered
):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)
    form = {**opened(client, bulk_url(plan), {"select_all": "1", "status": "0"}), "mode": "unenroll", "notify": "1"}

    page = refusal(client.post(bulk_url(plan), {**form, tampered: "3"}, **HTMX))

    assert f"This form was changed: it carries the unknown field {tampered}" in page
    assert "search, status, user_status, enrolled_from, enrolled_to" in page
    assert "Nothing was archived." in page
    assert_nothing_archived(plan, enrollments)


def test_unknown_fields_are_refused_when_the_popup_opens_too(client, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)

    page = refusal(client.get(bulk_url(plan), {"select_all": "1", "user__is_superuser": "1", "pk__in": "1"}, **HTMX))

    assert "the unknown fields pk__in, user__is_superuser" in page
    assert_nothing_archived(plan, enrollments)


@pytest.mark.parametrize(
    "bad", ["true", "1.0", "", " {first}", "{first} ", "-{first}", "0", "2_6", "٢٦", "99999999999999999999"]
)
def test_an_enrollment_id_that_is_not_a_whole_number_archives_nothing(client, superadmin, plan_of_three, bad):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)
    form = {**opened(client, bulk_url(plan), {"enrollment_ids": [e.pk for e in enrollments]}), "mode": "reenroll"}
    bad = bad.replace("{first}", str(enrollments[0].pk))

    page = refusal(client.post(bulk_url(plan), {**form, "enrollment_ids": [enrollments[1].pk, bad]}, **HTMX))

    assert f"The selection is not valid: enrollment ids must be numbers written in digits, not {bad!r}." in page
    assert_nothing_archived(plan, enrollments)


@pytest.mark.parametrize(
    ("field", "values"),
    [("status", ["0", "2"]), ("mode", ["reenroll", "unenroll"]), ("select_all", ["1", "1"]), ("search", ["a", "b"])],
)
def test_a_single_valued_field_sent_twice_archives_nothing(client, superadmin, plan_of_three, field, values):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)
    form = {**opened(client, bulk_url(plan), {"select_all": "1", "status": "0"}), "mode": "reenroll", "notify": "1"}

    page = refusal(client.post(bulk_url(plan), {**form, field: values}, **HTMX))

    assert f"This form was changed: {field} sent more than once." in page
    assert_nothing_archived(plan, enrollments)


@pytest.mark.parametrize("value", ["true", "yes", "0"])
def test_select_all_is_1_or_nothing(client, superadmin, plan_of_three, value):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)
    form = {**opened(client, bulk_url(plan), {"select_all": "1"}), "mode": "reenroll", "notify": "1"}

    page = refusal(client.post(bulk_url(plan), {**form, "select_all": value}, **HTMX))

    assert "This form was changed: select_all must be 1 or empty." in page
    assert_nothing_archived(plan, enrollments)


def test_the_csv_of_a_tampered_selection_is_not_served(client, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    client.force_login(superadmin)

    response = client.get(
        reverse("archive:bulk_preview_csv", args=[plan.pk]), {"select_all": "1", "user__is_superuser": "1"}
    )

    assert response.status_code == 404


def test_the_popup_as_rendered_still_starts_its_job(client, superadmin, plan_of_three):
    plan, enrollments = plan_of_three
    LearningPlanEnrollment.objects.filter(pk=enrollments[0].pk).update(status=2)
    client.force_login(superadmin)
    opening = {"select_all": "1", "status": "0", "enrollment_ids": [enrollments[0].pk]}  # rows ticked, then all
    form = {**opened(client, bulk_url(plan), opening), "mode": "reenroll", "notify": "1"}
    preview = client.get(bulk_url(plan), form, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="archive-preview")

    response = client.post(bulk_url(plan), form, **HTMX)

    assert preview.status_code == 200
    assert response.status_code == 200, response.content[:300]
    job = ArchiveJob.objects.get()
    assert (job.total, job.filters) == (2, {"status": "0"})


def test_select_all_carries_exactly_the_active_filters_not_other_names_in_the_address(
    client, superadmin, plan_of_three
):
    """The selection bar used to carry any query parameter whose name was a piece of a filter name (`s`, `tatus`),
    so a select-all from such an address opened a pop-up that refused its own form."""
    plan, (first, *_) = plan_of_three
    client.force_login(superadmin)
    address = {"search": first.user.username, "status": "0", "s": "x", "tatus": "2", "at": "1", "sort": "-enrolled_at"}

    active = client.get(reverse("enrollments:plan_enrollments", args=[plan.pk]), address).content.decode()
    bar = active[active.index('<form id="selection-form"') : active.index("</form>", active.index("selection-form"))]
    carried = dict(HIDDEN.findall(bar))

    assert carried == {"select_all": "", "search": first.user.username, "status": "0"}
    popup = client.get(bulk_url(plan), {**carried, "select_all": "1"}, **HTMX)
    assert popup.status_code == 200, popup.content[:300]
    assert "This form was changed" not in popup.content.decode()
    fields = hidden_fields(popup)
    assert {name: fields.get(name) for name in ("select_all", "search", "status", "s", "tatus", "at")} == {
        "select_all": "1",
        "search": first.user.username,
        "status": "0",
        "s": None,
        "tatus": None,
        "at": None,
    }
