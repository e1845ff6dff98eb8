"""The Retraining tab's actions: Run now (new, today's run existing, a rule that does not run), the confirmation of
a big run (a wrong number starts nothing), and exemptions added and removed with every bad input refused."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from archive.compliance import ComplianceState, with_compliance
from archive.models import ArchiveJob, RetrainingExemption, RetrainingRun
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import save_rule
from lms_admin.accounts.models import User
from lms_admin.audit.models import AuditEvent
from tests.retraining.pages_world import DAY, rworld_fixture  # noqa: F401 - the `rworld` fixture

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def run_now(rworld, plan=None):
    url = reverse("archive:retraining_run_now", args=[(plan or rworld.plan).pk])
    return rworld.client(rworld.superadmin).post(url, follow=True)


@pytest.fixture
def confirm_everything(settings):
    settings.RETRAINING_CONFIRM_OVER = 0  # every run with a learner waits for a confirmation


# --- Run now ----------------------------------------------------------------------------------------------------


def test_run_now_makes_todays_run_which_waits_for_a_confirmation_above_the_threshold(rworld, confirm_everything):
    response = run_now(rworld)

    run = RetrainingRun.objects.get(rule=rworld.rule)
    assert (run.run_date, run.status, run.selected) == (rworld.today, "awaiting_confirmation", 2)
    assert run.skipped == {"exempt": 1, "user_status": 1}
    assert "Today's run selected 2 learners; it waits for a superadmin to confirm the number." in text(response)
    row = re.search(rf'<tr id="run-{run.pk}".*?</tr>', text(response), re.S).group(0)
    assert "Awaiting confirmation" in row and "1 exempt, 1 user status not chosen" in row
    assert "Type 2 to confirm" in text(response)
    assert not ArchiveJob.objects.exists()
    assert AuditEvent.objects.filter(action="retraining_run.started", object_id=run.pk).exists()


def test_run_now_again_the_same_day_returns_todays_run_and_starts_nothing(rworld, confirm_everything):
    run_now(rworld)

    response = run_now(rworld)

    assert RetrainingRun.objects.filter(rule=rworld.rule).count() == 1
    assert "Today's run exists already (awaiting confirmation, 2 learners selected); nothing new was started." in text(
        response
    )


def test_run_now_with_nobody_due_completes_at_once(rworld):
    rule = save_rule(learning_plan=rworld.other_plan, actor=rworld.superadmin, data={"valid_for_months": 24}).rule

    response = run_now(rworld, rworld.other_plan)

    run = RetrainingRun.objects.get(rule=rule)
    assert (run.status, run.selected) == ("completed", 0)
    assert "Today's run found nobody to re-enroll; it is complete." in text(response)


def test_run_now_on_a_paused_rule_says_so_and_starts_nothing(rworld):
    RetrainingRule.objects.filter(pk=rworld.rule.pk).update(paused=True)

    response = run_now(rworld)

    assert "The retraining rule is paused: it does not run today." in text(response)
    assert 'class="message message-error"' in text(response)
    assert not RetrainingRun.objects.exists()


def test_run_now_before_the_rules_first_day_says_so_and_starts_nothing(rworld):
    RetrainingRule.objects.filter(pk=rworld.rule.pk).update(start_after=rworld.today + DAY)

    response = run_now(rworld)

    assert f"starts after {rworld.today + DAY:%d %B %Y}: it does not run today." in text(response)
    assert not RetrainingRun.objects.exists()


# --- confirmation -----------------------------------------------------------------------------------------------


def waiting_run(rworld) -> RetrainingRun:
    run_now(rworld)
    return RetrainingRun.objects.get(rule=rworld.rule)


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("3", "Type the number of learners the run archives (2) to confirm it."),
        ("", "Type the number of learners the run archives to confirm it."),
        ("two", "Type the number of learners as a whole number."),
        ("-2", "Type the number of learners as a whole number."),
    ],
)
def test_a_wrong_number_does_not_confirm_the_run(rworld, confirm_everything, count, message):
    run = waiting_run(rworld)
    url = reverse("archive:retraining_run_confirm", args=[rworld.plan.pk, run.pk])

    response = rworld.client(rworld.superadmin).post(url, {"count": count})

    assert response.status_code == 422
    assert f'<p class="field-error" id="confirm-error-{run.pk}" role="alert">{message}</p>' in text(response)
    run.refresh_from_db()
    assert (run.status, run.confirmed_by) == ("awaiting_confirmation", None)
    assert not ArchiveJob.objects.exists()


def test_a_lapsed_run_cannot_be_confirmed(rworld, confirm_everything):
    run = waiting_run(rworld)
    RetrainingRun.objects.filter(pk=run.pk).update(run_date=rworld.today - DAY)
    url = reverse("archive:retraining_run_confirm", args=[rworld.plan.pk, run.pk])

    response = rworld.client(rworld.superadmin).post(url, {"count": "2"})

    assert response.status_code == 422
    assert "This run's day is over" in text(response)
    run.refresh_from_db()
    assert run.status == "awaiting_confirmation"


def test_a_run_of_another_plans_rule_is_not_found_here(rworld, confirm_everything):
    run = waiting_run(rworld)
    url = reverse("archive:retraining_run_confirm", args=[rworld.other_plan.pk, run.pk])

    assert rworld.client(rworld.superadmin).post(url, {"count": "2"}).status_code == 404


def test_the_right_number_confirms_the_run_and_submits_its_learners(rworld, confirm_everything):
    run = waiting_run(rworld)
    url = reverse("archive:retraining_run_confirm", args=[rworld.plan.pk, run.pk])

    response = rworld.client(rworld.superadmin).post(url, {"count": "2"}, follow=True)

    run.refresh_from_db()
    assert (run.status, run.confirmed_by) == ("running", rworld.superadmin)
    assert "confirmed: 2 learners are being archived and re-enrolled." in text(response)
    jobs = list(ArchiveJob.objects.filter(retraining_run=run))
    assert len(jobs) == 1 and jobs[0].total == 2
    assert f'href="{reverse("archive:job_detail", args=[jobs[0].pk])}"' in text(response)


# --- exemptions -------------------------------------------------------------------------------------------------


def add(rworld, plan=None, **data):
    url = reverse("archive:retraining_exemption_add", args=[(plan or rworld.plan).pk])
    return rworld.client(rworld.superadmin).post(url, data, follow=True)


def state(rworld, name: str) -> str:
    enrollment = LearningPlanEnrollment.objects.filter(pk=rworld.enrollments[name].pk)
    return with_compliance(enrollment, today=rworld.today).get().compliance_state


def test_an_exemption_by_username_takes_the_learner_out_of_the_run_until_its_last_day(rworld):
    until = rworld.today + 30 * DAY

    response = add(rworld, user="ada", reason="Parental leave", until=until.isoformat())

    assert f"Ada Driver is exempt from the retraining rule until {until:%Y-%m-%d}." in text(response)
    exemption = RetrainingExemption.objects.get(rule=rworld.rule, user=rworld.people["ada"])
    assert (exemption.reason, exemption.until, exemption.created_by) == ("Parental leave", until, rworld.superadmin)
    assert state(rworld, "ada") == ComplianceState.EXEMPT
    dry_run = rworld.client(rworld.superadmin).get(reverse("archive:retraining_dry_run", args=[rworld.plan.pk]))
    assert b"ada" not in b"".join(dry_run.streaming_content)
    event = AuditEvent.objects.get(action="retraining_exemption.added")
    assert event.details["username"] == "ada" and event.actor == rworld.superadmin


def test_an_exemption_by_user_id_has_no_end_when_the_date_is_left_empty(rworld):
    response = add(rworld, user=str(rworld.people["bob"].pk), reason="Retired in spring", until="")

    assert "Bob Driver is exempt from the retraining rule with no end date." in text(response)
    assert RetrainingExemption.objects.get(user=rworld.people["bob"]).until is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"user": "zed", "reason": "x"}, "user", "No user has the username or id “zed”."),
        ({"user": "", "reason": "x"}, "user", "Give the learner's username or user id."),
        ({"user": "ada", "reason": "  "}, "reason", "Give the reason for the exemption."),
        ({"user": "ada", "reason": "x" * 256}, "reason", "Ensure this value has at most 255 characters"),
        ({"user": "ada", "reason": "x", "until": "soon"}, "until", "The last exempt day must be a date (YYYY-MM-DD)."),
        ({"user": "ada", "reason": "x", "until": "2000-01-01"}, "until", "The last exempt day must be today"),
        ({"user": "gus", "reason": "x"}, "user", "Gus Driver is already exempt; remove that exemption first."),
    ],
)
def test_every_bad_exemption_is_refused_beside_its_field_and_adds_nothing(rworld, data, field, message):
    url = reverse("archive:retraining_exemption_add", args=[rworld.plan.pk])

    response = rworld.client(rworld.superadmin).post(url, data)

    assert response.status_code == 422
    found = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', text(response))
    assert found and message in found.group(1)
    assert list(RetrainingExemption.objects.values_list("user__username", flat=True)) == ["gus"]
    assert not AuditEvent.objects.filter(action="retraining_exemption.added").exists()


def test_a_merged_user_cannot_be_exempted(rworld):
    User.objects.filter(pk=rworld.people["ada"].pk).update(merged_into=rworld.people["bob"])

    response = add(rworld, user="ada", reason="Duplicate profile")

    assert "ada was merged into another user: exempt that user instead." in text(response)
    assert not RetrainingExemption.objects.filter(user=rworld.people["ada"]).exists()


def test_a_plan_without_a_rule_has_no_exemptions_to_add(rworld):
    url = reverse("archive:retraining_exemption_add", args=[rworld.other_plan.pk])

    response = rworld.client(rworld.superadmin).post(url, {"user": "hal", "reason": "x"})

    assert response.status_code == 422
    assert "Save the plan's retraining rule first: exemptions belong to it." in text(response)
    assert not RetrainingExemption.objects.filter(user=rworld.people["hal"]).exists()


def test_removing_an_exemption_puts_the_learner_back_in_the_run(rworld):
    exemption = RetrainingExemption.objects.get(user=rworld.people["gus"])
    url = reverse("archive:retraining_exemption_remove", args=[rworld.plan.pk, exemption.pk])

    response = rworld.client(rworld.superadmin).post(url, follow=True)

    assert "Gus Driver is no longer exempt from the retraining rule." in text(response)
    assert not RetrainingExemption.objects.exists()
    assert state(rworld, "gus") == ComplianceState.DUE
    event = AuditEvent.objects.get(action="retraining_exemption.removed")
    assert event.details["user_id"] == rworld.people["gus"].pk and event.details["reason"] == "Long leave"


def test_an_exemption_is_removed_only_through_its_own_plan(rworld):
    exemption = RetrainingExemption.objects.get(user=rworld.people["gus"])
    url = reverse("archive:retraining_exemption_remove", args=[rworld.other_plan.pk, exemption.pk])

    assert rworld.client(rworld.superadmin).post(url).status_code == 404
    assert RetrainingExemption.objects.filter(pk=exemption.pk).exists()
