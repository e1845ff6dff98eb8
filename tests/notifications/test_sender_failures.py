"""The sender when the mail server fails: what went out stays sent, nothing is sent twice, nothing blocks forever."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from archive.services import archive_enrollments
from enrollments.services import enroll_user
from lms_admin.notifications.jobs import send_outbox
from lms_admin.notifications.models import NotificationRule, OutboxMessage
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


def delivered_keys(server) -> list[tuple[str, str, str]]:
    return [(m.to[0], m.subject, m.body) for m in server.delivered]


def test_a_server_failure_keeps_what_went_out_and_the_next_run_sends_only_the_rest(server, learners):
    server.fail_after = 5

    assert send() == 5

    assert OutboxMessage.objects.filter(sent_at__isnull=False).count() == 5
    failed = unsent().order_by("id").first()
    assert failed.attempts == 1 and "SMTPServerDisconnected" in failed.last_error
    assert unsent().filter(attempts=0).count() == 18 - 5 - 1  # the rest was not touched

    server.fail_after = None  # the server is back
    assert send() == 13

    assert not unsent().exists()
    keys = delivered_keys(server)
    assert len(keys) == len(set(keys)) == 18  # every message once, none twice


def test_a_refused_recipient_is_given_up_at_once_and_the_others_still_go_out(server, learners):
    server.refused = {learners[0].email}

    assert send() == 12

    refused = OutboxMessage.objects.filter(recipient_email=learners[0].email)
    assert refused.count() == 6 and not refused.filter(sent_at__isnull=True).exists()
    assert all("refused the recipient" in row.last_error for row in refused)
    assert {m.to[0] for m in server.delivered} == {learners[1].email, learners[2].email}


def test_a_message_the_server_always_fails_on_is_given_up_after_the_last_attempt(server, learners, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    OutboxMessage.objects.create(  # the oldest row, so every run meets it first
        id=1,
        dedupe_key="lp_enrollment_archived:0:1:-:0",
        event="lp_enrollment_archived",
        recipient_email="always-fails@example.com",
        context={"learner_name": "Nobody", "plan_title": "Nothing", "round": 1},
    )
    server.failing = {"always-fails@example.com"}

    runs = [send() for _ in range(3)]

    assert runs == [0, 0, 0]  # each run stopped at it, a minute apart in real life (the reconciler)
    poisoned = OutboxMessage.objects.get(id=1)
    assert poisoned.sent_at is not None and poisoned.last_error.startswith("Gave up after 3 attempts.")
    assert send() == 18  # the outbox moves on
    assert not unsent().exists()


def test_rows_of_a_rule_whose_template_does_not_render_are_set_aside_and_the_rest_go_out(server, learners):
    NotificationRule.objects.filter(event="lp_enrollment_archived").update(body_template="{% if %}")  # no clean()

    assert send() == 15

    broken = OutboxMessage.objects.filter(event="lp_enrollment_archived")
    assert broken.count() == 3 and not broken.filter(sent_at__isnull=True).exists()
    assert all("does not render" in row.last_error for row in broken)
    assert not unsent().exists()


def test_a_rule_whose_template_does_not_compile_cannot_be_saved_through_its_form(rules):
    rule = NotificationRule.objects.get(event="lp_enrollment_archived")
    rule.body_template = "Hello {{ learner_name }}{% if %}"

    with pytest.raises(ValidationError) as caught:
        rule.full_clean()

    assert list(caught.value.message_dict) == ["body_template"]
    assert "does not compile" in caught.value.message_dict["body_template"][0]
