"""SPEC §4.10 on the pages: every archive pop-up and delete form carries a request key (and the single pop-up the
round it shows), so a double click, a resubmitted page or a second tab archives or deletes at most once."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment, ArchiveJob, RequestKey
from archive.services import archive_enrollments, reconcile, run_job
from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.audit.models import AuditEvent
from lms_admin.notifications.models import OutboxMessage
from tests.archive.popup_forms import HTMX, InThread, hidden_fields, opened, shown_messages, signed_key
from tests.archive.test_exactly_once import default_rules, waiting_for_locks
from tests.factories import SuperadminFactory, UserFactory, make_plan
from tests.workers import wait_for

ARCHIVED = "Rita Report: 1 enrollment archived."


def plan_with_rita():
    default_rules()
    plan = make_plan(courses=2, materials_per_course=2, title="Forklift safety")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Report")
    return plan, enroll_user(user=rita, learning_plan=plan)


def popup_url(enrollment: LearningPlanEnrollment) -> str:
    return reverse("archive:archive_enrollment", args=[enrollment.learning_plan_id, enrollment.pk])


def archived_rounds() -> list[int]:
    return sorted(ArchivedPlanEnrollment.objects.values_list("round", flat=True))


def outbox_rounds() -> set[int]:
    return set(OutboxMessage.objects.values_list("context__round", flat=True))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the single pop-up ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_double_submitted_popup_archives_once_and_the_repeat_shows_the_same_message(client, superadmin):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)
    form = {**opened(client, url), "mode": "reenroll", "notify": "1"}

    first = client.post(url, form, **HTMX)
    written = (OutboxMessage.objects.count(), AuditEvent.objects.count())
    repeat = client.post(url, form, **HTMX)

    assert first.status_code == repeat.status_code == 200
    assert shown_messages(first) == shown_messages(repeat) == [ARCHIVED]
    assert '"modal:close"' in repeat["HX-Trigger"]
    assert archived_rounds() == [1]
    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).round == 2
    assert (OutboxMessage.objects.count(), AuditEvent.objects.count()) == written
    assert outbox_rounds() == {1}


@pytest.mark.django_db
def test_a_resubmitted_page_without_javascript_redirects_with_the_first_message(client, superadmin):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)
    form = {**opened(client, url), "mode": "reenroll", "notify": "1"}

    first = client.post(url, form, follow=True)
    repeat = client.post(url, form, follow=True)

    back = reverse("enrollments:plan_enrollments", args=[plan.pk])
    assert first.redirect_chain[-1][0] == repeat.redirect_chain[-1][0] == back
    assert ARCHIVED in shown_messages(first) and ARCHIVED in shown_messages(repeat)
    assert archived_rounds() == [1]


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["reenroll", "unenroll"])
def test_a_popup_showing_a_round_archived_meanwhile_archives_nothing_and_says_by_whom(client, superadmin, mode):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)
    form = {**opened(client, url), "mode": "reenroll", "notify": "1"}
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=SuperadminFactory(username="ann_admin"), mode=mode)
    outbox = OutboxMessage.objects.count()

    response = client.post(url, form, **HTMX)

    snapshot = ArchivedPlanEnrollment.objects.get()
    when = timezone.localtime(snapshot.archived_at).strftime("%Y-%m-%d %H:%M")
    assert response.status_code == 200
    assert shown_messages(response) == [f"Round 1 was already archived on {when} by ann_admin. Nothing was archived."]
    assert archived_rounds() == [1] and OutboxMessage.objects.count() == outbox
    assert list(LearningPlanEnrollment.objects.values_list("round", flat=True)) == ([2] if mode == "reenroll" else [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("missing", "its request key is missing"),
        ("changed", "This form was changed: its request key is not valid"),
        ("another pop-up's", "This form was changed: its request key is not valid"),
    ],
)
def test_a_missing_or_tampered_request_key_archives_nothing_and_says_so(client, superadmin, tamper, message):
    plan, enrollment = plan_with_rita()
    other = enroll_user(user=UserFactory(), learning_plan=plan)
    client.force_login(superadmin)
    url = popup_url(enrollment)
    form = {**opened(client, url), "mode": "reenroll", "notify": "1"}
    if tamper == "missing":
        del form["request_key"]
    elif tamper == "changed":
        form["request_key"] = form["request_key"][:-4] + "AAAA"
    else:
        form["request_key"] = signed_key(popup_url(other))

    response = client.post(url, form, **HTMX)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert hidden_fields(response)["request_key"] != form.get("request_key")  # a fresh key to confirm again with
    assert not ArchivedPlanEnrollment.objects.exists() and not OutboxMessage.objects.exists()
    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).round == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("round_", "message"),
    [
        ("", "the round it showed is missing or not valid"),
        ("1; DROP", "the round it showed is missing or not valid"),
        ("2", "These enrollments have not reached the rounds given: "),
    ],
)
def test_a_tampered_round_archives_nothing_and_says_so(client, superadmin, round_, message):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)
    form = {**opened(client, url), "mode": "reenroll", "notify": "1", "round": round_}

    response = client.post(url, form, **HTMX)

    assert response.status_code == 422 and message in response.content.decode()
    assert not ArchivedPlanEnrollment.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_the_key_survives_re_renders_and_a_refused_confirmation_does_not_use_it_up(client, superadmin):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)
    form = opened(client, url)

    rerendered = client.get(url, {**form, "mode": "unenroll", "notify": "1"}, **HTMX)
    refused = client.post(url, {**form, "mode": "sideways", "notify": "1"}, **HTMX)
    confirmed = client.post(url, {**form, "mode": "reenroll", "notify": "1"}, **HTMX)

    assert hidden_fields(rerendered)["request_key"] == form["request_key"]
    assert refused.status_code == 422 and hidden_fields(refused)["request_key"] == form["request_key"]
    assert confirmed.status_code == 200 and shown_messages(confirmed) == [ARCHIVED]
    assert archived_rounds() == [1]


@pytest.mark.django_db
def test_each_opening_of_the_popup_has_a_key_of_its_own(client, superadmin):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)

    first, second = opened(client, url), opened(client, url)
    client.post(url, {**first, "mode": "reenroll", "notify": "1"}, **HTMX)
    reopened = opened(client, url)  # the pop-up opened again on the new round
    client.post(url, {**reopened, "mode": "reenroll", "notify": "1"}, **HTMX)

    assert first["request_key"] != second["request_key"]
    assert (first["round"], reopened["round"]) == ("1", "2")
    assert archived_rounds() == [1, 2]


# --- the bulk pop-up and the delete forms -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_double_submitted_bulk_popup_starts_one_job_and_the_repeat_shows_that_job(client, superadmin):
    plan, enrollment = plan_with_rita()
    ids = [enrollment.pk] + [enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(2)]
    client.force_login(superadmin)
    url = reverse("archive:bulk_archive", args=[plan.pk])
    form = {**opened(client, url, {"enrollment_ids": ids}), "mode": "reenroll", "notify": "1"}

    first = client.post(url, form, **HTMX)
    job = ArchiveJob.objects.get()
    run_job(job.pk)  # the first job has run: a repeat must not archive the new rounds in a second one
    repeat = client.post(url, form, **HTMX)
    without_javascript = client.post(url, form)

    panel = f'Archive job <a href="{job.get_absolute_url()}">#{job.pk}</a>'
    assert first.status_code == repeat.status_code == 200
    assert panel in first.content.decode() and panel in repeat.content.decode()
    assert "selection:clear" in repeat["HX-Trigger"]
    assert without_javascript.status_code == 302 and without_javascript["Location"] == job.get_absolute_url()
    assert ArchiveJob.objects.count() == 1
    assert archived_rounds() == [1, 1, 1] and outbox_rounds() == {1}


@pytest.mark.django_db
def test_a_bulk_popup_with_a_tampered_key_starts_nothing(client, superadmin):
    plan, enrollment = plan_with_rita()
    ids = [enrollment.pk, enroll_user(user=UserFactory(), learning_plan=plan).pk]
    client.force_login(superadmin)
    url = reverse("archive:bulk_archive", args=[plan.pk])
    form = {**opened(client, url, {"enrollment_ids": ids}), "mode": "reenroll"}

    response = client.post(url, {**form, "request_key": "forged"}, **HTMX)

    assert response.status_code == 422 and "its request key is not valid" in response.content.decode()
    assert not ArchiveJob.objects.exists()


@pytest.mark.django_db
def test_a_double_submitted_bulk_delete_deletes_once_and_the_repeat_shows_the_same_message(client, superadmin):
    plan, enrollment = plan_with_rita()
    other = enroll_user(user=UserFactory(), learning_plan=plan)
    archive_enrollments(enrollment_ids=[enrollment.pk, other.pk], actor=superadmin, mode="reenroll")
    ids = list(ArchivedPlanEnrollment.objects.values_list("pk", flat=True))
    client.force_login(superadmin)
    url = reverse("archive:archived_bulk_delete", args=[plan.pk])
    form = opened(client, url, {"archive_ids": ids})

    first = client.post(url, form, **HTMX)
    audit = AuditEvent.objects.count()
    repeat = client.post(url, form, **HTMX)

    assert first.status_code == repeat.status_code == 200
    assert shown_messages(first) == shown_messages(repeat) == ["2 archived enrollments deleted."]
    assert not ArchivedPlanEnrollment.objects.exists() and AuditEvent.objects.count() == audit


@pytest.mark.django_db
def test_a_resubmitted_delete_of_one_record_answers_as_the_first_did(client, superadmin):
    plan, enrollment = plan_with_rita()
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    record = ArchivedPlanEnrollment.objects.get()
    client.force_login(superadmin)
    url = reverse("archive:archived_delete", args=[record.pk])
    form = opened(client, url)

    first = client.post(url, form, follow=True)
    repeat = client.post(url, form, follow=True)
    forged = client.post(url, {"request_key": signed_key(url) + "x"})

    expected = "Archived enrollment of Rita Report (round 1) deleted."
    assert (
        first.redirect_chain[-1][0] == repeat.redirect_chain[-1][0] == reverse("archive:archived_list", args=[plan.pk])
    )
    assert expected in shown_messages(first) and expected in shown_messages(repeat)
    assert forged.status_code == 404  # the record is gone: nothing to confirm any more
    assert not ArchivedPlanEnrollment.objects.exists()


@pytest.mark.django_db
def test_a_delete_with_a_tampered_key_deletes_nothing(client, superadmin):
    plan, enrollment = plan_with_rita()
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    record = ArchivedPlanEnrollment.objects.get()
    client.force_login(superadmin)

    single = client.post(reverse("archive:archived_delete", args=[record.pk]), {}, **HTMX)
    bulk_url = reverse("archive:archived_bulk_delete", args=[plan.pk])
    bulk = client.post(bulk_url, {"archive_ids": [record.pk], "request_key": signed_key(bulk_url)[:-1]}, **HTMX)

    assert single.status_code == bulk.status_code == 422
    assert "its request key is missing" in single.content.decode()
    assert "its request key is not valid" in bulk.content.decode()
    assert ArchivedPlanEnrollment.objects.filter(pk=record.pk).exists()


# --- at the same moment ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_sent_while_the_first_still_runs_is_told_so_then_gets_the_first_answer(superadmin):
    plan, enrollment = plan_with_rita()
    browser, second_tab = logged_in(superadmin), logged_in(superadmin)
    url = popup_url(enrollment)
    form = {**opened(browser, url), "mode": "reenroll", "notify": "1"}

    with transaction.atomic():
        # Another connection holds the enrollment: the first confirmation waits inside the archive.
        LearningPlanEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        first = InThread(lambda: browser.post(url, form, **HTMX))
        wait_for(lambda: waiting_for_locks() == 1, message="the first confirmation never reached the row lock")
        meanwhile = InThread(lambda: second_tab.post(url, form, **HTMX)).result()
    first = first.result()
    later = second_tab.post(url, form, **HTMX)

    assert meanwhile.status_code == 409 and "This request is still being processed." in meanwhile.content.decode()
    assert first.status_code == later.status_code == 200
    assert shown_messages(first) == shown_messages(later) == [ARCHIVED]
    assert archived_rounds() == [1] and outbox_rounds() == {1}


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_the_same_moment_archive_once(superadmin):
    plan, enrollment = plan_with_rita()
    browser, second_tab = logged_in(superadmin), logged_in(superadmin)
    url = popup_url(enrollment)
    form = {**opened(browser, url), "mode": "reenroll", "notify": "1"}

    answers = [InThread(lambda c=c: c.post(url, form, **HTMX)) for c in (browser, second_tab)]
    answers = [answer.result() for answer in answers]

    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 409])
    assert all(shown_messages(a) == [ARCHIVED] for a in answers if a.status_code == 200)
    assert archived_rounds() == [1] and outbox_rounds() == {1}
    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).round == 2


@pytest.mark.django_db(transaction=True)
def test_a_bulk_confirmation_sent_while_the_first_still_runs_starts_no_second_job(superadmin):
    plan, enrollment = plan_with_rita()
    ids = [enrollment.pk, enroll_user(user=UserFactory(), learning_plan=plan).pk]
    browser, second_tab = logged_in(superadmin), logged_in(superadmin)
    url = reverse("archive:bulk_archive", args=[plan.pk])
    form = {**opened(browser, url, {"enrollment_ids": ids}), "mode": "reenroll", "notify": "1"}

    with transaction.atomic():
        # Another connection keeps new job rows out: the first confirmation waits while writing its job.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {ArchiveJob._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        first = InThread(lambda: browser.post(url, form, **HTMX))
        wait_for(lambda: waiting_for_locks() == 1, message="the first confirmation never reached the job table")
        meanwhile = InThread(lambda: second_tab.post(url, form, **HTMX)).result()
    first = first.result()
    later = second_tab.post(url, form, **HTMX)

    job = ArchiveJob.objects.get()
    assert meanwhile.status_code == 409
    assert first.status_code == later.status_code == 200
    assert f"#{job.pk}</a>" in first.content.decode() and f"#{job.pk}</a>" in later.content.decode()


# --- retention -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_keys_are_kept_a_day_then_purged_by_purge_jobs_and_by_the_reconciler(client, superadmin, capsys):
    plan, enrollment = plan_with_rita()
    client.force_login(superadmin)
    url = popup_url(enrollment)
    client.post(url, {**opened(client, url), "mode": "reenroll"}, **HTMX)
    other = enroll_user(user=UserFactory(), learning_plan=plan)
    client.post(popup_url(other), {**opened(client, popup_url(other)), "mode": "reenroll"}, **HTMX)
    old, recent = RequestKey.objects.order_by("pk")
    RequestKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(hours=25))

    call_command("purge_jobs")

    assert list(RequestKey.objects.values_list("pk", flat=True)) == [recent.pk]
    assert "Deleted 1 request key(s) older than 24 hours." in capsys.readouterr().out
    RequestKey.objects.filter(pk=recent.pk).update(created_at=timezone.now() - datetime.timedelta(hours=25))
    assert reconcile().request_keys_purged == 1
    assert not RequestKey.objects.exists()
