"""RQ entry point of the notification sender: drains the outbox in batches (SPEC §4.6)."""

from __future__ import annotations

import dataclasses
import logging
import smtplib
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

    Each batch is claimed with FOR UPDATE SKIP LOCKED and each message marked sent in the transaction that
    sends it, so two senders running at once never send one dedupe key twice. A 10,000 archive writes
    120,000 rows, minutes of SMTP: after NOTIFICATIONS_SEND_SLICE_SECONDS the run enqueues its own
    continuation and ends, and the worker, which takes the `archive` queue first, starts any archive job
    submitted meanwhile before it sends on. When the mail server fails, the run keeps what went out and
    stops; the reconciler starts the sender again a minute later.
    """
    from .services import enqueue_outbox_sender

    batch_size = batch_size or settings.NOTIFICATIONS_SEND_BATCH_SIZE
    if slice_seconds is None:
        slice_seconds = settings.NOTIFICATIONS_SEND_SLICE_SECONDS
    deadline = time.monotonic() + slice_seconds
    sent = batches = 0
    while True:
        batch = _send_batch(batch_size)
        sent += batch.delivered
        batches += 1
        if batch.server_error:
            logger.error("Outbox sender: %s sent, then the mail server failed: %s", sent, batch.server_error)
            return sent
        if batch.claimed < batch_size:
            return sent
        pause_point("after_send_batch", batches)
        if time.monotonic() >= deadline:
            logger.info("Outbox sender: %s sent, slice over; the rest goes back in the queue.", sent)
            enqueue_outbox_sender()
            return sent


@dataclasses.dataclass
class Batch:
    claimed: int = 0
    delivered: int = 0
    server_error: str = ""


def _send_batch(batch_size: int) -> Batch:
    """Claim, render, send and mark one batch, message by message.

    A message with no address, no rule or a template that does not render, or one the server refuses for its
    recipient, is done with the reason in `last_error`: no retry could deliver it. A server failure ends the
    batch there: the messages sent before it stay sent, the failing one counts an attempt (given up after
    NOTIFICATIONS_MAX_ATTEMPTS, so one message the server always rejects cannot hold the outbox up), those
    after it wait untouched.
    """
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.filter(sent_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        batch = Batch(claimed=len(rows))
        if not rows:
            return batch
        rules = {rule.event: rule for rule in NotificationRule.objects.filter(event__in={row.event for row in rows})}
        now = timezone.now()
        delivered, done, failed, templates = [], {}, {}, {}  # failed: the one row the server failed on
        connection = None
        try:
            for row in rows:
                rule = rules.get(row.event)
                if not row.recipient_email:
                    done[row.pk] = "The recipient has no e-mail address."
                    continue
                if rule is None:
                    done[row.pk] = "No notification rule for this event."
                    continue
                try:
                    if rule.event not in templates:
                        templates[rule.event] = (Template(rule.subject_template), Template(rule.body_template))
                    message = _message(*templates[rule.event], row)
                except Exception as exc:  # noqa: BLE001 - a broken template (saved before validation) fails its rows
                    done[row.pk] = f"The rule's template does not render: {exc}"
                    continue
                if connection is None:
                    connection = get_connection()
                    connection.open()
                try:
                    connection.send_messages([message])
                except smtplib.SMTPRecipientsRefused as exc:
                    done[row.pk] = f"The mail server refused the recipient: {exc.recipients}"
                    continue
                except Exception as exc:  # noqa: BLE001 - keep what went out, retry the rest later
                    failed[row] = batch.server_error = f"{type(exc).__name__}: {exc}"
                    break
                delivered.append(row.pk)
        finally:
            if connection is not None:
                connection.close()
        OutboxMessage.objects.filter(pk__in=delivered).update(sent_at=now, attempts=F("attempts") + 1)
        for reason in set(done.values()):
            # Nothing could ever deliver these: mark them done with the reason rather than retry forever.
            OutboxMessage.objects.filter(pk__in=[pk for pk, why in done.items() if why == reason]).update(
                sent_at=now, last_error=reason
            )
        for row, error in failed.items():
            attempts = row.attempts + 1
            if attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
                row.sent_at, error = now, f"Gave up after {attempts} attempts. {error}"
            row.attempts, row.last_error = attempts, error[:2000]
            row.save(update_fields=["sent_at", "attempts", "last_error"])
        batch.delivered = len(delivered)
        return batch


def _message(subject: Template, body: Template, row: OutboxMessage) -> EmailMessage:
    context = Context(row.context, autoescape=False)
    return EmailMessage(
        subject=" ".join(subject.render(context).split()),
        body=body.render(context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.recipient_email],
    )
