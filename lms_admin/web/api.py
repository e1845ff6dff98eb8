"""The JSON API (SPEC §7): the instance, authentication, the error shape and the list envelope.

Routers live next to their app (`enrollments/api.py`, the `archive/api/` package) and are mounted in
`lms_admin/api_urls.py`; their schemas read the models themselves (resolvers), so the OpenAPI document describes
exactly what is answered. Every error leaves as `{"error": {"code", "message"}}`, whatever raised it.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, NinjaAPI, Path, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from lms_admin.accounts.roles import has_admin_role
from lms_admin.accounts.tokens import user_for_token

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_ID = 2**63 - 1  # ids are PostgreSQL bigints: anything larger is a bad request, not a server error
ObjectId = Annotated[int, Path(..., ge=1, le=MAX_ID)]

# Service ValidationError codes that travel to the client as they are, with their HTTP status.
SERVICE_ERROR_STATUS = {
    "invalid_request": 400,
    "invalid_mode": 400,
    "invalid_selection": 400,
    "limit_exceeded": 400,
    "shared_course": 409,
    "already_archived": 409,
}
STATUS_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
}


class ApiError(Exception):
    """An error answer: raise it anywhere in an endpoint."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


# --- Schemas shared by every router --------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str
    message: str


class ErrorOut(Schema):
    error: ErrorDetail


# The error answers every authenticated operation can give; operations add 409 etc. where they apply.
ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}

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
    offset = (params.page - 1) * params.page_size
    return {
        "items": list(queryset[offset : offset + params.page_size]) if offset < count else [],
        "count": count,
        "current_page": params.page,
        "page_size": params.page_size,
        "total_page_count": total_page_count,
        "has_more_data": params.page < total_page_count,
    }


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
        user = user_for_token(token.strip())
        if user is None:
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
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


# --- Errors: one shape for all of them ----------------------------------------------------------------


def _describe_validation_errors(errors: list[dict]) -> str:
    parts = []
    for error in errors[:5]:
        location = [str(part) for part in error.get("loc", ()) if part not in ("query", "body", "path", "payload")]
        where = ".".join(location)
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "The request is invalid."


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message)


@api.exception_handler(NinjaValidationError)
def _request_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return error_response(400, "invalid_request", _describe_validation_errors(exc.errors))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(401, "unauthenticated", "Authentication required: send `Authorization: Bearer <token>`.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc))


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
