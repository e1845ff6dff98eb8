"""RQ entry point of the notification sender: drains the outbox (SPEC §4.6), each message at most once."""

from __future__ import annotations

import dataclasses
import json
import logging
import smtplib
import time

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection as db
from django.template import Context, Template
from django.utils import timezone

from lms_admin.pause import pause_point

from .models import NotificationRule, OutboxMessage

logger = logging.getLogger(__name__)

# Taking one message: it is marked sent (and its attempt counted) before it goes to the mail server. Two
# senders may race for the same row; the row lock and the `sent_at IS NULL` re-check let one of them win.
CLAIM_SQL = """
UPDATE notifications_outboxmessage SET sent_at = %s, attempts = attempts + 1
WHERE id = %s AND sent_at IS NULL
RETURNING event, recipient_email, context
"""


def send_outbox(batch_size: int | None = None, *, slice_seconds: float | None = None) -> int:
    """Send unsent outbox rows until none is left or the time slice is over; returns how many this run sent.

    At most once per row: each message is marked sent in its own commit, then handed to the mail server, so
    two senders never send one dedupe key twice, and a sender killed between the two steps loses that one
    message rather than send it again. A 10,000 archive writes 120,000 rows, minutes of SMTP: after
    NOTIFICATIONS_SEND_SLICE_SECONDS the run enqueues its own continuation and ends, and the worker, which
    takes the `archive` queue first, starts any archive job submitted meanwhile before it sends on. When the
    mail server fails, the run puts the message back and stops; the reconciler starts it again a minute later.
    """
    from .services import enqueue_outbox_sender

    batch_size = batch_size or settings.NOTIFICATIONS_SEND_BATCH_SIZE
    if slice_seconds is None:
        slice_seconds = settings.NOTIFICATIONS_SEND_SLICE_SECONDS
    deadline = time.monotonic() + slice_seconds
    run = Run()
    try:
        while True:
            ids = list(
                OutboxMessage.objects.filter(sent_at__isnull=True)
                .order_by("id")
                .values_list("pk", flat=True)[:batch_size]
            )
            for pk in ids:
                if not run.send(pk):
                    logger.error("Outbox sender: %s sent, then the mail server failed: %s", run.sent, run.error)
                    return run.sent
            run.batches += 1
            if len(ids) < batch_size:
                return run.sent
            pause_point("after_send_batch", run.batches)
            if time.monotonic() >= deadline:
                logger.info("Outbox sender: %s sent, slice over; the rest goes back in the queue.", run.sent)
                enqueue_outbox_sender()
                return run.sent
    finally:
        run.close()


@dataclasses.dataclass
class Run:
    """One sender run: its mail connection, the rules' compiled templates, what it sent."""

    sent: int = 0
    batches: int = 0
    error: str = ""
    mail: object = None
    templates: dict = dataclasses.field(default_factory=dict)

    def send(self, pk: int) -> bool:
        """Mark one message sent, then send it; False when the mail server failed (the message is put back)."""
        if self.mail is None:
            self.mail = get_connection()
            self.mail.open()  # a server that cannot be reached fails the run before anything is marked
        now = timezone.now()
        with db.cursor() as cursor:
            cursor.execute(CLAIM_SQL, [now, pk])
            claimed = cursor.fetchone()
        if claimed is None:
            return True  # another sender took it
        event, recipient_email, context = claimed
        context = json.loads(context) if isinstance(context, str) else context  # Django leaves jsonb as text
        pause_point("after_send_mark", self.sent + 1)
        message, reason = self.message(event, recipient_email, context)
        if message is None:
            OutboxMessage.objects.filter(pk=pk).update(last_error=reason)  # done: nothing could deliver it
            return True
        try:
            self.mail.send_messages([message])
        except Exception as exc:  # noqa: BLE001 - sorted below: this message's fault, or the server's
            if _refused_for_good(exc):
                OutboxMessage.objects.filter(pk=pk).update(last_error=f"The mail server refused it: {exc}"[:2000])
                return True
            self.error = f"{type(exc).__name__}: {exc}"[:2000]
            OutboxMessage.objects.filter(pk=pk).update(sent_at=None, last_error=self.error)
            return False
        self.sent += 1
        return True

    def message(self, event: str, recipient_email: str, context: dict) -> tuple[EmailMessage | None, str]:
        """The message to send, or None and the reason it can never be sent."""
        if not recipient_email:
            return None, "The recipient has no e-mail address."
        if event not in self.templates:
            rule = NotificationRule.objects.filter(event=event).first()
            try:
                self.templates[event] = rule and (Template(rule.subject_template), Template(rule.body_template))
            except Exception as exc:  # noqa: BLE001 - a template saved before validation existed
                self.templates[event] = f"The rule's template does not render: {exc}"
        compiled = self.templates[event]
        if compiled is None:
            return None, "No notification rule for this event."
        if isinstance(compiled, str):
            return None, compiled
        subject, body = compiled
        try:
            rendered = Context(context, autoescape=False)
            return EmailMessage(
                subject=" ".join(subject.render(rendered).split()),
                body=body.render(rendered),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[recipient_email],
            ), ""
        except Exception as exc:  # noqa: BLE001 - a template that compiles but cannot render this context
            return None, f"The rule's template does not render: {exc}"

    def close(self) -> None:
        if self.mail is not None:
            try:
                self.mail.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not hide what happened
                logger.warning("Outbox sender: could not close the mail connection.", exc_info=True)


def _refused_for_good(exc: Exception) -> bool:
    """A permanent (5xx) refusal of this message: its recipient, or its content. Anything else — 4xx
    (greylisting, a full mailbox, rate limits), a dropped connection, a timeout — is the server's moment,
    and the message waits for the next run."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False
