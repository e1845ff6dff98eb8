"""A mail server for the sender's tests that fails on cue, as an SMTP server does (Django e-mail backend API)."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend

BACKEND = "tests.notifications.mail_server.FlakyMailServer"


class FlakyMailServer(BaseEmailBackend):
    """Delivered messages go to `delivered`. The server refuses the addresses in `refused` (550, permanent),
    drops the connection on every message to the addresses in `failing`, and on every message once
    `fail_after` messages were delivered (until `fail_after` is set back to None)."""

    delivered: list = []
    refused: set[str] = set()
    failing: set[str] = set()
    fail_after: int | None = None

    @classmethod
    def reset(cls) -> None:
        cls.delivered, cls.refused, cls.failing, cls.fail_after = [], set(), set(), None

    def send_messages(self, email_messages) -> int:
        cls = type(self)
        for message in email_messages:
            to = message.to[0]
            if to in cls.refused:
                raise smtplib.SMTPRecipientsRefused({to: (550, b"5.1.1 No such mailbox")})
            if to in cls.failing or (cls.fail_after is not None and len(cls.delivered) >= cls.fail_after):
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            cls.delivered.append(message)
        return len(email_messages)
