"""A small world for the retraining pages: a plan with a 12-month rule and a learner in every compliance state,
another plan without a rule, and people in every role. Dates count back from today (UTC): the pages use it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.test import Client

from archive.models import RetrainingExemption
from archive.services.retraining import utc_today
from enrollments.models import LearningPlan, LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import save_rule
from lms_admin.accounts.models import User
from tests.factories import ManagerLinkFactory, PowerUserFactory, SuperadminFactory, UserFactory, make_plan

DAY = datetime.timedelta(days=1)
# Learner → days since their completion under the 12-month, 30-day-window rule (None: not completed).
COMPLETED_DAYS_AGO = {
    "ada": 355,  # certified until in ~10 days: due
    "bob": 372,  # certified until ~a week ago: expired (a run takes them too)
    "cy": 60,  # certified for ~10 months
    "dee": 320,  # certified; falls due in ~15 days
    "eve": None,  # In progress: never completed
    "fay": 350,  # due, but deactivated: a run leaves them alone
    "gus": 360,  # due, but exempt
}


@dataclass
class RetrainingWorld:
    today: datetime.date
    superadmin: User
    power_user: User  # assigned to `plan`
    other_power_user: User  # assigned to `other_plan`
    manager: User  # manages ada and eve
    plan: LearningPlan  # "Forklift licence", with `rule`
    other_plan: LearningPlan  # "First aid", no rule; hal completed it
    rule: RetrainingRule
    people: dict[str, User]
    enrollments: dict[str, LearningPlanEnrollment]

    def client(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def state_of(self, name: str) -> LearningPlanEnrollment:
        return LearningPlanEnrollment.objects.get(pk=self.enrollments[name].pk)


def complete(enrollment: LearningPlanEnrollment, day: datetime.date) -> None:
    """Mark the round Completed at noon UTC of `day` (the rule's save dates it)."""
    at = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=2, completed_at=at)


def build_world() -> RetrainingWorld:
    today = utc_today()
    superadmin = SuperadminFactory(username="root_admin")
    power_user = PowerUserFactory(username="pu")
    other_power_user = PowerUserFactory(username="pu_other")
    manager = UserFactory(username="manager", first_name="Mona", last_name="Manager")
    plan = make_plan(courses=1, materials_per_course=2, title="Forklift licence", code="FORK")
    plan.power_users.add(power_user)
    other_plan = make_plan(courses=1, materials_per_course=1, title="First aid", code="AID")
    other_plan.power_users.add(other_power_user)

    people, enrollments = {}, {}
    for name, days in COMPLETED_DAYS_AGO.items():
        people[name] = UserFactory(username=name, first_name=name.capitalize(), last_name="Driver")
        enrollments[name] = LearningPlanEnrollment.objects.create(
            user=people[name], learning_plan=plan, status=1 if days is None else 0
        )
        if days is not None:
            complete(enrollments[name], today - days * DAY)
    people["hal"] = UserFactory(username="hal", first_name="Hal", last_name="Medic")
    enrollments["hal"] = LearningPlanEnrollment.objects.create(user=people["hal"], learning_plan=other_plan)
    complete(enrollments["hal"], today - 400 * DAY)
    User.objects.filter(pk=people["fay"].pk).update(is_active=False)
    ManagerLinkFactory(manager=manager, employee=people["ada"])
    ManagerLinkFactory(manager=manager, employee=people["eve"])

    rule = save_rule(learning_plan=plan, actor=superadmin, data={"valid_for_months": 12, "window_days": 30}).rule
    RetrainingExemption.objects.create(rule=rule, user=people["gus"], reason="Long leave", created_by=superadmin)
    return RetrainingWorld(
        today, superadmin, power_user, other_power_user, manager, plan, other_plan, rule, people, enrollments
    )


@pytest.fixture(name="rworld")
def rworld_fixture(db) -> RetrainingWorld:
    return build_world()
