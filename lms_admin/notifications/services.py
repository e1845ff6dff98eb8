"""Writers of the notification outbox and the trigger of its sender (SPEC §4.6).

The archive engine writes outbox rows itself, inside its batch statement; this module sends them.
"""

from __future__ import annotations

import django_rq

NOTIFICATIONS_QUEUE = "notifications"


def enqueue_outbox_sender() -> bool:
    """Ask a worker to drain the outbox (call on commit); False when a sender already waits in the queue.

    The queue holds only sender runs, and one waiting is enough: every archive batch, every slice's end and
    the reconciler ask, and a long drain would otherwise pile up runs. Two asking at the same moment may
    both enqueue; that is safe, since rows are claimed.
    """
    from .jobs import send_outbox

    queue = django_rq.get_queue(NOTIFICATIONS_QUEUE)
    if queue.count:
        return False
    queue.enqueue(send_outbox)
    return True


def unsent_count() -> int:
    """How many outbox rows wait to be sent (for the reconciler and the admin)."""
    from .models import OutboxMessage

    return OutboxMessage.objects.filter(sent_at__isnull=True).count()
