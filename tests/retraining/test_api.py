"""The retraining API (SPEC §11): the rule (PUT creates or replaces the whole rule, GET, DELETE), the forecast,
"Run now" and confirmation, with the shapes of the contract, every bad input refused with nothing saved, and the
permission matrix of every new URL."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from archive.models import RetrainingExemption, RetrainingRun
from archive.services.retraining import utc_today
from enrollments.models import LearningPlan, LearningPlanEnrollment, RetrainingRule
from lms_admin.accounts.models import User
from lms_admin.audit.models import AuditEvent
from tests.api.conftest import ApiClient
from tests.factories import ManagerLinkFactory, PowerUserFactory, UserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
RULE_KEYS = {
    "valid_for_months",
    "anchor",
    "month",
    "day",
    "min_active_days",
    "window_days",
    "reset_tracking",
    "notify",
    "user_statuses",
    "paused",
    "start_after",
}
RUN_KEYS = {"id", "run_date", "status", "selected", "archived", "skipped", "jobs"}


class Api(ApiClient):
    def put(self, path: str, body):
        return self.client.put(path, body, content_type="application/json", headers=self.headers)


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


@dataclass
class World:
    plan: LearningPlan  # has a rule; assigned to `power_user`
    other_plan: LearningPlan  # no rule; assigned to `other_power_user`
    superadmin: User
    power_user: User
    other_power_user: User
    manager: User
    learner: User

    def rule_url(self, plan: LearningPlan | None = None) -> str:
        return f"/api/v1/learning-plans/{(plan or self.plan).pk}/retraining-rule"

    def runs_url(self, plan: LearningPlan | None = None) -> str:
        return f"/api/v1/learning-plans/{(plan or self.plan).pk}/retraining-runs"


@pytest.fixture
def world(superadmin) -> World:
    plan = make_plan(title="Forklift licence", code="FORK")
    other_plan = make_plan(title="First aid", code="AID")
    power_user, other_power_user = PowerUserFactory(username="pu_fork"), PowerUserFactory(username="pu_aid")
    plan.power_users.add(power_user)
    other_plan.power_users.add(other_power_user)
    learner = UserFactory(username="worker")
    manager = UserFactory(username="boss")
    ManagerLinkFactory(manager=manager, employee=learner)
    RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"], saved_by=superadmin
    )
    return World(plan, other_plan, superadmin, power_user, other_power_user, manager, learner)


def completed(plan: LearningPlan, count: int, *, certified_until: datetime.date, prefix: str = "done") -> list:
    """`count` learners whose current round of `plan` is Completed and certified until that day."""
    enrollments = enroll_in_bulk(plan, count, prefix=prefix)
    LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in enrollments]).update(
        status=2, completed_at=datetime.datetime(2026, 1, 5, 10, tzinfo=datetime.UTC), certified_until=certified_until
    )
    return enrollments


# --- the rule ---------------------------------------------------------------------------------------------------


def test_put_creates_the_rule_with_defaults_for_omitted_fields_then_replaces_the_whole_rule(world):
    api = Api(world.superadmin)
    url = world.rule_url(world.other_plan)
    created = api.put(url, {"valid_for_months": 24, "window_days": 60, "paused": True, "reset_tracking": False})
    assert created.status_code == 201
    assert created.json() == {
        "data": {
            "valid_for_months": 24,
            "anchor": "completion",
            "month": None,
            "day": None,
            "min_active_days": None,
            "window_days": 60,
            "reset_tracking": False,
            "notify": True,
            "user_statuses": ["active"],
            "paused": True,
            "start_after": None,
        }
    }
    assert api.get(url).json() == created.json()

    replaced = api.put(
        url,
        {
            "valid_for_months": 24,
            "anchor": "calendar",
            "month": 2,
            "day": 29,
            "min_active_days": 45,
            "user_statuses": ["expired", "active"],
            "start_after": "2027-03-01",
        },
    )
    assert replaced.status_code == 200
    rule = replaced.json()["data"]
    # The whole rule was replaced: what the body left out is back to its default (window 30, not paused).
    assert rule == {
        "valid_for_months": 24,
        "anchor": "calendar",
        "month": 2,
        "day": 29,
        "min_active_days": 45,
        "window_days": 30,
        "reset_tracking": True,
        "notify": True,
        "user_statuses": ["active", "expired"],
        "paused": False,
        "start_after": "2027-03-01",
    }
    assert RetrainingRule.objects.filter(learning_plan=world.other_plan).count() == 1
    assert list(
        AuditEvent.objects.filter(object_type="learning_plan", object_id=world.other_plan.pk)
        .order_by("id")
        .values_list("action", "actor")
    ) == [("retraining_rule.created", world.superadmin.pk), ("retraining_rule.changed", world.superadmin.pk)]


@pytest.mark.parametrize("value", [False, True, "changed"])
def test_reset_tracking_travels_as_json_true_false_or_changed(world, value):
    api = Api(world.superadmin)
    answer = api.put(world.rule_url(), {"valid_for_months": 12, "reset_tracking": value})
    assert answer.status_code == 200 and answer.json()["data"]["reset_tracking"] == value
    assert api.get(world.rule_url()).json()["data"]["reset_tracking"] == value


def test_saving_a_rule_dates_the_plans_completed_rounds(world):
    [learner] = completed(world.other_plan, 1, certified_until=None)
    LearningPlanEnrollment.objects.filter(pk=learner.pk).update(
        completed_at=datetime.datetime(2027, 1, 31, 9, tzinfo=datetime.UTC)
    )
    assert (
        Api(world.superadmin)
        .put(world.rule_url(world.other_plan), {"valid_for_months": 1, "window_days": 7})
        .status_code
        == 201
    )
    assert LearningPlanEnrollment.objects.get(pk=learner.pk).certified_until == datetime.date(2027, 2, 28)


BAD_RULES = [
    ({"valid_for_months": 1, "window_days": 28}, "invalid_rule", "The window must be shorter than the validity period"),
    (
        {"valid_for_months": 12, "anchor": "calendar", "month": 2, "day": 30, "min_active_days": 60},
        "invalid_rule",
        "30 February is not a date.",
    ),
    ({}, "invalid_rule", "Valid for months is required."),
    ({"valid_for_months": 0}, "invalid_rule", "Valid for months must be between 1 and 120."),
    ({"valid_for_months": 12, "anchor": "yearly"}, "invalid_rule", "The anchor must be “completion” or “calendar”."),
    (
        {"valid_for_months": 12, "anchor": "calendar", "month": 1, "day": 15, "min_active_days": 10},
        "invalid_rule",
        "The minimum active days must be at least the window: a learner completing inside the window would be "
        "re-enrolled at once.",
    ),
    ({"valid_for_months": 12, "user_statuses": []}, "invalid_rule", "User statuses must be one or more of"),
    ({"valid_for_months": 12, "start_after": "soon"}, "invalid_rule", "Start after must be a date (YYYY-MM-DD)."),
    ({"valid_for_months": "twelve"}, "invalid_request", "valid_for_months: Input should be a valid integer"),
    ({"valid_for_months": True}, "invalid_request", "valid_for_months: Input should be a valid integer"),
    ({"valid_for_months": 12, "reset_tracking": "yes"}, "invalid_request", "reset_tracking"),
    (
        {"valid_for_months": 12, "window": 10},
        "invalid_request",
        "Unknown field window (the fields are: valid_for_months, anchor",
    ),
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_RULES)
def test_a_bad_rule_answers_400_with_the_fields_message_and_saves_nothing(world, body, code, message):
    api = Api(world.superadmin)
    before = api.get(world.rule_url()).json()
    refused = api.put(world.rule_url(), body)
    status, got_code, got_message = error_of(refused)
    assert (status, got_code) == (400, code) and got_message.startswith(message)
    assert api.get(world.rule_url()).json() == before  # the existing rule is untouched
    # ... and a plan without a rule still has none.
    assert error_of(api.put(world.rule_url(world.other_plan), body))[:2] == (400, code)
    assert not RetrainingRule.objects.filter(learning_plan=world.other_plan).exists()
    assert not AuditEvent.objects.filter(action__startswith="retraining_rule").exists()


def test_a_plan_without_a_rule_answers_404_and_delete_removes_the_rule_and_its_dates(world):
    api = Api(world.superadmin)
    assert error_of(api.get(world.rule_url(world.other_plan)))[:2] == (404, "not_found")
    assert error_of(api.delete(world.rule_url(world.other_plan)))[:2] == (404, "not_found")
    [dated] = completed(world.plan, 1, certified_until=utc_today() + 100 * DAY)

    deleted = api.delete(world.rule_url())
    assert deleted.status_code == 204 and deleted.content == b""
    assert error_of(api.get(world.rule_url())) == (404, "not_found", "This learning plan has no retraining rule.")
    assert LearningPlanEnrollment.objects.get(pk=dated.pk).certified_until is None
    assert AuditEvent.objects.filter(action="retraining_rule.deleted", actor=world.superadmin).count() == 1


# --- forecast and runs -----------------------------------------------------------------------------------------


def test_the_forecast_has_twelve_months_from_this_one_and_the_first_runs_count(world):
    today = utc_today()
    completed(world.plan, 2, certified_until=today + 5 * DAY, prefix="now")  # due today
    completed(world.plan, 1, certified_until=today + 200 * DAY, prefix="later")
    answer = Api(world.power_user).get(f"/api/v1/learning-plans/{world.plan.pk}/retraining-forecast")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert set(data) == {"months", "due_today"} and data["due_today"] == 2
    assert [m["month"] for m in data["months"]][0] == today.strftime("%Y-%m") and len(data["months"]) == 12
    assert all(set(m) == {"month", "due"} for m in data["months"]) and sum(m["due"] for m in data["months"]) == 1
    assert error_of(Api(world.superadmin).get(f"/api/v1/learning-plans/{world.other_plan.pk}/retraining-forecast"))[
        :2
    ] == (404, "not_found")


def test_run_now_answers_202_with_a_new_run_then_200_with_the_same_run(world):
    api = Api(world.superadmin)
    first = api.post(world.runs_url())
    assert first.status_code == 202
    run = first.json()["data"]
    assert run == {
        "id": run["id"],
        "run_date": utc_today().isoformat(),
        "status": "completed",  # nobody is due: nothing to archive
        "selected": 0,
        "archived": 0,
        "skipped": {},
        "jobs": [],
    }
    again = api.post(world.runs_url())
    assert again.status_code == 200 and again.json()["data"] == run
    assert RetrainingRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="retraining_run.started", object_id=run["id"]).count() == 1
    assert api.get(f"/api/v1/retraining-runs/{run['id']}").json() == {"data": run}


def test_a_big_run_waits_for_confirmation_and_a_wrong_count_starts_nothing(world, settings):
    settings.RETRAINING_CONFIRM_OVER = 1
    today = utc_today()
    due = completed(world.plan, 3, certified_until=today + DAY)
    RetrainingExemption.objects.create(rule=world.plan.retraining_rule, user=due[2].user, reason="On leave")
    api = Api(world.superadmin)
    started = api.post(world.runs_url())
    assert started.status_code == 202
    run = started.json()["data"]
    assert {k: run[k] for k in ("status", "selected", "archived", "skipped", "jobs")} == {
        "status": "awaiting_confirmation",
        "selected": 2,
        "archived": 0,
        "skipped": {"exempt": 1},
        "jobs": [],
    }
    confirm = f"/api/v1/retraining-runs/{run['id']}/confirm"
    for body, message in (
        ({"count": 3}, "(2)"),
        ({"count": "2"}, "count: Input should be a valid integer"),
        ({}, "count is required"),
    ):
        status, code, text = error_of(api.post(confirm, body))
        assert (status, code) == (400, "invalid_request") and message in text
    assert Api(world.power_user).post(confirm, {"count": 2}).status_code == 403
    assert Api(world.power_user).post(confirm, {}).status_code == 403  # refused before the body is judged
    assert RetrainingRun.objects.get(pk=run["id"]).status == "awaiting_confirmation"
    assert not AuditEvent.objects.filter(action="retraining_run.confirmed").exists()
    assert LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in due], round=1).count() == 3  # none archived


def test_a_confirmation_is_audited_with_who_confirmed(world, settings):
    settings.RETRAINING_CONFIRM_OVER = -1  # every run waits, even one with nobody to archive
    api = Api(world.superadmin)
    run = api.post(world.runs_url()).json()["data"]
    assert (run["status"], run["selected"]) == ("awaiting_confirmation", 0)
    confirmed = api.post(f"/api/v1/retraining-runs/{run['id']}/confirm", {"count": 0})
    assert confirmed.status_code == 200 and confirmed.json()["data"]["status"] == "completed"
    event = AuditEvent.objects.get(action="retraining_run.confirmed")
    assert (event.actor, event.object_type, event.object_id) == (world.superadmin, "retraining_run", run["id"])
    status, code, message = error_of(api.post(f"/api/v1/retraining-runs/{run['id']}/confirm", {"count": 0}))
    assert (status, code) == (400, "invalid_request") and "nothing to confirm" in message


def test_confirming_with_the_right_count_starts_the_run(world, settings, django_capture_on_commit_callbacks):
    settings.RETRAINING_CONFIRM_OVER = 1
    completed(world.plan, 2, certified_until=utc_today() + DAY)
    api = Api(world.superadmin)
    run = api.post(world.runs_url()).json()["data"]
    with django_capture_on_commit_callbacks(execute=False):
        confirmed = api.post(f"/api/v1/retraining-runs/{run['id']}/confirm", {"count": 2})
    assert confirmed.status_code == 200
    data = confirmed.json()["data"]
    assert data["status"] == "running" and len(data["jobs"]) == 1
    job = api.get(f"/api/v1/jobs/{data['jobs'][0]}").json()["data"]
    assert (job["status"], job["mode"], job["total"]) == ("queued", "reenroll", 2)
    assert AuditEvent.objects.filter(action="retraining_run.confirmed", actor=world.superadmin).count() == 1
    assert api.post(f"/api/v1/retraining-runs/{run['id']}/confirm", {"count": 2}).status_code == 400


@pytest.mark.parametrize(
    "change", [{"paused": True}, {"start_after": "tomorrow"}], ids=["paused", "before its start_after"]
)
def test_run_now_on_an_inactive_rule_answers_409_rule_inactive_and_starts_nothing(world, change):
    if change.get("start_after"):
        change = {"start_after": utc_today() + DAY}
    RetrainingRule.objects.filter(learning_plan=world.plan).update(**change)
    status, code, message = error_of(Api(world.superadmin).post(world.runs_url()))
    assert (status, code) == (409, "rule_inactive") and "does not run today" in message
    assert not RetrainingRun.objects.exists()
    assert error_of(Api(world.superadmin).post(world.runs_url(world.other_plan)))[:2] == (404, "not_found")


def test_unknown_runs_answer_404(world):
    api = Api(world.superadmin)
    assert error_of(api.get("/api/v1/retraining-runs/999999"))[:2] == (404, "not_found")
    assert error_of(api.post("/api/v1/retraining-runs/999999/confirm", {"count": 1}))[:2] == (404, "not_found")
    assert error_of(api.get("/api/v1/retraining-runs/0"))[:2] == (400, "invalid_request")


# --- who may do what (SPEC §2) ---------------------------------------------------------------------------------

ROLES = ["superadmin", "power_user", "other_power_user", "manager", "learner", "anonymous"]
MATRIX = {
    # endpoint: status per role, in ROLES order
    "GET rule": (200, 200, 404, 403, 403, 401),
    "PUT rule": (200, 403, 404, 403, 403, 401),
    "DELETE rule": (204, 403, 404, 403, 403, 401),
    "GET forecast": (200, 200, 404, 403, 403, 401),
    "POST runs": (202, 403, 404, 403, 403, 401),
    "GET run": (200, 200, 404, 403, 403, 401),
    "POST confirm": (400, 403, 404, 403, 403, 401),  # the superadmin's count is wrong on purpose
    "GET compliance": (200, 200, 200, 403, 403, 401),
}


@pytest.mark.parametrize("endpoint", MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_the_permission_matrix(world, endpoint, role):
    yesterday_run = RetrainingRun.objects.create(
        rule=world.plan.retraining_rule, run_date=utc_today() - DAY, status="awaiting_confirmation", selected=5
    )
    rule_before = RetrainingRule.objects.values().get(learning_plan=world.plan)
    user = None if role == "anonymous" else getattr(world, role)
    api = Api(user)
    method, what = endpoint.split()
    path, body = {
        "rule": (world.rule_url(), {"valid_for_months": 36}),
        "forecast": (f"/api/v1/learning-plans/{world.plan.pk}/retraining-forecast", None),
        "runs": (world.runs_url(), None),
        "run": (f"/api/v1/retraining-runs/{yesterday_run.pk}", None),
        "confirm": (f"/api/v1/retraining-runs/{yesterday_run.pk}/confirm", {"count": 4}),
        "compliance": ("/api/v1/compliance", None),
    }[what]
    send = {
        "GET": lambda: api.get(path),
        "DELETE": lambda: api.delete(path),
        "PUT": lambda: api.put(path, body),
        "POST": lambda: api.post(path, body),
    }
    answer = send[method]()
    expected = MATRIX[endpoint][ROLES.index(role)]
    assert answer.status_code == expected, answer.content
    if expected >= 400:
        assert set(answer.json()) == {"error"}
        assert RetrainingRule.objects.values().get(learning_plan=world.plan) == rule_before
        assert RetrainingRun.objects.get(pk=yesterday_run.pk).status == "awaiting_confirmation"
        assert RetrainingRun.objects.count() == 1
    if endpoint == "GET compliance" and expected == 200:
        plans = {item["learning_plan"]["id"] for item in answer.json()["data"]["items"]}
        assert plans <= {world.plan.pk, world.other_plan.pk}


def test_a_rule_answer_and_a_run_answer_have_exactly_the_contract_keys(world):
    api = Api(world.power_user)
    assert set(api.get(world.rule_url()).json()["data"]) == RULE_KEYS
    run = RetrainingRun.objects.create(rule=world.plan.retraining_rule, run_date=utc_today(), skipped={"exempt": 2})
    assert set(api.get(f"/api/v1/retraining-runs/{run.pk}").json()["data"]) == RUN_KEYS
