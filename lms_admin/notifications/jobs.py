"""RQ entry point of the notification sender: load, call the service (`services.send_outbox`)."""

from __future__ import annotations

from . import services


def send_outbox() -> int:
    """Send the outbox rows that are due, for one time slice; the rest is enqueued again by the service."""
    return services.send_outbox()
