"""Writers of the notification outbox and the trigger of its sender (SPEC §4.6).

The archive engine writes outbox rows itself, inside its batch statement; this module sends them.
"""

from __future__ import annotations

import django_rq

NOTIFICATIONS_QUEUE = "notifications"


def enqueue_outbox_sender() -> None:
    """Ask a worker to drain the outbox (call on commit). Several runs at once are safe: rows are claimed."""
    from .jobs import send_outbox

    django_rq.get_queue(NOTIFICATIONS_QUEUE).enqueue(send_outbox)


def unsent_count() -> int:
    """How many outbox rows wait to be sent (for the reconciler and the admin)."""
    from .models import OutboxMessage

    return OutboxMessage.objects.filter(sent_at__isnull=True).count()
