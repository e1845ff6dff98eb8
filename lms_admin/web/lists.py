"""The one list machinery every list screen uses: reading the page size, sort and position from the query, the
pager's links, the context every list template shares, and htmx partial rendering. The pager itself (keyset
pages, capped counts) is `pager.py`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from .pager import ListParams, ListSpec, Page

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 25
# Query parameters that say where in the list a page is; a new filter or sort starts from the top again.
POSITION_PARAMS = ("page", "after", "before", "last")


def parse_list_params(query: QueryDict, spec: ListSpec) -> ListParams:
    """Page size, sort and position of a list; a bad value falls back, with a notice saying so."""
    notices: list[str] = []
    per_page = spec.per_page or DEFAULT_PAGE_SIZE
    raw = query.get("per_page", "")
    if raw and spec.per_page is None:
        if raw.isdigit() and int(raw) in PAGE_SIZES:
            per_page = int(raw)
        else:
            notices.append(f"Rows per page must be one of 25, 50, 100 or 200; showing {DEFAULT_PAGE_SIZE}.")
    sort = query.get("sort") or spec.default_sort
    if sort.lstrip("-") not in spec.sorts:
        notices.append(spec.sort_notice)
        sort = spec.default_sort
    page = 1
    raw = query.get("page", "")
    if raw:
        if raw.isdigit() and int(raw) >= 1:
            page = int(raw)
        else:
            notices.append(f"“{raw}” is not a page number; showing the first page.")
    after = before = None
    try:
        if query.get("after"):
            after = spec.parse_cursor(query["after"])
        elif query.get("before"):
            before = spec.parse_cursor(query["before"])
    except ValidationError as exc:
        notices.append(f"{exc.message} Showing the first page.")
    return ListParams(per_page, sort, page, after, before, query.get("last") == "1", notices)


def pager_links(request: HttpRequest, page: Page, keep: QueryDict | None = None) -> dict:
    """URLs of First / Previous / numbered pages / Next / Last for a list's pager.

    The links keep the query's other parameters (filters, sort, page size), or only those of `keep`.
    """

    def url(**params) -> str:
        query = (request.GET if keep is None else keep).copy()
        for name in POSITION_PARAMS:
            query.pop(name, None)
        for name, value in params.items():
            query[name] = str(value)
        return f"{request.path}?{query.urlencode()}"

    if page.num_pages is not None:
        numbered_last = min(page.num_pages, page.max_numbered_page)
    else:  # at least count_cap rows exist
        numbered_last = min(page.max_numbered_page, max(1, (page.count_cap or 0) // page.per_page))
    links: dict = {"first": None, "previous": None, "next": None, "last": None, "numbers": []}
    number = page.number
    if page.has_previous:
        links["first"] = url(page=1)
        if page.keyset:
            links["previous"] = url(before=page.first_cursor)
        elif number:
            links["previous"] = url(page=number - 1)
    if page.has_next:
        if page.keyset:
            links["next"] = url(after=page.last_cursor)
            links["last"] = url(last=1)
        elif number and number + 1 <= page.max_numbered_page:
            links["next"] = url(page=number + 1)
            if page.num_pages is not None and numbered_last > number:
                links["last"] = url(page=numbered_last)
    if number:
        window = range(max(1, number - 2), min(numbered_last, number + 2) + 1)
        links["numbers"] = [(n, url(page=n), n == number) for n in window]
    return links


def list_context(request: HttpRequest, params: ListParams, page: Page | None, keep: QueryDict | None = None) -> dict:
    """What every list template reads: the page, its pager links (see `pager_links`), the notices, sort and
    page size."""
    return {
        "page": page,
        "pager": pager_links(request, page, keep) if page else None,
        "notices": params.notices + (page.notices if page else []),
        "sort": params.sort,
        "per_page": params.per_page,
        "page_sizes": PAGE_SIZES,
    }


def wants_partial(request: HttpRequest) -> bool:
    """htmx asked for the list only (a history restore needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_list(request: HttpRequest, full: str, partial: str, context: dict) -> HttpResponse:
    """The whole page, or only the list's partial for htmx; caches keep the two apart."""
    response = render(request, partial if wants_partial(request) else full, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
