"""RQ entry point of the notification sender: drains the outbox in batches (SPEC §4.6)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.template import Context, Template
from django.utils import timezone

from .models import NotificationRule, OutboxMessage

logger = logging.getLogger(__name__)


def send_outbox(batch_size: int = 500) -> int:
    """Send unsent outbox rows until none is left; returns how many were sent by this run.

    Each batch is claimed with FOR UPDATE SKIP LOCKED and marked sent in the same transaction that
    sends it, so two senders running at once never send one dedupe key twice.
    """
    sent = 0
    while True:
        claimed, delivered = _send_batch(batch_size)
        sent += delivered
        if claimed < batch_size:
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
