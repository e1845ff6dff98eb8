"""The retraining models in the Django admin (SPEC §11): rules and exemptions read-only for staff who are not
superadmins, edited by superadmins through the same services as the Retraining tab (checked, audited, dated);
runs read-only for everyone."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from archive.models import RetrainingExemption, RetrainingRun
from archive.services.retraining import utc_today
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from lms_admin.audit.models import AuditEvent
from tests.factories import SuperadminFactory, UserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

RULE_FORM = {
    "valid_for_months": "12",
    "anchor": "completion",
    "window_days": "30",
    "reset_tracking": "true",
    "notify": "on",
    "user_statuses": ["active"],
}


@pytest.fixture
def plan():
    return make_plan(title="Forklift licence", code="FORK")


@pytest.fixture
def boss():
    return SuperadminFactory(username="staff_boss", is_staff=True)


@pytest.fixture
def support():
    return UserFactory(username="support", is_staff=True)


@pytest.fixture
def rule(plan, boss):
    return RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"], saved_by=boss
    )


def admin_url(model: str, action: str, *args) -> str:
    app = "enrollments" if model == "retrainingrule" else "archive"
    return reverse(f"admin:{app}_{model}_{action}", args=args)


def test_a_superadmin_adds_a_rule_through_the_service_which_dates_and_audits_it(client, plan, boss):
    [done] = enroll_in_bulk(plan, 1, prefix="done")
    LearningPlanEnrollment.objects.filter(pk=done.pk).update(
        status=2, completed_at=datetime.datetime(2027, 1, 31, 8, tzinfo=datetime.UTC)
    )
    client.force_login(boss)
    answer = client.post(admin_url("retrainingrule", "add"), {**RULE_FORM, "learning_plan": plan.pk})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    rule = RetrainingRule.objects.get(learning_plan=plan)
    assert (rule.valid_for_months, rule.saved_by) == (12, boss)
    assert LearningPlanEnrollment.objects.get(pk=done.pk).certified_until == datetime.date(2028, 1, 31)
    assert AuditEvent.objects.filter(action="retraining_rule.created", actor=boss, object_id=plan.pk).count() == 1

    changed = client.post(admin_url("retrainingrule", "change", rule.pk), {**RULE_FORM, "valid_for_months": "24"})
    assert changed.status_code == 302
    assert LearningPlanEnrollment.objects.get(pk=done.pk).certified_until == datetime.date(2029, 1, 31)
    assert AuditEvent.objects.filter(action="retraining_rule.changed", actor=boss).count() == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"valid_for_months": "1", "window_days": "28"}, "The window must be shorter than the validity period."),
        (
            {"anchor": "calendar", "month": "2", "day": "30", "min_active_days": "60"},
            "30 February is not a date.",
        ),
        ({"valid_for_months": "121"}, "120"),
    ],
)
def test_a_bad_rule_in_the_admin_shows_its_reason_and_saves_nothing(client, plan, boss, form, message):
    client.force_login(boss)
    answer = client.post(admin_url("retrainingrule", "add"), {**RULE_FORM, **form, "learning_plan": plan.pk})
    assert answer.status_code == 200 and message in answer.content.decode()
    assert not RetrainingRule.objects.exists() and not AuditEvent.objects.exists()


def test_deleting_a_rule_in_the_admin_clears_its_dates_and_takes_its_runs_and_exemptions(client, plan, rule, boss):
    [dated] = enroll_in_bulk(plan, 1, prefix="dated")
    LearningPlanEnrollment.objects.filter(pk=dated.pk).update(status=2, certified_until=datetime.date(2028, 1, 1))
    RetrainingRun.objects.create(rule=rule, run_date=utc_today())
    RetrainingExemption.objects.create(rule=rule, user=dated.user, reason="Leave")
    client.force_login(boss)
    assert client.post(admin_url("retrainingrule", "delete", rule.pk), {"post": "yes"}).status_code == 302
    assert not RetrainingRule.objects.exists() and not RetrainingRun.objects.exists()
    assert not RetrainingExemption.objects.exists()
    assert LearningPlanEnrollment.objects.get(pk=dated.pk).certified_until is None
    assert AuditEvent.objects.filter(action="retraining_rule.deleted", actor=boss).count() == 1


def test_a_superadmin_adds_and_removes_exemptions_through_the_audited_service(client, plan, rule, boss):
    learner = UserFactory(username="ada")
    client.force_login(boss)
    add = admin_url("retrainingexemption", "add")
    past = client.post(add, {"rule": rule.pk, "user": learner.pk, "reason": "Leave", "until": "2000-01-01"})
    assert past.status_code == 200 and "The last exempt day must be today" in past.content.decode()
    assert not RetrainingExemption.objects.exists() and not AuditEvent.objects.exists()

    assert client.post(add, {"rule": rule.pk, "user": learner.pk, "reason": "Parental leave"}).status_code == 302
    exemption = RetrainingExemption.objects.get()
    assert (exemption.user, exemption.until, exemption.created_by) == (learner, None, boss)
    assert AuditEvent.objects.filter(action="retraining_exemption.added", actor=boss).count() == 1
    again = client.post(add, {"rule": rule.pk, "user": learner.pk, "reason": "Twice"})
    assert again.status_code == 200 and RetrainingExemption.objects.count() == 1

    delete = admin_url("retrainingexemption", "delete", exemption.pk)
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not RetrainingExemption.objects.exists()
    assert AuditEvent.objects.filter(action="retraining_exemption.removed", actor=boss).count() == 1


def test_staff_who_are_not_superadmins_only_look(client, plan, rule, support):
    learner = UserFactory(username="ada")
    exemption = RetrainingExemption.objects.create(rule=rule, user=learner, reason="Leave")
    run = RetrainingRun.objects.create(rule=rule, run_date=utc_today(), pairs=[[1, 1], [2, 1]])
    client.force_login(support)
    for model, obj in (("retrainingrule", rule), ("retrainingexemption", exemption), ("retrainingrun", run)):
        assert client.get(admin_url(model, "changelist")).status_code == 200
        page = client.get(admin_url(model, "change", obj.pk))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        assert client.get(admin_url(model, "add")).status_code == 403
        assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert (
        client.post(admin_url("retrainingrule", "change", rule.pk), {**RULE_FORM, "valid_for_months": "24"}).status_code
        == 403
    )
    other = UserFactory(username="bob")
    assert (
        client.post(
            admin_url("retrainingexemption", "add"), {"rule": rule.pk, "user": other.pk, "reason": "x"}
        ).status_code
        == 403
    )
    assert RetrainingRule.objects.get().valid_for_months == 12
    assert list(RetrainingExemption.objects.values_list("user", flat=True)) == [learner.pk]
    assert RetrainingRun.objects.count() == 1 and not AuditEvent.objects.exists()


@pytest.mark.parametrize("who", ["superadmin", "superuser"])
def test_runs_are_read_only_for_everyone(client, rule, boss, who):
    run = RetrainingRun.objects.create(rule=rule, run_date=utc_today(), pairs=[[1, 1], [2, 1]], selected=2)
    user = boss if who == "superadmin" else UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    page = client.get(admin_url("retrainingrun", "change", run.pk)).content.decode()
    assert "The run’s archive jobs" in page and 'name="_save"' not in page
    jobs = reverse("admin:archive_archivejob_changelist") + f"?retraining_run__id__exact={run.pk}"
    assert jobs in page and client.get(jobs).status_code == 200
    assert client.post(admin_url("retrainingrun", "change", run.pk), {"selected": "0"}).status_code == 403
    assert client.post(admin_url("retrainingrun", "delete", run.pk), {"post": "yes"}).status_code == 403
    assert client.get(admin_url("retrainingrun", "add")).status_code == 403
    assert RetrainingRun.objects.get(pk=run.pk).selected == 2
