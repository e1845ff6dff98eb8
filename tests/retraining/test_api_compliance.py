"""GET /api/v1/compliance (SPEC §11): every learner's state in the plans the caller sees, with the list envelope of
§7, its filters and paging; and the retraining API's place in the generated OpenAPI document."""

from __future__ import annotations

import datetime

import pytest

from archive.models import RetrainingExemption
from archive.services.retraining import utc_today
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from tests.api.conftest import ApiClient
from tests.factories import PowerUserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
COMPLETED_AT = datetime.datetime(2026, 1, 5, 10, 30, tzinfo=datetime.UTC)


@pytest.fixture
def plans(superadmin):
    """A plan with a rule and one learner in each compliance state, and a plan without a rule with two learners."""
    today = utc_today()
    plan = make_plan(title="Forklift licence", code="FORK")
    rule = RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"]
    )
    rows = enroll_in_bulk(plan, 6, prefix="fork")
    states = {}
    for enrollment, (state, status, until) in zip(
        rows,
        [
            ("certified", 2, today + 100 * DAY),
            ("due", 2, today + 10 * DAY),
            ("expired", 2, today - DAY),
            ("retraining", 0, today + 5 * DAY),
            ("never_completed", 0, None),
            ("exempt", 2, today + 10 * DAY),
        ],
        strict=True,
    ):
        LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(
            status=status, certified_until=until, completed_at=COMPLETED_AT if status == 2 else None
        )
        states[state] = enrollment
    RetrainingExemption.objects.create(rule=rule, user=states["exempt"].user, reason="On leave")
    other = make_plan(title="First aid", code="AID")
    done, fresh = enroll_in_bulk(other, 2, prefix="aid")
    LearningPlanEnrollment.objects.filter(pk=done.pk).update(status=2, completed_at=COMPLETED_AT)
    return plan, other, states, (done, fresh)


def items_of(answer) -> list[dict]:
    assert answer.status_code == 200, answer.content
    return answer.json()["data"]["items"]


def test_each_learner_has_one_state_and_the_items_have_the_contract_shape(plans, superadmin):
    plan, other, states, (done, fresh) = plans
    answer = ApiClient(superadmin).get("/api/v1/compliance", {"learning_plan": plan.pk})
    items = items_of(answer)
    assert {item["user"]["id"]: item["state"] for item in items} == {
        enrollment.user_id: state for state, enrollment in states.items()
    }
    due = next(item for item in items if item["state"] == "due")
    learner = states["due"].user
    today = utc_today()
    assert due == {
        "user": {
            "id": learner.pk,
            "username": learner.username,
            "first_name": learner.first_name,
            "last_name": learner.last_name,
        },
        "learning_plan": {"id": plan.pk, "title": "Forklift licence", "code": "FORK"},
        "state": "due",
        "round": 1,
        "completed_at": "2026-01-05T10:30:00Z",
        "certified_until": (today + 10 * DAY).isoformat(),
        "due_from": (today - 20 * DAY).isoformat(),
    }
    # A plan without a rule: Completed is certified with no end date, the rest never completed.
    others = items_of(ApiClient(superadmin).get("/api/v1/compliance", {"learning_plan": other.pk}))
    assert [(i["user"]["id"], i["state"], i["certified_until"], i["due_from"]) for i in others] == [
        (done.user_id, "certified", None, None),
        (fresh.user_id, "never_completed", None, None),
    ]


def test_the_filters_combine(plans, superadmin):
    plan, other, states, (done, fresh) = plans
    api = ApiClient(superadmin)
    assert len(items_of(api.get("/api/v1/compliance"))) == 8
    for state in ("certified", "due", "retraining", "expired", "never_completed", "exempt"):
        found = items_of(api.get("/api/v1/compliance", {"state": state, "learning_plan": plan.pk}))
        assert [item["user"]["id"] for item in found] == [states[state].user_id], state
    assert [i["learning_plan"]["id"] for i in items_of(api.get("/api/v1/compliance", {"state": "certified"}))] == [
        plan.pk,
        other.pk,
    ]
    assert [i["user"]["id"] for i in items_of(api.get("/api/v1/compliance", {"user": fresh.user_id}))] == [
        fresh.user_id
    ]
    searched = items_of(api.get("/api/v1/compliance", {"search": states["expired"].user.username}))
    assert [i["user"]["id"] for i in searched] == [states["expired"].user_id]
    assert items_of(api.get("/api/v1/compliance", {"search": "aid", "state": "due"})) == []


def test_pages_follow_the_list_envelope(plans, superadmin):
    api = ApiClient(superadmin)
    page = api.get("/api/v1/compliance", {"page": 2, "page_size": 3}).json()["data"]
    assert {k: v for k, v in page.items() if k != "items"} == {
        "count": 8,
        "current_page": 2,
        "page_size": 3,
        "total_page_count": 3,
        "has_more_data": True,
    }
    assert len(page["items"]) == 3
    first = items_of(api.get("/api/v1/compliance", {"page_size": 3}))
    assert not {i["user"]["id"] for i in first} & {i["user"]["id"] for i in page["items"]}
    past = api.get("/api/v1/compliance", {"page": 9}).json()["data"]
    assert past["items"] == [] and past["count"] == 8 and not past["has_more_data"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page_size": 201},
        {"page": "two"},
        {"state": "compliant"},
        {"learning_plan": "fork"},
        {"user": 0},
        {"search": "a\x00b"},
    ],
)
def test_bad_list_parameters_answer_400_invalid_request(plans, superadmin, params):
    answer = ApiClient(superadmin).get("/api/v1/compliance", params)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
    name = next(iter(params))
    assert name in answer.json()["error"]["message"]


def test_a_power_user_sees_the_compliance_of_their_plans_only(plans):
    plan, other, states, _ = plans
    power_user = PowerUserFactory(username="pu_aid")
    other.power_users.add(power_user)
    api = ApiClient(power_user)
    assert {i["learning_plan"]["id"] for i in items_of(api.get("/api/v1/compliance"))} == {other.pk}
    assert items_of(api.get("/api/v1/compliance", {"learning_plan": plan.pk})) == []
    assert items_of(api.get("/api/v1/compliance", {"user": states["due"].user_id})) == []


def test_a_page_costs_the_same_queries_whatever_its_size(
    plans, superadmin, django_assert_num_queries, django_assert_max_num_queries
):
    api = ApiClient(superadmin)
    api.get("/api/v1/compliance")  # the token's first use is recorded once
    with django_assert_max_num_queries(4) as small:  # the token, the count, the page's ids, its rows
        items_of(api.get("/api/v1/compliance", {"page_size": 1}))
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(items_of(api.get("/api/v1/compliance", {"page_size": 8}))) == 8


def test_the_openapi_document_lists_the_retraining_paths_and_schemas(client):
    document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/api/v1/learning-plans/{plan_id}/retraining-rule"]) == {"get", "put", "delete"}
    assert set(paths["/api/v1/learning-plans/{plan_id}/retraining-rule"]["put"]["responses"]) >= {"200", "201", "400"}
    assert "202" in paths["/api/v1/learning-plans/{plan_id}/retraining-runs"]["post"]["responses"]
    assert "409" in paths["/api/v1/learning-plans/{plan_id}/retraining-runs"]["post"]["responses"]
    for path in (
        "/api/v1/learning-plans/{plan_id}/retraining-forecast",
        "/api/v1/retraining-runs/{run_id}",
        "/api/v1/compliance",
    ):
        assert "get" in paths[path], path
    assert "post" in paths["/api/v1/retraining-runs/{run_id}/confirm"]
    schemas = document["components"]["schemas"]
    for name in ("RetrainingRuleIn", "RetrainingRuleOut", "ForecastOut", "RetrainingRunOut", "ComplianceOut"):
        assert name in schemas, name
    assert set(schemas["RetrainingRuleOut"]["properties"]) == {
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
    assert set(schemas["ComplianceOut"]["properties"]["state"]["enum"]) == {
        "certified",
        "due",
        "retraining",
        "expired",
        "never_completed",
        "exempt",
    }
