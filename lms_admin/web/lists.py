"""The one list machinery every list screen uses: page sizes, htmx partial rendering."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 25
# Query parameters that say where in the list a page is; a new filter or sort starts from the top again.
POSITION_PARAMS = ("page", "after", "before", "last")


def wants_partial(request: HttpRequest) -> bool:
    """htmx asked for the list only (a history restore needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_list(request: HttpRequest, full: str, partial: str, context: dict) -> HttpResponse:
    """The whole page, or only the list's partial for htmx; caches keep the two apart."""
    response = render(request, partial if wants_partial(request) else full, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
