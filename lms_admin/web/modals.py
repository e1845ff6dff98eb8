"""htmx pop-ups: one template rendered alone into #modal for htmx, or inside a full page without JavaScript."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import trigger_client_event

# The event a list listens to: a pop-up's action changed its rows.
REFRESH_EVENT = "enrollments:refresh"


def render_modal(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """A pop-up: its content alone for htmx (into #modal), a full page around it without JavaScript."""
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, template, context, status=status)
    return render(request, "archive/modal_page.html", {**context, "modal_template": template}, status=status)


def finish_in_modal(request: HttpRequest, fallback_url: str, *, refresh: bool = True) -> HttpResponse:
    """After a pop-up's action: htmx closes the pop-up, shows the messages and refreshes the list; else redirect."""
    if not request.htmx:
        return redirect(fallback_url)
    response = trigger_client_event(render(request, "archive/includes/messages_oob.html"), "modal:close")
    return trigger_client_event(response, REFRESH_EVENT) if refresh else response
