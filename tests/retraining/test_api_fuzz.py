"""schemathesis against the retraining and compliance operations of /api/v1/openapi.json, as a superadmin.

No request may answer 500, and every answer must match the published schema (status code, content type, body).
Path ids are steered towards the seeded plan and run, and every fifth rule body is a valid rule, so the happy
paths run too.
"""

import pytest

from archive.models import RetrainingRun
from archive.services.retraining import utc_today
from enrollments.models import RetrainingRule
from lms_admin.accounts.tokens import create_api_token
from tests.api.fuzzing import MODES, aim_ids, fuzz_operation, wsgi_schema
from tests.factories import enroll_in_bulk, make_plan

EXAMPLES_PER_OPERATION = 30
OPERATIONS = [
    "GET /api/v1/learning-plans/{plan_id}/retraining-rule",
    "PUT /api/v1/learning-plans/{plan_id}/retraining-rule",
    "DELETE /api/v1/learning-plans/{plan_id}/retraining-rule",
    "GET /api/v1/learning-plans/{plan_id}/retraining-forecast",
    "POST /api/v1/learning-plans/{plan_id}/retraining-runs",
    "GET /api/v1/retraining-runs/{run_id}",
    "POST /api/v1/retraining-runs/{run_id}/confirm",
    "GET /api/v1/compliance",
]


@pytest.fixture
def seeded(db, settings, superadmin):
    """A plan with a rule and learners, today's run awaiting a confirmation of 0 learners, a bearer header."""
    settings.ALLOWED_HOSTS = ["*"]  # the WSGI test transport's host name
    plan = make_plan(title="Forklift licence", code="FORK")
    rule = RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"], saved_by=superadmin
    )
    enroll_in_bulk(plan, 3, prefix="fuzz")
    run = RetrainingRun.objects.create(rule=rule, run_date=utc_today(), status="awaiting_confirmation", selected=0)
    _, token = create_api_token(user=superadmin)
    return {"plan_id": [plan.pk], "run_id": [run.pk]}, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_schema(seeded):
    with wsgi_schema() as schema:
        yield schema


def aim(case, known: dict[str, list[int]], number: int) -> None:
    aim_ids(case, known)
    if number % 5 == 0 and isinstance(case.body, dict):
        if case.operation.path.endswith("/retraining-rule"):
            case.body.clear()
            case.body.update(valid_for_months=12, window_days=30)
            case.path_parameters["plan_id"] = known["plan_id"][0]
        elif case.operation.path.endswith("/confirm"):
            case.body.clear()
            case.body.update(count=0)
            case.path_parameters["run_id"] = known["run_id"][0]


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_retraining_operation_answers_within_its_schema_and_never_500(api_schema, seeded, label, mode):
    known, headers = seeded
    fuzz_operation(
        api_schema,
        label,
        mode,
        headers=headers,
        aim=lambda case, n: aim(case, known, n),
        examples=EXAMPLES_PER_OPERATION,
    )
