"""schemathesis against /api/v1/openapi.json: every operation, generated requests, as a superadmin on seeded data.

No request may answer 500, and every answer must match the published schema (status code, content type,
body). Path ids are steered towards the seeded plan, records and job, so the happy paths run too.
Each operation gets EXAMPLES_PER_OPERATION schema-conforming requests and as many malformed ones.
"""

import pytest

from archive.services import start_archive_job
from enrollments.services import enroll_user
from lms_admin.accounts.tokens import create_api_token
from tests.api.fuzzing import MODES, aim_ids, fuzz_operation, wsgi_schema
from tests.factories import UserFactory
from tests.imports.test_api_fuzz import OPERATIONS as IMPORT_OPERATIONS
from tests.retraining.test_api_fuzz import OPERATIONS as RETRAINING_OPERATIONS

EXAMPLES_PER_OPERATION = 50
OPERATIONS = [
    "GET /api/v1/learning-plans/{plan_id}/enrollments",
    "GET /api/v1/learning-plans/{plan_id}/archived-enrollments",
    "GET /api/v1/archived-enrollments/{archive_id}",
    "GET /api/v1/archived-enrollments/{archive_id}/certificate",
    "DELETE /api/v1/archived-enrollments/{archive_id}",
    "POST /api/v1/learning-plans/{plan_id}/archive",
    "GET /api/v1/jobs/{job_id}",
    "GET /api/v1/jobs/{job_id}/items",
    "POST /api/v1/jobs/{job_id}/cancel",
]


@pytest.fixture
def seeded(db, settings, archived_world):
    """The archived world plus a queued job, the ids worth aiming at, and a superadmin's bearer header."""
    settings.ALLOWED_HOSTS = ["*"]  # the WSGI test transport's host name
    w = archived_world
    learners = [UserFactory() for _ in range(3)]
    for learner in learners:
        enroll_user(user=learner, learning_plan=w.plan)
    job = start_archive_job(
        learning_plan=w.plan,
        actor=w.superadmin,
        mode="reenroll",
        enrollment_ids=list(w.plan.enrollments.filter(user__in=learners[:2]).values_list("pk", flat=True)),
    )
    _, token = create_api_token(user=w.superadmin)
    known = {
        "plan_id": [w.plan.pk, w.other_plan.pk],
        "archive_id": [w.ada_record.pk, w.bob_record.pk, w.cyd_record.pk, w.other_record.pk],
        "job_id": [job.pk],
        "enrollment_id": list(w.plan.enrollments.filter(user__in=learners[2:]).values_list("pk", flat=True))
        + [w.plan.enrollments.get(user=w.ada).pk],
    }
    return known, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_schema(seeded):
    with wsgi_schema() as schema:
        yield schema


def test_the_fuzzed_operations_are_every_operation_of_the_schema(api_schema):
    assert sorted(op.ok().label for op in api_schema.get_all_operations()) == sorted(
        OPERATIONS + RETRAINING_OPERATIONS + IMPORT_OPERATIONS
    )


def aim(case, known: dict[str, list[int]], number: int) -> None:
    """Point most generated integer ids at seeded objects (one in four stays random: a 404 path), and make
    every fifth archive request a well-formed one-id request, so the archive happy path runs too."""
    aim_ids(case, known)
    if case.operation.path.endswith("/archive") and isinstance(case.body, dict) and number % 5 == 0:
        case.body.update(enrollment_ids=[known["enrollment_id"][number % 2]], mode="reenroll", select_all=False)
        case.body.pop("filters", None)
        case.path_parameters["plan_id"] = known["plan_id"][0]


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_within_its_schema_and_never_500(api_schema, seeded, label, mode):
    known, headers = seeded
    fuzz_operation(
        api_schema,
        label,
        mode,
        headers=headers,
        aim=lambda case, n: aim(case, known, n),
        examples=EXAMPLES_PER_OPERATION,
    )
