"""Login throttling: django-axes per username + address (in PostgreSQL), and a limit per address across usernames
(password spraying, in Redis); either refuses the sign-in with a 429 page."""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from lms_admin.web.limits import AddressFailures, refused_page

LOGIN_URL = "accounts:login"

SIGN_IN_FAILURES = AddressFailures(
    "sign-in", limit_setting="LOGIN_ADDRESS_FAILURE_LIMIT", window_setting="ADDRESS_FAILURE_WINDOW_SECONDS"
)


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses every sign-in of a locked-out (username, address) pair or address; authenticates nobody itself.

    Web sign-ins (our login page, the Django admin login) always pass the request and are counted.
    Calls without a request (a shell, a management command, the test client's `login()`) have no
    address to count and are not throttled: they are not reachable from the network.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' own handler (failures per username + address), plus the failures of the address whatever the username."""

    def is_allowed(self, request, credentials: dict | None = None) -> bool:
        wait = SIGN_IN_FAILURES.retry_after(request.axes_ip_address)
        if wait:
            request.address_retry_after = wait
            return False
        return super().is_allowed(request, credentials)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        # A sign-in refused by a lockout checked no password: it is not a failure, and must not extend anything.
        refused = request is not None and getattr(request, "axes_locked_out", False)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or refused:
            return
        wait = SIGN_IN_FAILURES.fail(request.axes_ip_address)
        if wait:  # this failure reached the limit: answered like the refusals that follow it
            request.address_retry_after = wait
            request.axes_locked_out = True
            request.axes_credentials = credentials


def _pair_retry_after(request: HttpRequest, username: str) -> int:
    """Seconds left of a (username, address) lockout: it ends AXES_COOLOFF_TIME after the last counted failure."""
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=getattr(request, "axes_ip_address", None))
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    if last is None:
        return int(settings.AXES_COOLOFF_TIME.total_seconds())
    return max(math.ceil((last + settings.AXES_COOLOFF_TIME - timezone.now()).total_seconds()), 1)


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The page a refused sign-in gets (429 with Retry-After), from our login page and the Django admin login alike."""
    address_wait = getattr(request, "address_retry_after", 0)
    if address_wait:
        window = settings.ADDRESS_FAILURE_WINDOW_SECONDS // 60
        return refused_page(
            request,
            status=429,
            title="Sign-in blocked",
            message=(
                f"Too many failed sign-ins from your address: {settings.LOGIN_ADDRESS_FAILURE_LIMIT} within "
                f"{window} minutes, whatever the usernames. Signing in from here is blocked for "
                f"{math.ceil(address_wait / 60)} more minutes."
            ),
            retry_after=address_wait,
        )
    username = get_client_username(request, credentials) or ""
    context = {
        "username": username,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "login_url": reverse("admin:login") if request.path.startswith(reverse("admin:index")) else reverse(LOGIN_URL),
    }
    response = render(request, "accounts/locked_out.html", context, status=429)
    response["Retry-After"] = str(_pair_retry_after(request, username))
    return response
