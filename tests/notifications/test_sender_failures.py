"""The sender when the mail server fails: what went out stays sent, nothing is sent twice, and only a message
the server refuses for good is set aside; an outage gives nothing up."""

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


def assert_each_delivered_once(server, count: int) -> None:
    keys = [(m.to[0], m.subject, m.body) for m in server.delivered]
    assert len(keys) == len(set(keys)) == count


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
    assert_each_delivered_once(server, 18)


def test_an_outage_gives_nothing_up_however_many_runs_fail(server, learners):
    server.fail_after = 0

    assert [send() for _ in range(4)] == [0, 0, 0, 0]  # a minute apart in real life (the reconciler)

    assert unsent().count() == 18
    first = unsent().order_by("id").first()
    assert first.attempts == 4 and "SMTPServerDisconnected" in first.last_error
    server.fail_after = None
    assert send() == 18
    assert_each_delivered_once(server, 18)


def test_a_recipient_refused_for_good_is_set_aside_and_the_others_still_go_out(server, learners):
    server.refused = {learners[0].email: 550}

    assert send() == 12

    refused = OutboxMessage.objects.filter(recipient_email=learners[0].email)
    assert refused.count() == 6 and not refused.filter(sent_at__isnull=True).exists()
    assert all("refused it" in row.last_error for row in refused)
    assert {m.to[0] for m in server.delivered} == {learners[1].email, learners[2].email}


def test_a_recipient_refused_for_now_waits_for_the_next_run(server, learners):
    greylisted = OutboxMessage.objects.order_by("id").first().recipient_email
    server.refused = {greylisted: 450}

    assert send() == 0  # the first message meets the greylisting: the run stops there

    assert unsent().count() == 18
    server.refused = {}
    assert send() == 18
    assert_each_delivered_once(server, 18)


def test_a_message_whose_content_is_rejected_for_good_is_set_aside(server, learners):
    server.rejected = {learners[1].email}

    assert send() == 12

    rejected = OutboxMessage.objects.filter(recipient_email=learners[1].email)
    assert all(row.sent_at and "554" in row.last_error for row in rejected)


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
