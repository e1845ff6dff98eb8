"""Every request's checks before any view runs, and every signed-in answer's caching headers.

`RequestLimitsMiddleware` goes after the authentication middleware (its pages show the navigation);
`PrivateCacheMiddleware` anywhere after it too (bearer-token API calls set the user inside the view).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from .api import error_response
from .limits import refused_page
from .reversing import reverse_ids

# PostgreSQL refuses NUL in text ("cannot contain NUL (0x00) bytes"); U+FFFD is what Django decodes bytes that
# are not UTF-8 into. Either in a parameter is hostile or broken input, never a search someone meant.
BAD_CHARACTERS = ("\x00", "\ufffd")


def _is_api(request: HttpRequest) -> bool:
    # Every request asks: the API root reversed once (a `reverse()` per request cost more than the check itself).
    return request.path.startswith(reverse_ids("api:api-root"))


def _bad_parameter(request: HttpRequest) -> str | None:
    """The name of the first query or form parameter holding a NUL or non-UTF-8 bytes, else None."""
    for params in (request.GET, request.POST):
        for name, values in params.lists():
            if any(bad in text for text in (name, *values) for bad in BAD_CHARACTERS):
                return name
    return None


class RequestLimitsMiddleware:
    """Refuses, before any view reads it: a body over the size limit (413 `payload_too_large`) and a NUL or
    non-UTF-8 bytes in any query or form parameter (400 `invalid_request`) — a page, or the API's JSON error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = _is_api(request)
        limit = settings.API_MAX_BODY_SIZE if api else settings.PAGE_MAX_BODY_SIZE
        upload_limit = settings.UPLOAD_BODY_LIMITS.get(request.path_info.rstrip("/"))
        code = "payload_too_large"
        if upload_limit is not None:
            limit, code = upload_limit, "file_too_large"
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.refuse(request, api, 400, "invalid_request", "The Content-Length header is not a number.")
        too_big = f"The request body is over the limit of {limit // 1024} KB; nothing was done."
        if length > limit:
            return self.refuse(request, api, 413, code, too_big)
        try:
            name = _bad_parameter(request)
        except RequestDataTooBig:  # form fields over DATA_UPLOAD_MAX_MEMORY_SIZE (files aside)
            return self.refuse(request, api, 413, "payload_too_large", too_big)
        if name is not None:
            shown = "".join(char for char in name if char not in BAD_CHARACTERS)[:40]
            return self.refuse(
                request,
                api,
                400,
                "invalid_request",
                f"The parameter “{shown}” holds a NUL character or bytes that are not UTF-8 text; nothing was done.",
            )
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, api: bool, status: int, code: str, message: str) -> HttpResponse:
        if api:
            return error_response(status, code, message)
        title = "Request too large" if status == 413 else "Invalid request"
        return refused_page(request, status=status, title=title, message=message)


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` on every answer to a signed-in user — pages, CSVs, certificates, API
    JSON: they carry personal data that no shared cache, and no browser's disk, should keep."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        static = urlsplit(settings.STATIC_URL).path
        if user is not None and user.is_authenticated and not request.path_info.startswith(static):
            patch_cache_control(response, private=True, no_store=True)
        return response
