"""RQ entry point of the notification sender: drains the outbox in batches (SPEC §4.6)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.template import Context, Template
from django.utils import timezone

from lms_admin.pause import pause_point

from .models import NotificationRule, OutboxMessage

logger = logging.getLogger(__name__)


def send_outbox(batch_size: int | None = None, *, slice_seconds: float | None = None) -> int:
    """Send unsent outbox rows until none is left or the time slice is over; returns how many this run sent.

    Each batch is claimed with FOR UPDATE SKIP LOCKED and marked sent in the same transaction that
    sends it, so two senders running at once never send one dedupe key twice. A 10,000 archive writes
    120,000 rows, minutes of SMTP: after NOTIFICATIONS_SEND_SLICE_SECONDS the run enqueues its own
    continuation and ends, and the worker, which takes the `archive` queue first, starts any archive job
    submitted meanwhile before it sends on.
    """
    from .services import enqueue_outbox_sender

    batch_size = batch_size or settings.NOTIFICATIONS_SEND_BATCH_SIZE
    if slice_seconds is None:
        slice_seconds = settings.NOTIFICATIONS_SEND_SLICE_SECONDS
    deadline = time.monotonic() + slice_seconds
    sent = batches = 0
    while True:
        claimed, delivered = _send_batch(batch_size)
        sent += delivered
        batches += 1
        if claimed < batch_size:
            return sent
        pause_point("after_send_batch", batches)
        if time.monotonic() >= deadline:
            logger.info("Outbox sender: %s sent, slice over; the rest goes back in the queue.", sent)
            enqueue_outbox_sender()
            return sent


def _send_batch(batch_size: int) -> tuple[int, int]:
    """Claim, render, send and mark one batch; returns (rows claimed, messages sent)."""
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.filter(sent_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        if not rows:
            return 0, 0
        rules = {rule.event: rule for rule in NotificationRule.objects.filter(event__in={row.event for row in rows})}
        templates = {
            event: (Template(rule.subject_template), Template(rule.body_template)) for event, rule in rules.items()
        }
        messages, delivered_ids, unsendable = [], [], {}
        for row in rows:
            if not row.recipient_email:
                unsendable[row.pk] = "The recipient has no e-mail address."
                continue
            if row.event not in templates:
                unsendable[row.pk] = "No notification rule for this event."
                continue
            subject, body = templates[row.event]
            context = Context(row.context, autoescape=False)
            messages.append(
                EmailMessage(
                    subject=" ".join(subject.render(context).split()),
                    body=body.render(context),
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[row.recipient_email],
                )
            )
            delivered_ids.append(row.pk)
        now = timezone.now()
        if messages:
            get_connection().send_messages(messages)
            OutboxMessage.objects.filter(pk__in=delivered_ids).update(sent_at=now, attempts=F("attempts") + 1)
        for reason in set(unsendable.values()):
            # Nothing could ever deliver these: mark them done with the reason rather than retry forever.
            pks = [pk for pk, why in unsendable.items() if why == reason]
            OutboxMessage.objects.filter(pk__in=pks).update(sent_at=now, last_error=reason)
        return len(rows), len(messages)
