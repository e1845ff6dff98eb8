"""What the schemathesis tests of the API share: the WSGI schema, the checks, aiming ids at seeded objects, and
one operation fuzzed in one generation mode.

No request may answer 500, and every answer must match the published schema (status code, content type, body).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@contextlib.contextmanager
def wsgi_schema() -> Iterator:
    """The API's OpenAPI document, its requests run in-process against the test database. Like Django's test
    client, requests must not close the test's connection (it holds the test transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def aim_ids(case, known: dict[str, list[int]]) -> None:
    """Point most generated integer path ids at seeded objects (one in four stays random: a 404 path)."""
    for name, ids in known.items():
        value = (case.path_parameters or {}).get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value % 4 != 3:
            case.path_parameters[name] = ids[value % len(ids)]


def fuzz_operation(
    api_schema, label: str, mode: GenerationMode, *, headers: dict, aim: Callable[[object, int], None], examples: int
) -> None:
    """`examples` generated requests of one operation (`"METHOD /path"`), each aimed by `aim(case, number)`, each
    answer checked against the schema; in the positive mode, at least one must succeed (the happy path ran)."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        aim(case, len(statuses))
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.append(response.status_code)

    run()
    assert len(statuses) >= examples
    if mode == GenerationMode.POSITIVE:
        assert any(200 <= status < 300 for status in statuses), statuses
