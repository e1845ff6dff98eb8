"""schemathesis against the archive-import operations of /api/v1/openapi.json, as a superadmin.

No request may answer 500, and every answer must match the published schema (status code, content type, body).
Path ids are steered towards a seeded import, and every fifth upload is a well-formed file, so the happy paths run.
"""

import pytest

from lms_admin.accounts.tokens import create_api_token
from tests.api.fuzzing import MODES, aim_ids, fuzz_operation, wsgi_schema

from .conftest import upload

EXAMPLES_PER_OPERATION = 30
OPERATIONS = [
    "POST /api/v1/archive-imports",
    "GET /api/v1/archive-imports/{import_id}",
    "GET /api/v1/archive-imports/{import_id}/errors",
    "POST /api/v1/archive-imports/{import_id}/submit",
]
GOOD_FILE = b"username,plan_code\nann,SAFETY\nnobody,FIRE\n"


@pytest.fixture
def seeded(db, settings, world, superadmin):
    """Two validated imports of the world's learners and a superadmin's bearer header."""
    settings.ALLOWED_HOSTS = ["*"]  # the WSGI test transport's host name
    first, _ = upload(superadmin, "username,plan_code\nann,SAFETY\nbob,FIRE\nnobody,FIRE\n")
    second, _ = upload(superadmin, f"email,plan_id\ncec@example.com,{world.plans[0].pk}\n")
    _, token = create_api_token(user=superadmin)
    return {"import_id": [first.pk, second.pk]}, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_schema(seeded):
    with wsgi_schema() as schema:
        yield schema


def aim(case, known: dict[str, list[int]], number: int) -> None:
    aim_ids(case, known)
    if number % 5 == 0 and case.operation.path == "/api/v1/archive-imports" and isinstance(case.body, dict):
        case.body.update(file=GOOD_FILE, mode="reenroll", reset_tracking="false", notify="true")


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_import_operation_answers_within_its_schema_and_never_500(api_schema, seeded, label, mode):
    known, headers = seeded
    fuzz_operation(
        api_schema,
        label,
        mode,
        headers=headers,
        aim=lambda case, n: aim(case, known, n),
        examples=EXAMPLES_PER_OPERATION,
    )
