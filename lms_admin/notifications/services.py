"""The notification outbox (SPEC §4.6): the trigger of its sender and the sender itself, each message at most once.

The archive engine writes outbox rows itself, inside its batch statement; this module sends them. The RQ
entry point (`lms_admin.notifications.jobs.send_outbox`) only calls `send_outbox` here.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import smtplib
import time

import django_rq
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, get_connection
from django.core.mail.message import sanitize_address
from django.db import connection as db
from django.db.models import F, Q
from django.template import Context, Template
from django.utils import timezone

from lms_admin.pause import pause_point
from lms_admin.queues import enqueues_are_held

from .models import NotificationRule, OutboxMessage

logger = logging.getLogger(__name__)

NOTIFICATIONS_QUEUE = "notifications"
SEND_OUTBOX_JOB = "lms_admin.notifications.jobs.send_outbox"


def enqueue_outbox_sender() -> bool:
    """Ask a worker to drain the outbox (call on commit); False when a sender already waits in the queue.

    The queue holds only sender runs, and one waiting is enough: every archive batch, every slice's end and
    the reconciler ask, and a long drain would otherwise pile up runs. Two asking at the same moment may
    both enqueue; that is safe, since rows are claimed.
    """
    if enqueues_are_held():
        return False
    queue = django_rq.get_queue(NOTIFICATIONS_QUEUE)
    if queue.count:
        return False
    queue.enqueue(SEND_OUTBOX_JOB)
    return True


def unsent_count() -> int:
    """How many outbox rows wait to be sent (for the reconciler and the admin)."""
    return OutboxMessage.objects.filter(sent_at__isnull=True).count()


# Taking a batch, just before its messages go to the mail server: one statement, committed on its own (the sender
# runs as an RQ job, in autocommit). Two senders racing for rows both run it; the row locks and the re-check let one
# win each row. Until the batch is done its rows carry IN_FLIGHT, which stays only if the sender died meanwhile.
TAKE_SQL = """
UPDATE notifications_outboxmessage
SET sent_at = %(now)s, attempts = attempts + 1, retry_after = NULL, last_error = %(in_flight)s
WHERE id = ANY(%(ids)s::bigint[]) AND sent_at IS NULL AND (retry_after IS NULL OR retry_after <= %(now)s)
RETURNING id, attempts
"""
IN_FLIGHT = (
    "Taken for sending with its batch, and the sender stopped before the batch was done: it may or may not have "
    "arrived, and is not sent again so that it cannot arrive twice."
)


def send_outbox(batch_size: int | None = None, *, slice_seconds: float | None = None) -> int:
    """Send unsent outbox rows until none is due or the time slice is over; returns how many this run sent.

    At most once per row: a batch of messages is taken (marked sent, committed) just before its messages go to
    the mail server and is never taken again, so two senders never send one dedupe key twice. A failure that
    leaves open whether the server got a message (a dropped connection, a timeout) costs that one message, and
    the batch's messages not tried yet are given back; a sender killed mid-batch leaves that one batch marked
    "may or may not have arrived" (IN_FLIGHT), never a duplicate. A 10,000 archive writes 120,000 rows, minutes
    of SMTP: after NOTIFICATIONS_SEND_SLICE_SECONDS the run enqueues its own continuation and ends, and the worker,
    which takes the `archive` queue first, starts any archive job submitted meanwhile before it sends on.
    """
    batch_size = batch_size or settings.NOTIFICATIONS_SEND_BATCH_SIZE
    if slice_seconds is None:
        slice_seconds = settings.NOTIFICATIONS_SEND_SLICE_SECONDS
    deadline = time.monotonic() + slice_seconds
    try:
        sanitize_address(settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_CHARSET)
    except ValueError as exc:  # every message would fail on it: take none, give none up
        logger.error("Outbox sender: DEFAULT_FROM_EMAIL cannot be used (%s); nothing sent.", exc)
        return 0
    run = Run()
    try:
        while True:
            rows = list(due_rows().order_by("id").values_list("pk", "event", "recipient_email", "context")[:batch_size])
            if not run.send_batch(rows):
                logger.error("Outbox sender: %s sent, then the mail server failed: %s", run.sent, run.error)
                return run.sent
            run.batches += 1
            if len(rows) < batch_size:
                return run.sent
            pause_point("after_send_batch", run.batches)
            if time.monotonic() >= deadline:
                logger.info("Outbox sender: %s sent, slice over; the rest goes back in the queue.", run.sent)
                enqueue_outbox_sender()
                return run.sent
    finally:
        run.close()


def due_rows():
    """Outbox rows waiting to be sent now (not waiting for a retry after a temporary refusal)."""
    return OutboxMessage.objects.filter(sent_at__isnull=True).filter(
        Q(retry_after__isnull=True) | Q(retry_after__lte=timezone.now())
    )


class PreparedMessage(EmailMessage):
    """An e-mail built into its MIME form once: when the sender checks it, before taking it; the mail backend then
    sends that same form instead of building it again (most of a message's cost on a fast server)."""

    _built = None

    def message(self):
        if self._built is None:
            self._built = super().message()
        return self._built


@dataclasses.dataclass
class Run:
    """One sender run: its mail connection, the rules' compiled templates, what it sent."""

    sent: int = 0
    taken: int = 0
    batches: int = 0
    error: str = ""
    mail: object = None
    templates: dict = dataclasses.field(default_factory=dict)

    def send(self, pk: int, event: str, recipient_email: str, context: dict) -> bool:
        """Send one message (a batch of one); False when the run must stop (the mail server failed)."""
        return self.send_batch([(pk, event, recipient_email, context)])

    def send_batch(self, rows: list[tuple[int, str, str, dict]]) -> bool:
        """Send these outbox rows: written first, taken together, handed over one by one, the marks of what went
        out cleared together. False when the run must stop (the mail server failed)."""
        messages = {}
        for pk, event, recipient_email, context in rows:
            message, reason = self.message(event, recipient_email, context)
            if message is None:
                set_aside(pk, reason)  # nothing could ever deliver it
            else:
                messages[pk] = message
        if not messages:
            return True
        self.open_mail()  # a server that cannot be reached fails the run before anything is taken
        now = timezone.now()
        with db.cursor() as cursor:
            cursor.execute(TAKE_SQL, {"now": now, "ids": list(messages), "in_flight": IN_FLIGHT})
            attempts = dict(cursor.fetchall())  # rows another sender took, or now waiting for a retry, are not here
        taken = [pk for pk in messages if pk in attempts]
        delivered: list[int] = []
        try:
            for position, pk in enumerate(taken):
                self.taken += 1
                pause_point("after_send_mark", self.taken)
                outcome = self.hand_over(pk, messages[pk], attempts[pk])
                if outcome is True:
                    delivered.append(pk)
                elif outcome is False:
                    give_back(taken[position + 1 :])  # not tried: they did not go out
                    return False
        finally:
            if delivered:
                OutboxMessage.objects.filter(pk__in=delivered).update(last_error="")
                self.sent += len(delivered)
        return True

    def open_mail(self) -> None:
        if self.mail is None:
            self.mail = get_connection()
            self.mail.open()
        elif getattr(getattr(self.mail, "connection", None), "sock", True) is None:
            # The server closed the SMTP session after a refusal: open a new one before the next message.
            self.mail.close()
            self.mail.open()

    def hand_over(self, pk: int, message: EmailMessage, attempts: int) -> bool | None:
        """Hand one taken message to the mail server: True delivered, None not delivered (set aside or put back
        for a retry; the run goes on), False the run must stop."""
        try:
            self.open_mail()
            self.mail.send_messages([message])
        except (ValueError, BadHeaderError) as exc:  # the address or a header cannot be written: nothing went out
            set_aside(pk, f"The message cannot be written: {exc}", taken=True)
            return None
        except smtplib.SMTPResponseException as exc:  # the server answered: it did not accept the message
            return None if self.refused(pk, attempts, exc) else False
        except smtplib.SMTPNotSupportedError as exc:  # STARTTLS or AUTH missing: refused before anything was sent
            return self.put_back(pk, f"The mail server refused the session: {exc}")
        except smtplib.SMTPRecipientsRefused as exc:  # refused before the message was handed over
            codes = [code for code, _ in exc.recipients.values()]
            if 421 in codes:  # "closing the connection": the server's state, not this recipient's
                return self.put_back(pk, f"The mail server closed the session: {exc.recipients}")
            if codes and all(code >= 500 for code in codes):
                set_aside(pk, f"The mail server refused the recipient: {exc.recipients}", taken=True)
            else:
                self.retry_later(pk, attempts, f"The mail server refused the recipient for now: {exc.recipients}")
            return None
        except Exception as exc:  # noqa: BLE001 - a dropped connection, a timeout: the server may have it
            self.error = f"{type(exc).__name__}: {exc}"[:2000]
            set_aside(
                pk,
                f"The connection failed while the message was being handed over ({self.error}); it may or may "
                "not have arrived, and is not sent again so that it cannot arrive twice.",
                taken=True,
            )
            return False
        return True

    def refused(self, pk: int, attempts: int, exc: smtplib.SMTPResponseException) -> bool:
        """The server answered MAIL FROM, DATA or the message with an error code: sort it by whose fault it is."""
        answer = f"{exc.smtp_code} {exc.smtp_error!r}"
        about_this_message = isinstance(exc, smtplib.SMTPDataError) or exc.smtp_code == 552  # 552: too big
        if exc.smtp_code == 421 or not about_this_message:  # the session: closing, sender address, authentication
            return self.put_back(pk, f"The mail server refused the session: {type(exc).__name__} {answer}")
        if exc.smtp_code >= 500:
            set_aside(pk, f"The mail server refused the message: {answer}", taken=True)
        else:
            self.retry_later(pk, attempts, f"The mail server refused the message for now: {answer}")
        return True

    def put_back(self, pk: int, reason: str) -> bool:
        """Nothing was sent and it was not this message's fault: untaken, its attempt given back; the run ends."""
        self.error = reason[:2000]
        OutboxMessage.objects.filter(pk=pk).update(sent_at=None, attempts=F("attempts") - 1, last_error=self.error)
        return False

    def retry_later(self, pk: int, attempts: int, reason: str) -> None:
        """A temporary refusal of this message: put it back with a growing delay, give it up after the last try."""
        if attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            set_aside(pk, f"Gave up after {attempts} attempts. {reason}", taken=True)
            return
        delay = datetime.timedelta(minutes=min(2 ** (attempts - 1), 60))
        OutboxMessage.objects.filter(pk=pk).update(
            sent_at=None, retry_after=timezone.now() + delay, last_error=reason[:2000]
        )

    def message(self, event: str, recipient_email: str, context: dict) -> tuple[EmailMessage | None, str]:
        """The message to send, or None and the reason it can never be sent."""
        if not recipient_email:
            return None, "The recipient has no e-mail address."
        if event not in self.templates:
            rule = NotificationRule.objects.filter(event=event).first()
            try:
                self.templates[event] = rule and (Template(rule.subject_template), Template(rule.body_template))
            except Exception as exc:  # noqa: BLE001 - a template saved before templates were checked
                self.templates[event] = f"The rule's template does not render: {exc}"
        compiled = self.templates[event]
        if compiled is None:
            return None, "No notification rule for this event."
        if isinstance(compiled, str):
            return None, compiled
        subject, body = compiled
        try:
            rendered = Context(context, autoescape=False)
            message = PreparedMessage(
                subject=" ".join(subject.render(rendered).split()),
                body=body.render(rendered),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[recipient_email],
            )
            # What the backend checks only when sending (the addresses, the headers), checked before the message
            # is taken, by building it: the backend sends what was built here.
            message.message()
            return message, ""
        except Exception as exc:  # noqa: BLE001 - a template that cannot render this context, a bad address
            return None, f"The message cannot be written: {exc}"

    def close(self) -> None:
        if self.mail is not None:
            try:
                self.mail.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not hide what happened
                logger.warning("Outbox sender: could not close the mail connection.", exc_info=True)


def give_back(pks: list[int]) -> None:
    """Taken with their batch but never handed over (the run stopped first): due again, the attempt not counted."""
    if pks:
        OutboxMessage.objects.filter(pk__in=pks).update(sent_at=None, attempts=F("attempts") - 1, last_error="")


def set_aside(pk: int, reason: str, *, taken: bool = False) -> None:
    """Done with this message without sending it (or without knowing): marked, with the reason."""
    rows = OutboxMessage.objects.filter(pk=pk)
    if taken:
        rows.update(last_error=reason[:2000])
    else:
        rows.filter(sent_at__isnull=True).update(sent_at=timezone.now(), last_error=reason[:2000])
