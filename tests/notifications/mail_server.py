"""A mail server for the sender's tests that fails on cue, as an SMTP server does (Django e-mail backend API)."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend

BACKEND = "tests.notifications.mail_server.FlakyMailServer"


class FlakyMailServer(BaseEmailBackend):
    """Delivered messages go to `delivered`. Per recipient address, `refused` answers RCPT with a code (550: no
    such mailbox, for good; 450: greylisted, try later; 421: closing the session), `rejected` refuses the
    content (554) and `too_big` the message's size at MAIL FROM (552). Once
    `fail_after` messages were delivered, the server drops every connection (until it is set back to None);
    with `session_refused` it refuses the sender address (MAIL FROM) of every message."""

    delivered: list = []
    refused: dict[str, int] = {}
    rejected: set[str] = set()
    too_big: set[str] = set()
    fail_after: int | None = None
    session_refused: bool = False

    @classmethod
    def reset(cls) -> None:
        cls.delivered, cls.refused, cls.rejected, cls.too_big = [], {}, set(), set()
        cls.fail_after, cls.session_refused = None, False

    def send_messages(self, email_messages) -> int:
        cls = type(self)
        for message in email_messages:
            to = message.to[0]
            if cls.session_refused:
                raise smtplib.SMTPSenderRefused(530, b"5.7.0 Authentication required", message.from_email)
            if cls.fail_after is not None and len(cls.delivered) >= cls.fail_after:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if to in cls.too_big:
                raise smtplib.SMTPSenderRefused(552, b"5.3.4 Message size exceeds fixed limit", message.from_email)
            if to in cls.refused:
                code = cls.refused[to]
                raise smtplib.SMTPRecipientsRefused({to: (code, b"Mailbox unavailable" if code >= 500 else b"Later")})
            if to in cls.rejected:
                raise smtplib.SMTPDataError(554, b"5.7.1 Message rejected")
            cls.delivered.append(message)
        return len(email_messages)
