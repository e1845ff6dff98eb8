"""Login throttling (django-axes, counted in PostgreSQL): refuses sign-ins for a locked-out username + address."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

LOGIN_URL = "accounts:login"


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses every sign-in of a locked-out (username, address) pair; authenticates nobody itself.

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


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The page a refused sign-in gets (429), from our login page and the Django admin login alike."""
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "login_url": reverse("admin:login") if request.path.startswith(reverse("admin:index")) else reverse(LOGIN_URL),
    }
    return render(request, "accounts/locked_out.html", context, status=429)
