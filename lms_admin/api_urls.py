"""Mounts the API routers under /api/v1/ (included from lms_admin/urls.py).

Two answers the library gives in its own shape are reshaped here: a wrong method (405) and an
unknown path under /api/v1/ (404) also answer `{"error": {"code", "message"}}`.
"""

import functools

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

from archive.api import router as archive_router
from archive.api.imports import router as imports_router
from archive.api.retraining import router as retraining_router
from enrollments.api import router as enrollments_router
from lms_admin.web.api import api, error_response

api.add_router("", enrollments_router)
api.add_router("", archive_router)
api.add_router("", retraining_router)
api.add_router("", imports_router)


def _json_method_not_allowed(view):
    @functools.wraps(view)  # keeps csrf_exempt: the API checks CSRF itself, for session callers only
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error_response(405, "method_not_allowed", f"Use one of: {allowed}.")
            response["Allow"] = allowed
        return response

    return wrapper


@csrf_exempt
def unknown_path(request: HttpRequest) -> HttpResponse:
    return error_response(404, "not_found", f"No API endpoint at {request.path}.")


app_name = "api"
urlpatterns = [
    URLPattern(p.pattern, _json_method_not_allowed(p.callback), p.default_args, p.name)
    if isinstance(p, URLPattern)
    else p
    for p in api.urls[0]
] + [re_path(r"", unknown_path)]
