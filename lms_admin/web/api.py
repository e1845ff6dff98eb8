"""The JSON API (SPEC §7): the instance, authentication, the error shape and the list envelope.

Routers live next to their app (`enrollments/api.py`, the `archive/api/` package) and are mounted in
`lms_admin/api_urls.py`; their schemas read the models themselves (resolvers), so the OpenAPI document describes
exactly what is answered. Every error leaves as `{"error": {"code", "message"}}`, whatever raised it.

Request bodies are strict (SPEC §8): a key repeated in one JSON object is refused when the body is parsed, and a
body schema built on `StrictSchema` refuses unknown fields and values of the wrong JSON type (`true` is not an
id, `"26"` is not a number) — all as 400 `invalid_request` naming them, before the endpoint runs.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import re
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, NinjaAPI, Path, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf
from pydantic import BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from lms_admin.accounts.roles import has_admin_role
from lms_admin.accounts.tokens import user_for_token

from .limits import AddressFailures, client_address

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_ID = 2**63 - 1  # ids are PostgreSQL bigints: anything larger is a bad request, not a server error
ObjectId = Annotated[int, Path(..., ge=1, le=MAX_ID)]
TOKEN_FAILURES = AddressFailures(
    "bearer-token", limit_setting="API_TOKEN_FAILURE_LIMIT", window_setting="ADDRESS_FAILURE_WINDOW_SECONDS"
)

# Service ValidationError codes that travel to the client as they are, with their HTTP status.
SERVICE_ERROR_STATUS = {
    "invalid_request": 400,
    "invalid_mode": 400,
    "invalid_selection": 400,
    "limit_exceeded": 400,
    "shared_course": 409,
    "already_archived": 409,
    "invalid_rule": 400,
    "rule_inactive": 409,
    "invalid_boolean": 400,
    "import_expired": 409,
}
STATUS_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "unprocessable",
}


class ApiError(Exception):
    """An error answer: raise it anywhere in an endpoint."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


# --- Strict request bodies ----------------------------------------------------------------------------------


class RepeatedKeyError(ValueError):
    """A JSON object names the same key twice: which value was meant is anyone's guess, so neither is taken."""


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise RepeatedKeyError(f"the key {json.dumps(key[:100])} appears twice in one object")
        found[key] = value
    return found


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class StrictJsonParser(Parser):
    """JSON bodies without repeated keys (the standard library would keep the last value) and without NaN or
    Infinity (not JSON, though Python's parser takes them)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return json.loads(
            request.body, object_pairs_hook=_object_without_repeated_keys, parse_constant=_refuse_constant
        )


class StrictSchema(Schema):
    """The base of every request body: unknown fields are refused and named, and no value is coerced from another
    JSON type (`true` and `1.0` are not integers, `"26"` is not a number, `1` is not a boolean).

    Dates are the one exception JSON forces: they travel as text, so declare them as `JsonDate`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # What an unknown field is called in the message ("filter" for a schema of filters).
    field_noun: ClassVar[str] = "field"

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_fields(cls, data: Any) -> Any:
        # pydantic's own "extra" check answers once per field and without naming the ones that exist.
        if isinstance(data, dict):
            known = {info.alias or name for name, info in cls.model_fields.items()}
            unknown = [str(key)[:60] for key in data if key not in known]
            if unknown:
                plural = "s" if len(unknown) > 1 else ""
                raise PydanticCustomError(
                    "unknown_fields",
                    "unknown {noun}{plural} {unknown} (the {noun}s are: {known})",
                    {
                        "noun": cls.field_noun,
                        "plural": plural,
                        "unknown": ", ".join(unknown[:20]),
                        "known": ", ".join(cls.model_fields),
                    },
                )
        return data


DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_from_text(value: Any) -> Any:
    if isinstance(value, str) and DAY_PATTERN.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date written YYYY-MM-DD")


# A day in a strict body: the text YYYY-MM-DD (not a number, not a timestamp).
JsonDate = Annotated[datetime.date, BeforeValidator(_day_from_text)]


# --- Schemas shared by every router --------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str
    message: str


class ErrorOut(Schema):
    error: ErrorDetail


# The error answers every authenticated operation can give; operations add 409 etc. where they apply.
ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
# A write that takes an `Idempotency-Key` adds 409 idempotency_key_in_use and 422 idempotency_key_reused.
KEYED_WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: ErrorOut, 422: ErrorOut}

T = TypeVar("T")


class DataOut(Schema, Generic[T]):
    data: T


class Page(Schema, Generic[T]):
    items: list[T]
    count: int
    current_page: int
    page_size: int
    total_page_count: int
    has_more_data: bool


class PageParams(Schema):
    page: int = Field(1, ge=1, description="Page number, from 1. A page past the end has no items.")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page, at most 200.")


class UserRef(Schema):
    id: int | None
    username: str


def recorded_user(user_id: int | None, username: str) -> UserRef | None:
    """A user as recorded (the id is null once the user is deleted); None when nobody was."""
    if user_id is not None or username:
        return UserRef(id=user_id, username=username)
    return None


def paginate(queryset: QuerySet, params: PageParams) -> dict[str, Any]:
    """One page of an ordered queryset in the API's list envelope; the `Page` schema's item type reads each row.

    Not the lists' pager (`pager.py`): SPEC §7 promises API clients an exact count and any page number."""
    count = queryset.count()
    total_page_count = math.ceil(count / params.page_size)
    start = (params.page - 1) * params.page_size
    end = min(start + params.page_size, count)
    return {
        "items": page_rows(queryset, start, end, count) if start < count else [],
        "count": count,
        "current_page": params.page,
        "page_size": params.page_size,
        "total_page_count": total_page_count,
        "has_more_data": params.page < total_page_count,
    }


def page_rows(queryset: QuerySet, start: int, end: int, count: int) -> list:
    """Rows `start`..`end` (0-based, end excluded) of an ordered queryset of `count` rows: a deferred join.

    The page's ids come first, from the ordering's index alone: OFFSET still steps over every earlier entry, but
    an index-only scan steps over narrow index entries instead of whole rows, and from whichever end of the order
    is nearer, so the walk is at most half the list. Then only the page's rows are read, by id, and put back in
    order. Page 1,500 × 200 of a 300,000-record plan, measured here: 0.99 s → 0.1 s (docs/PERFORMANCE.md)."""
    if count - end < start:
        ids = list(queryset.reverse().values_list("pk", flat=True)[count - end : count - start])[::-1]
    else:
        ids = list(queryset.values_list("pk", flat=True)[start:end])
    rows = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    return [rows[pk] for pk in ids if pk in rows]  # a row deleted between the two reads is left out


# --- Authentication -------------------------------------------------------------------------------------


def admitted(request: HttpRequest, user) -> Any:
    """The authenticated user, once they hold some admin role (SPEC §2: otherwise 403 on every path)."""
    if not has_admin_role(user):
        raise ApiError(403, "forbidden", "Your account has no administration role.")
    request.user = user
    return user


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` with a token from `manage.py create_api_token`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        # Token guessing: past the limit of failures from one address, every token is refused until the window
        # ends (a right one too, or the answers would tell which guess was right).
        address = client_address(request)
        wait = TOKEN_FAILURES.retry_after(address)
        if wait:
            raise ApiError(
                429,
                "too_many_requests",
                f"Too many unknown bearer tokens from your address; try again in {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )
        user = user_for_token(token.strip())
        if user is None:
            TOKEN_FAILURES.fail(address)
            raise ApiError(401, "unauthenticated", "The bearer token is unknown or revoked.")
        return admitted(request, user)


class SessionCsrfAuth(APIKeyCookie):
    """The browser session of a logged-in user; unsafe methods need the CSRF token like any form."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # The CSRF check comes after "are you logged in at all", so an anonymous call answers 401, not 403.
        if request.user.is_authenticated and check_csrf(request) is not None:
            raise ApiError(403, "forbidden", "CSRF token missing or incorrect.")
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not request.user.is_authenticated:
            return None
        return admitted(request, request.user)


class Api(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        """`<app>_api_<function>`: an operation id names the app, not the module, so moving a route between
        modules renames nothing for clients generated from the OpenAPI document."""
        app = operation.view_func.__module__.split(".")[0]
        return f"{app}_api_{operation.view_func.__name__}"


api = Api(
    title="lms_admin API",
    version="1",
    description=(
        "Learning plan enrollments, archived enrollments, archiving and its background jobs. "
        "Authenticate with `Authorization: Bearer <token>` (`python manage.py create_api_token <username>`) "
        "or a browser session (unsafe methods then need the CSRF token). See docs/api.md."
    ),
    auth=[BearerTokenAuth(), SessionCsrfAuth()],
    parser=StrictJsonParser(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


# --- Errors: one shape for all of them ----------------------------------------------------------------


def _describe_validation_errors(errors: list[dict], *, write: bool = False) -> str:
    parts = []
    for error in errors[:5]:
        location = [str(part) for part in error.get("loc", ()) if part not in ("query", "body", "path", "payload")]
        where = ".".join(location)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message[:1].upper() + message[1:])
    if not parts:
        return "The request is invalid."
    return "; ".join(parts) + (". Nothing was changed." if write else "")


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = error_response(exc.status, exc.code, exc.message)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@api.exception_handler(NinjaValidationError)
def _request_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    return error_response(400, "invalid_request", _describe_validation_errors(exc.errors, write=write))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(401, "unauthenticated", "Authentication required: send `Authorization: Bearer <token>`.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if isinstance(exc.__cause__, ValueError):  # the body did not parse (StrictJsonParser): say why
        message = f"The request body is not valid JSON: {exc.__cause__}. Nothing was changed."
    return error_response(exc.status_code, STATUS_CODES.get(exc.status_code, "error"), message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", str(exc) or "Not found.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, "forbidden", str(exc) or "You may not do this.")


@api.exception_handler(DjangoValidationError)
def _service_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    code = getattr(exc, "code", None) or next((e.code for e in exc.error_list if e.code), None) or "invalid_request"
    if code not in SERVICE_ERROR_STATUS:
        code = "invalid_request"
    return error_response(SERVICE_ERROR_STATUS[code], code, " ".join(exc.messages) or "The request is invalid.")


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return error_response(500, "server_error", "An unexpected error occurred; it has been logged.")
