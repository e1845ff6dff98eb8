"""The archive pages through the test client: validation, tampering, limits, CSVs, query counts, demo history."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem
from enrollments.models import LearningPlanEnrollment
from tests.archive.pages_world import world_fixture  # noqa: F401 - the `world` fixture
from tests.archive.popup_forms import hidden_fields, opened, signed_key
from tests.factories import enroll_in_bulk, make_plan

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "modal"}


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_bad_mode_is_refused_in_the_popup_with_a_message_and_nothing_changes(client, world):
    client.force_login(world.superadmin)
    live = LearningPlanEnrollment.objects.get(user=world.report, learning_plan=world.plan)
    url = reverse("archive:archive_enrollment", args=[world.plan.pk, live.pk])
    response = client.post(url, {**opened(client, url), "mode": "sideways", "notify": "1"}, **HTMX)
    assert response.status_code == 422
    assert "Choose “Archive and re-enroll” or “Archive and unenroll”." in response.content.decode()
    assert '<div class="modal-frame">' in response.content.decode()  # the pop-up again, not a page
    live.refresh_from_db()
    assert live.round == 2 and ArchivedPlanEnrollment.objects.count() == 1


def test_archiving_one_enrollment_without_javascript_redirects_with_the_outcome(client, world):
    client.force_login(world.superadmin)
    live = LearningPlanEnrollment.objects.get(user=world.report, learning_plan=world.plan)
    url = reverse("archive:archive_enrollment", args=[world.plan.pk, live.pk])
    response = client.post(url, {**opened(client, url), "mode": "reenroll"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("enrollments:plan_enrollments", args=[world.plan.pk])
    assert "Rita Report: 1 enrollment archived." in response.content.decode()
    assert ArchivedPlanEnrollment.objects.filter(user=world.report, round=2, notify=False).exists()


def test_a_htmx_archive_closes_the_popup_refreshes_the_list_and_shows_the_message(client, world):
    client.force_login(world.superadmin)
    live = LearningPlanEnrollment.objects.get(user=world.report, learning_plan=world.plan)
    url = reverse("archive:archive_enrollment", args=[world.plan.pk, live.pk])
    response = client.post(url, {**opened(client, url), "mode": "reenroll", "notify": "1"}, **HTMX)
    assert response.status_code == 200
    assert '"modal:close"' in response["HX-Trigger"] and '"enrollments:refresh"' in response["HX-Trigger"]
    assert 'hx-swap-oob="true"' in response.content.decode()
    assert "1 enrollment archived" in response.content.decode()


def test_ids_of_another_plan_in_a_bulk_selection_are_named_and_nothing_starts(client, world):
    client.force_login(world.superadmin)
    stranger = LearningPlanEnrollment.objects.create(user=world.learner, learning_plan=world.other_plan)
    mine = LearningPlanEnrollment.objects.filter(learning_plan=world.plan).values_list("pk", flat=True)[0]
    url = reverse("archive:bulk_archive", args=[world.plan.pk])
    key = signed_key(url)
    response = client.post(url, {"request_key": key, "mode": "reenroll", "enrollment_ids": [mine, stranger.pk]}, **HTMX)
    assert response.status_code == 422
    assert f"Not active enrollments of “Forklift safety”: {stranger.pk}." in response.content.decode()
    response = client.post(url, {"request_key": key, "mode": "reenroll", "enrollment_ids": ["12; DROP TABLE"]}, **HTMX)
    assert response.status_code == 422
    assert "enrollment ids must be numbers" in response.content.decode()
    assert ArchiveJob.objects.count() == 1  # only the world's own job


def test_a_manual_selection_over_the_limit_shows_the_limit_and_starts_nothing(client, world, settings):
    settings.ARCHIVE_MAX_MANUAL_SELECTION = 2
    client.force_login(world.superadmin)
    ids = list(LearningPlanEnrollment.objects.filter(learning_plan=world.plan).values_list("pk", flat=True))
    assert len(ids) == 3
    response = client.get(reverse("archive:bulk_archive", args=[world.plan.pk]), {"enrollment_ids": ids}, **HTMX)
    assert response.status_code == 422
    assert "3 enrollments were picked by hand; at most 2 can be." in response.content.decode()
    url = reverse("archive:bulk_archive", args=[world.plan.pk])
    client.post(url, {"request_key": signed_key(url), "mode": "reenroll", "enrollment_ids": ids})
    assert ArchiveJob.objects.count() == 1


def test_the_bulk_preview_counts_and_its_csv_list_the_selection(client, world):
    client.force_login(world.superadmin)
    plan = make_plan(courses=1, materials_per_course=1, title="Big plan")
    enrollments = enroll_in_bulk(plan, 60, prefix="crowd")
    LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in enrollments[:10]]).update(status=2)
    response = client.get(reverse("archive:bulk_archive", args=[plan.pk]), {"select_all": "1"}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-preview="enrollments">60<' in page
    assert "Enrolled: 50" in page and "Completed: 10" in page
    assert "notifications will be sent for 60 enrollments" in page  # the warning above 50
    rows = csv_rows(client.get(reverse("archive:bulk_preview_csv", args=[plan.pk]), {"select_all": "1", "status": "2"}))
    assert sorted(int(row["enrollment_id"]) for row in rows) == sorted(e.pk for e in enrollments[:10])
    assert {row["status"] for row in rows} == {"Completed"}


def test_the_job_page_filters_items_by_outcome_and_its_csv_follows(client, world):
    client.force_login(world.superadmin)
    items = list(ArchiveJobItem.objects.filter(job=world.job).order_by("position"))
    ArchiveJobItem.objects.filter(pk=items[0].pk).update(outcome="archived")
    ArchiveJobItem.objects.filter(pk=items[1].pk).update(outcome="not_found", message="gone")
    page = client.get(reverse("archive:job_detail", args=[world.job.pk]), {"outcome": "not_found"}).content.decode()
    assert "gone" in page and "Not found (1)" in page
    rows = csv_rows(client.get(reverse("archive:job_items_csv", args=[world.job.pk]), {"outcome": "not_found"}))
    assert [int(row["enrollment_id"]) for row in rows] == [items[1].enrollment_id]


def test_a_bad_archived_filter_is_explained_and_the_list_stays(client, world):
    client.force_login(world.superadmin)
    response = client.get(reverse("archive:archived_list", args=[world.plan.pk]), {"archived_from": "yesterday"})
    assert response.status_code == 200
    assert "archived_from must be a date (YYYY-MM-DD)" in response.content.decode()


def test_the_archived_view_pages_with_a_constant_number_of_queries(client, world, django_assert_max_num_queries):
    client.force_login(world.superadmin)
    url = reverse("archive:archived_list", args=[world.plan.pk])
    with django_assert_max_num_queries(14):  # session, user, plan, archivers, count, rows, position (+ auth/axes)
        first = client.get(url, {"per_page": 25})
    assert first.status_code == 200 and "Rita Report" in first.content.decode()
    with django_assert_max_num_queries(14):
        assert client.get(url, {"search": "rita", "sort": "user"}).status_code == 200


def test_a_learner_named_like_markup_is_shown_as_text_in_the_archived_row(client, world):
    ArchivedPlanEnrollment.objects.filter(pk=world.archived.pk).update(
        user_display_name='<script>alert("x")</script>', user_username="<b>rita</b>"
    )
    client.force_login(world.superadmin)
    body = client.get(reverse("archive:archived_list", args=[world.plan.pk])).content.decode()
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert "<script>alert" not in body and "<b>rita</b>" not in body
    assert f'{escaped}</a> <span class="muted">&lt;b&gt;rita&lt;/b&gt;</span>' in body
    assert f'aria-label="Select {escaped}, round 1"' in body and f'aria-label="Actions for {escaped}"' in body
    assert f"Download the certificate of {escaped}" in body


def test_a_learner_named_like_markup_is_shown_as_text_in_my_team(client, world):
    ArchivedPlanEnrollment.objects.filter(pk=world.archived.pk).update(
        user_display_name='<script>alert("x")</script>', user_username="<b>rita</b>", plan_title="<i>Plan</i>"
    )
    client.force_login(world.manager)
    body = client.get(reverse("archive:team")).content.decode()
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert "<script>alert" not in body and "<b>rita</b>" not in body and "<i>Plan</i>" not in body
    details = reverse("archive:archived_detail", args=[world.archived.pk])
    assert (
        f'<a href="{details}">{escaped}</a> <span class="muted">&lt;b&gt;rita&lt;/b&gt;</span>'
        '<br><span class="muted">&lt;i&gt;Plan&lt;/i&gt;</span>'
    ) in body
    assert f"Download the certificate of {escaped}" in body
    assert f'<td class="actions"><a href="{details}">Details</a></td>' in body


@pytest.mark.django_db(transaction=True)
def test_seed_demo_adds_archived_history_through_the_engine_and_one_finished_job(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command(
        "seed_demo", "--users", "150", "--plans", "4", "--courses", "10", "--enrollments-per-plan", "60",
        "--certificates-max", "0", "--no-enqueue", stdout=io.StringIO(),
    )  # fmt: skip
    records = ArchivedPlanEnrollment.objects.all()
    assert records.count() >= 30
    assert set(records.values_list("round", flat=True)) >= {1, 2}  # several rounds
    assert records.values("learning_plan").distinct().count() >= 3
    assert records.filter(user__manager_links__manager__username="manager").exists()
    assert records.filter(user__manager_links__manager__username="manager", certificate__isnull=False).exists()
    job = ArchiveJob.objects.get()
    assert job.status == ArchiveJob.Status.COMPLETED and job.counts == {"archived": job.total}


def test_multi_select_delete_confirms_then_deletes_exactly_the_ticked_records(client, world):
    client.force_login(world.superadmin)
    live = LearningPlanEnrollment.objects.get(user=world.report, learning_plan=world.plan)
    popup = reverse("archive:archive_enrollment", args=[world.plan.pk, live.pk])
    client.post(popup, {**opened(client, popup), "mode": "reenroll"})
    first, second = ArchivedPlanEnrollment.objects.filter(user=world.report).order_by("round")
    url = reverse("archive:archived_bulk_delete", args=[world.plan.pk])
    confirm = client.get(url, {"archive_ids": [first.pk, second.pk]}, **HTMX)
    assert "Delete these 2 archived enrollments of <strong>Forklift safety</strong>?" in confirm.content.decode()
    key = hidden_fields(confirm)["request_key"]
    assert ArchivedPlanEnrollment.objects.filter(user=world.report).count() == 2  # nothing before confirming

    tampered = client.post(url, {"request_key": key, "archive_ids": [first.pk, 999_999]}, **HTMX)
    assert tampered.status_code == 422 and "999999" in tampered.content.decode()
    assert ArchivedPlanEnrollment.objects.filter(user=world.report).count() == 2

    response = client.post(url, {"request_key": key, "archive_ids": [first.pk, second.pk]}, **HTMX)
    assert response.status_code == 200 and "2 archived enrollments deleted." in response.content.decode()
    assert not ArchivedPlanEnrollment.objects.filter(user=world.report).exists()
    world.plan.refresh_from_db()
    assert world.plan.archived_count == 0
