"""The `Idempotency-Key` header of the API's writes (SPEC §4.10): one request per key, its answer replayed.

`@idempotent` goes under the route decorator. After authentication it claims the key for the caller (session or
token alike) with the fingerprint of the method, the path and the parsed body; a repeat gets the stored answer
with `Idempotency-Replayed: true`, another request with the same key 422 `idempotency_key_reused`, a repeat while
the first still runs 409 `idempotency_key_in_use`. Once the response is made, it is stored when it is a 2xx (or an
error the endpoint marked with `keep_answer`), else the key is released so that a corrected retry runs.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from ninja.decorators import decorate_view
from ninja.utils import contribute_operation_callback

from lms_admin.web.api import ApiError

from ..models import RequestKey
from ..services import RequestKeyClaim, claim_request_key, request_fingerprint

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
CLAIM_ATTRIBUTE = "idempotency_claim"

HEADER_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]{1,255}$"},
    "description": (
        "Makes a retry safe: the first request with this key runs, a repeat within 24 hours (same caller, method, "
        "path and body) gets its stored answer with `Idempotency-Replayed: true` and changes nothing. The same key "
        "with another request answers 422 `idempotency_key_reused`; a repeat while the first still runs answers "
        "409 `idempotency_key_in_use`. Errors other than an archive's 404/409 outcomes are not stored: a corrected "
        "retry with the same key runs. 1–255 printable ASCII characters, e.g. a UUID."
    ),
}


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Accept an optional `Idempotency-Key` on this API write (put it under `@router.post` / `@router.delete`)."""

    @functools.wraps(view)
    def claiming_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(request, *args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise ApiError(400, "invalid_request", f"{HEADER} must be 1 to 255 printable ASCII characters.")
        claim = claim_request_key(
            caller=request.auth, scope=RequestKey.Scope.API, key=key, fingerprint=_fingerprint(request)
        )
        if claim.replayed:
            return _replayed(claim)
        if claim.reused:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"This {HEADER} was used with another request (method, path or body) in the last 24 hours. "
                "Use a new key for a new request.",
            )
        if claim.in_use:
            raise ApiError(
                409,
                "idempotency_key_in_use",
                f"The first request with this {HEADER} is still being processed; retry once it has answered.",
            )
        setattr(request, CLAIM_ATTRIBUTE, claim)
        return view(request, *args, **kwargs)

    # The route reads the endpoint's parameters from the wrapper: give it them resolved in the endpoint's module.
    claiming_view.__signature__ = inspect.signature(view, eval_str=True)
    decorate_view(_settle)(claiming_view)
    return _documented(claiming_view)


def keep_answer(request: HttpRequest) -> None:
    """Store the error this request is about to answer (an archive's 404/409 outcome): it is the request's result."""
    claim = getattr(request, CLAIM_ATTRIBUTE, None)
    if claim is not None:
        claim.keeps_error = True


def _settle(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Around the whole operation (authentication to rendering): store the answer made, or release the key."""

    @functools.wraps(run)
    def settling_run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = run(request, *args, **kwargs)
        except BaseException:
            _claim_of(request).release()
            raise
        claim = _claim_of(request)
        if claim.is_new and (200 <= response.status_code < 300 or claim.keeps_error):
            body = json.loads(response.content) if response.content else None
            claim.answer(response.status_code, body)
        claim.release()  # no-op once answered
        return response

    return settling_run


def _claim_of(request: HttpRequest) -> RequestKeyClaim:
    return request.__dict__.pop(CLAIM_ATTRIBUTE, None) or RequestKeyClaim("none")


def _fingerprint(request: HttpRequest) -> str:
    try:
        body = json.loads(request.body) if request.body else None
    except ValueError:  # an endpoint without a body schema ignores what was sent; the fingerprint does not
        body = request.body.decode(errors="replace")
    return request_fingerprint(request.method, request.path, body)


def _replayed(claim: RequestKeyClaim) -> HttpResponse:
    if claim.response is None:
        response = HttpResponse(status=claim.response_status)
    else:
        response = JsonResponse(claim.response, status=claim.response_status, safe=False)
    response[REPLAYED_HEADER] = "true"
    return response


def _documented(view: Callable[..., Any]) -> Callable[..., Any]:
    """Show the header in the OpenAPI document of the operation."""

    def add_header(operation: Any) -> None:
        extra = dict(operation.openapi_extra or {})
        extra["parameters"] = [*extra.get("parameters", []), HEADER_PARAMETER]
        operation.openapi_extra = extra

    contribute_operation_callback(view, add_header)
    return view
