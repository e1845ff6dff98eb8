"""The sender when the mail server fails: what went out stays sent, nothing is sent twice, a refusal for now
waits for its retry time without holding up the others, and an outage gives nothing up."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from archive.services import archive_enrollments
from enrollments.services import enroll_user
from lms_admin.notifications.models import NotificationRule, OutboxMessage
from lms_admin.notifications.services import Run, send_outbox
from tests.factories import UserFactory
from tests.notifications.mail_server import BACKEND, FlakyMailServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings):
    settings.EMAIL_BACKEND = BACKEND
    FlakyMailServer.reset()
    yield FlakyMailServer
    FlakyMailServer.reset()


@pytest.fixture
def learners(rules, plan, superadmin):
    """Three learners archived and re-enrolled: 6 outbox rows each (plan of 2 courses)."""
    users = [UserFactory() for _ in range(3)]
    ids = [enroll_user(user=user, learning_plan=plan).pk for user in users]
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll")
    assert OutboxMessage.objects.count() == 18
    return users


def send() -> int:
    return send_outbox(batch_size=100, slice_seconds=3600)


def unsent():
    return OutboxMessage.objects.filter(sent_at__isnull=True)


def assert_each_delivered_once(server, count: int) -> None:
    keys = [(m.to[0], m.subject, m.body) for m in server.delivered]
    assert len(keys) == len(set(keys)) == count


def test_a_dropped_connection_keeps_what_went_out_and_never_resends_the_message_in_flight(server, learners):
    server.fail_after = 5

    assert send() == 5

    in_flight = OutboxMessage.objects.order_by("id")[5]
    assert in_flight.sent_at is not None and "may or may not have arrived" in in_flight.last_error
    assert unsent().count() == 18 - 6 and not unsent().exclude(attempts=0).exists()  # the rest untouched

    server.fail_after = None  # the server is back
    assert send() == 12

    assert not unsent().exists()
    assert_each_delivered_once(server, 17)  # at most once: the one in flight is not sent again


def test_a_server_that_refuses_the_session_takes_nothing_and_gives_nothing_up(server, learners):
    server.session_refused = True

    assert [send() for _ in range(4)] == [0, 0, 0, 0]  # a minute apart in real life (the reconciler)

    assert unsent().count() == 18
    first = unsent().order_by("id").first()
    assert first.attempts == 0 and "SMTPSenderRefused" in first.last_error
    server.session_refused = False
    assert send() == 18
    assert_each_delivered_once(server, 18)


def test_a_recipient_refused_for_good_is_set_aside_and_the_others_still_go_out(server, learners):
    server.refused = {learners[0].email: 550}

    assert send() == 12

    refused = OutboxMessage.objects.filter(recipient_email=learners[0].email)
    assert refused.count() == 6 and not refused.filter(sent_at__isnull=True).exists()
    assert all("refused the recipient" in row.last_error for row in refused)
    assert {m.to[0] for m in server.delivered} == {learners[1].email, learners[2].email}


def test_a_recipient_refused_for_now_waits_for_its_retry_time_without_holding_up_the_others(server, learners, settings):
    greylisted = learners[0].email
    server.refused = {greylisted: 450}

    assert send() == 12  # the others go out; the greylisted learner's 6 wait

    waiting = OutboxMessage.objects.filter(recipient_email=greylisted)
    assert all(row.sent_at is None and row.attempts == 1 and row.retry_after for row in waiting)
    assert send() == 0  # not due yet: nothing is tried again at once

    server.refused = {}
    waiting.update(retry_after=timezone.now())  # the retry time has come
    assert send() == 6
    assert_each_delivered_once(server, 18)


def test_a_recipient_refused_for_now_every_time_is_given_up_after_the_last_attempt(server, learners, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    server.refused = {learners[0].email: 452}  # mailbox over quota, for days
    waiting = OutboxMessage.objects.filter(recipient_email=learners[0].email)

    for _ in range(3):
        send()
        waiting.filter(sent_at__isnull=True).update(retry_after=timezone.now())

    assert all(row.sent_at and row.last_error.startswith("Gave up after 3 attempts.") for row in waiting)
    assert not unsent().exists()
    assert_each_delivered_once(server, 12)


@pytest.mark.parametrize(("refusal", "code"), [("rejected", "554"), ("too_big", "552")], ids=["content", "size"])
def test_a_message_refused_for_good_is_set_aside(server, learners, refusal, code):
    setattr(server, refusal, {learners[1].email})  # the content (554 at DATA) or the size (552 at MAIL FROM)

    assert send() == 12

    refused = OutboxMessage.objects.filter(recipient_email=learners[1].email)
    assert all(row.sent_at and code in row.last_error for row in refused)
    assert_each_delivered_once(server, 12)


def test_rows_of_a_rule_whose_template_does_not_render_are_set_aside_and_the_rest_go_out(server, learners):
    NotificationRule.objects.filter(event="lp_enrollment_archived").update(body_template="{% if %}")  # unchecked

    assert send() == 15

    broken = OutboxMessage.objects.filter(event="lp_enrollment_archived")
    assert broken.count() == 3 and not broken.filter(sent_at__isnull=True).exists()
    assert all("does not render" in row.last_error for row in broken)
    assert not unsent().exists()


def test_a_rule_whose_template_does_not_compile_cannot_be_saved(rules):
    rule = NotificationRule.objects.get(event="lp_enrollment_archived")
    rule.body_template = "Hello {{ learner_name }}{% if %}"

    with pytest.raises(ValidationError) as caught:
        rule.full_clean()

    assert list(caught.value.message_dict) == ["body_template"]
    assert "does not compile" in caught.value.message_dict["body_template"][0]
    # A form without the template fields (the rules list's on/off switches) does not trip over a stored one.
    rule.full_clean(exclude=["subject_template", "body_template"])


def test_a_server_closing_the_session_at_a_recipient_ends_the_run_without_using_up_that_message(server, learners):
    closing = OutboxMessage.objects.order_by("id").first()
    server.refused = {closing.recipient_email: 421}

    assert send() == 0

    closing.refresh_from_db()
    assert closing.sent_at is None and closing.attempts == 0 and "closed the session" in closing.last_error
    assert unsent().count() == 18
    server.refused = {}
    assert send() == 18
    assert_each_delivered_once(server, 18)


def test_an_unusable_sender_address_takes_nothing(server, learners, settings):
    settings.DEFAULT_FROM_EMAIL = "lms-admin@"

    assert send() == 0

    assert unsent().count() == 18 and not unsent().exclude(attempts=0).exists()
    settings.DEFAULT_FROM_EMAIL = "lms-admin@example.com"
    assert send() == 18


def test_a_message_waiting_for_its_retry_time_is_not_taken_by_a_sender_that_read_it_earlier(server, learners):
    row = OutboxMessage.objects.order_by("id").first()
    run = Run()
    OutboxMessage.objects.filter(pk=row.pk).update(retry_after=timezone.now() + datetime.timedelta(minutes=5))

    assert run.send(row.pk, row.event, row.recipient_email, row.context) is True  # as if read before

    row.refresh_from_db()
    assert row.sent_at is None and row.attempts == 0 and server.delivered == []
