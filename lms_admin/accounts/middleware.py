"""Sending an htmx request that lost its session to the login page as a whole page, not into a fragment."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class HtmxLoginRedirectMiddleware:
    """A redirect to the login page answering an htmx request becomes a client-side redirect of the page.

    Without it htmx follows the redirect itself and swaps the login form into the table, the pop-up or
    the progress panel. `next` is the page the browser shows (HX-Current-URL), so logging in again
    returns there rather than to a fragment's URL. Needs django_htmx's HtmxMiddleware before it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        # A history restore (Back after htmx lost its cache) swaps the whole body and ignores HX-Redirect:
        # there the ordinary redirect already shows the login page as a whole page.
        if not htmx or htmx.history_restore_request:
            return response
        if response.status_code not in (301, 302) or not response.has_header("Location"):
            return response
        login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
        if urlsplit(response["Location"]).path != login_path:
            return response
        current = urlsplit(htmx.current_url or "")
        if not current.path.startswith("/") or current.netloc not in ("", request.get_host()):
            return HttpResponseClientRedirect(response["Location"])
        back_to = current.path + (f"?{current.query}" if current.query else "")
        return HttpResponseClientRedirect(redirect_to_login(back_to)["Location"])
