"""Certification reminders (SPEC §11): `certification_expiring` RETRAINING_REMINDER_DAYS before the last valid day
and `certification_expired` the day after, to the learner and their managers, each once per certified round."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from archive.models import RetrainingExemption
from archive.services.reminders import send_certification_reminders
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from lms_admin.accounts.models import User
from lms_admin.notifications.defaults import create_default_rules
from lms_admin.notifications.models import NotificationRule, OutboxMessage
from lms_admin.notifications.services import send_outbox
from tests.factories import ManagerLinkFactory, UserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2027, 6, 15)
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def notification_rules():
    create_default_rules(NotificationRule)  # the data migration's rules (a flushed database has lost them)


@pytest.fixture
def plan():
    plan = make_plan(title="Forklift licence")
    RetrainingRule.objects.create(learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"])
    return plan


def certified(plan, until: datetime.date | None, *, prefix: str, status: int = 2) -> LearningPlanEnrollment:
    [enrollment] = enroll_in_bulk(plan, 1, prefix=prefix)
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=status, certified_until=until)
    enrollment.refresh_from_db()
    return enrollment


def messages() -> list[tuple[str, str, str]]:
    return sorted(OutboxMessage.objects.values_list("event", "recipient__username", "context__certified_until"))


def test_learner_and_manager_are_told_once_when_the_certification_is_about_to_end(
    plan, settings, django_capture_on_commit_callbacks
):
    settings.RETRAINING_REMINDER_DAYS = 30
    soon = certified(plan, TODAY + 30 * DAY, prefix="soon")
    later = certified(plan, TODAY + 31 * DAY, prefix="later")  # not yet
    certified(plan, None, prefix="undated")  # a round without a date is never reminded
    retraining = certified(plan, TODAY + 3 * DAY, prefix="busy", status=1)  # re-enrolled, still certified
    ManagerLinkFactory(manager=UserFactory(username="boss"), employee=soon.user)

    with django_capture_on_commit_callbacks() as wake_sender:
        assert send_certification_reminders(today=TODAY) == {"certification_expiring": 3}
    assert len(wake_sender) == 1
    assert messages() == [
        ("certification_expiring", "boss", "2027-07-15"),
        ("certification_expiring", "busy00000", "2027-06-18"),
        ("certification_expiring", "soon00000", "2027-07-15"),
    ]
    message = OutboxMessage.objects.get(recipient=soon.user)
    assert message.dedupe_key == f"certification_expiring:{plan.pk}:{soon.user_id}:2027-07-15:{soon.user_id}"
    assert retraining.certified_until == TODAY + 3 * DAY

    # Running again finds the same rounds: nothing more is written. The next day only `later` is new.
    with django_capture_on_commit_callbacks() as wake_sender:
        assert send_certification_reminders(today=TODAY) == {}
    assert wake_sender == [] and OutboxMessage.objects.count() == 3
    assert send_certification_reminders(today=TODAY + DAY) == {"certification_expiring": 1}
    assert OutboxMessage.objects.filter(recipient=later.user).count() == 1 and OutboxMessage.objects.count() == 4


def test_the_day_after_the_last_valid_day_they_are_told_it_expired_once(plan):
    last_day_today = certified(plan, TODAY, prefix="lastday")
    expired = certified(plan, TODAY - DAY, prefix="gone")
    certified(plan, TODAY - 31 * DAY, prefix="history")  # expired long before: history, not news

    assert send_certification_reminders(today=TODAY) == {"certification_expiring": 1, "certification_expired": 1}
    assert messages() == [
        ("certification_expired", expired.user.username, "2027-06-14"),
        ("certification_expiring", last_day_today.user.username, "2027-06-15"),
    ]
    assert send_certification_reminders(today=TODAY + DAY) == {"certification_expired": 1}  # last_day_today's turn
    assert send_certification_reminders(today=TODAY + DAY) == {}
    assert send_certification_reminders(today=TODAY + 5 * DAY) == {}
    assert sorted(OutboxMessage.objects.values_list("event", "recipient__username")) == [
        ("certification_expired", expired.user.username),
        ("certification_expired", last_day_today.user.username),
        ("certification_expiring", last_day_today.user.username),
    ]


def test_a_rule_reenrolling_the_learner_does_not_tell_them_again_until_a_new_date(plan):
    enrollment = certified(plan, TODAY + 30 * DAY, prefix="ada")
    assert send_certification_reminders(today=TODAY) == {"certification_expiring": 1}
    # The rule re-enrolls them: a new round, the certification date kept (SPEC §11).
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(round=2, status=0)
    assert send_certification_reminders(today=TODAY + DAY) == {}
    # They complete the new round: a new date, and in a year a new reminder.
    new_date = TODAY + 30 * DAY + 365 * DAY
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=2, certified_until=new_date)
    assert send_certification_reminders(today=TODAY + 2 * DAY) == {}
    assert send_certification_reminders(today=new_date - 30 * DAY) == {"certification_expiring": 1}
    assert OutboxMessage.objects.filter(recipient=enrollment.user).count() == 2


def test_exempt_merged_and_deactivated_learners_and_disabled_rules_get_nothing(plan):
    exempt = certified(plan, TODAY + DAY, prefix="exempt")
    merged = certified(plan, TODAY + DAY, prefix="merged")
    deactivated = certified(plan, TODAY + DAY, prefix="off")
    lapsed_exemption = certified(plan, TODAY + DAY, prefix="back")
    rule = plan.retraining_rule
    RetrainingExemption.objects.create(rule=rule, user=exempt.user, reason="On leave")
    RetrainingExemption.objects.create(rule=rule, user=lapsed_exemption.user, reason="Leave", until=TODAY - DAY)
    User.objects.filter(pk=merged.user_id).update(merged_into=lapsed_exemption.user)
    User.objects.filter(pk=deactivated.user_id).update(is_active=False)

    NotificationRule.objects.filter(event="certification_expiring").update(enabled=False)
    assert send_certification_reminders(today=TODAY) == {}
    NotificationRule.objects.filter(event="certification_expiring").update(enabled=True)
    assert send_certification_reminders(today=TODAY) == {"certification_expiring": 1}
    assert messages() == [("certification_expiring", lapsed_exemption.user.username, (TODAY + DAY).isoformat())]


def test_a_plan_without_a_rule_reminds_nobody():
    plan = make_plan()
    certified(plan, TODAY + DAY, prefix="norule")  # a stale date: a rule deleted meanwhile clears it anyway
    assert send_certification_reminders(today=TODAY) == {}


def test_the_default_rules_reach_the_learner_and_managers_and_read_well(plan, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    ada = certified(plan, TODAY + 10 * DAY, prefix="ada").user
    User.objects.filter(pk=ada.pk).update(first_name="Ada", last_name="Lovelace")
    ManagerLinkFactory(manager=UserFactory(username="boss", first_name="Grace", last_name="Hopper"), employee=ada)
    assert set(
        NotificationRule.objects.filter(
            event__in=["retraining_started", "certification_expiring", "certification_expired"]
        ).values_list("event", "enabled", "to_learner", "to_managers", "to_superadmins")
    ) == {
        ("retraining_started", True, True, True, False),
        ("certification_expiring", True, True, True, False),
        ("certification_expired", True, True, True, False),
    }

    send_certification_reminders(today=TODAY)
    assert send_outbox() == 2
    by_recipient = {message.to[0]: message for message in mail.outbox}
    to_ada, to_boss = by_recipient[ada.email], by_recipient["boss@example.com"]
    assert to_ada.subject == "Forklift licence: certification valid until 2027-06-25"
    assert "Hello Ada Lovelace" in to_ada.body and "Ada Lovelace in the learning plan" in to_ada.body
    assert "Hello Grace Hopper" in to_boss.body and "valid until 2027-06-25" in to_boss.body
