"""Exactly once per request (SPEC §4.10): a pop-up's request key or an API `Idempotency-Key`, per caller.

A key is claimed by an INSERT committed on its own, so a concurrent duplicate sees it at once; the request then
runs and its answer is stored on the key, or the key is released when the answer must not be kept (a validation
error, 401, 403) so that a corrected retry with the same key runs. A repeat within 24 hours gets the stored answer.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from lms_admin.accounts.models import User

from ..models import RequestKey

# How long a key and its answer are kept, per caller; also how long a pop-up's signed key stays valid, so a form
# never outlives the record that would catch its repeat.
KEPT_FOR = datetime.timedelta(hours=24)
# A key claimed this long ago and still without an answer belongs to a request that died (a killed process): a
# repeat may take it over. Every keyed request archives one enrollment or starts a job: seconds, not minutes.
ABANDONED_AFTER = datetime.timedelta(minutes=5)
PAGE_KEY_SALT = "archive.request-key"

Scope = RequestKey.Scope


@dataclass
class RequestKeyClaim:
    """What claiming a key found: `new` (this request runs), `replay` (the stored answer of the first request),
    `in_use` (the first request with this key is still running) or `reused` (the key came with another request)."""

    state: str
    key_id: int | None = None
    response_status: int | None = None
    response: Any = None
    answered: bool = False
    keeps_error: bool = False  # the error about to be answered is the request's result: store it too

    @property
    def is_new(self) -> bool:
        return self.state == "new"

    @property
    def replayed(self) -> bool:
        return self.state == "replay"

    @property
    def in_use(self) -> bool:
        return self.state == "in_use"

    @property
    def reused(self) -> bool:
        return self.state == "reused"

    def answer(self, status: int, response: Any) -> None:
        """Store the answer a repeat of this request gets (JSON-serialisable)."""
        assert self.is_new, "only the request that claimed the key answers it"
        RequestKey.objects.filter(pk=self.key_id, completed_at__isnull=True).update(
            completed_at=Now(), response_status=status, response=response
        )
        self.answered = True

    def release(self) -> None:
        """Forget the claim: a retry with the same key runs as a new request."""
        if self.is_new and not self.answered:
            RequestKey.objects.filter(pk=self.key_id, completed_at__isnull=True).delete()


def request_fingerprint(method: str, path: str, body: Any = None) -> str:
    """sha256 of the method, the path and the parsed body with its keys sorted: what makes two requests the same."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_request_key(*, caller: User, scope: str, key: str, fingerprint: str) -> RequestKeyClaim:
    """Claim `key` for this request of `caller`. Call it outside a transaction: the claim must be committed before
    the work starts, or a concurrent duplicate would not see it."""
    table = RequestKey._meta.db_table
    params = {
        "caller": caller.pk,
        "scope": scope,
        "key": key,
        "fingerprint": fingerprint,
        "kept": KEPT_FOR,
        "abandoned": ABANDONED_AFTER,
    }
    # The row may vanish between the statements (its request released it): then claim again.
    for _ in range(3):
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (caller_id, scope, key, fingerprint, created_at)
                VALUES (%(caller)s, %(scope)s, %(key)s, %(fingerprint)s, now())
                ON CONFLICT (caller_id, scope, key) DO NOTHING
                RETURNING id
                """,
                params,
            )
            row = cursor.fetchone()
            if row is None:
                # An expired key is free again; a key whose request died without an answer goes to its repeat.
                cursor.execute(
                    f"""
                    UPDATE {table}
                    SET fingerprint = %(fingerprint)s, created_at = now(), completed_at = NULL,
                        response_status = NULL, response = NULL
                    WHERE caller_id = %(caller)s AND scope = %(scope)s AND key = %(key)s
                      AND (created_at < now() - %(kept)s
                           OR (completed_at IS NULL AND created_at < now() - %(abandoned)s
                               AND fingerprint = %(fingerprint)s))
                    RETURNING id
                    """,
                    params,
                )
                row = cursor.fetchone()
        if row is not None:
            return RequestKeyClaim("new", key_id=row[0])
        found = (
            RequestKey.objects.filter(caller=caller, scope=scope, key=key)
            .values("pk", "fingerprint", "completed_at", "response_status", "response")
            .first()
        )
        if found is None:
            continue
        if found["fingerprint"] != fingerprint:
            return RequestKeyClaim("reused", key_id=found["pk"])
        if found["completed_at"] is None:
            return RequestKeyClaim("in_use", key_id=found["pk"])
        return RequestKeyClaim(
            "replay", key_id=found["pk"], response_status=found["response_status"], response=found["response"]
        )
    return RequestKeyClaim("in_use")


@contextmanager
def once_per_request_key(*, caller: User, scope: str, key: str, fingerprint: str) -> Iterator[RequestKeyClaim]:
    """Claim a key for the block; a new claim left without an answer (an error, an exception) is released on exit."""
    claim = claim_request_key(caller=caller, scope=scope, key=key, fingerprint=fingerprint)
    try:
        yield claim
    finally:
        claim.release()


# --- pop-up keys -----------------------------------------------------------------------------------------------


def sign_page_key(path: str) -> str:
    """A new request key for one opening of the pop-up at `path`: random, signed, stored only once used."""
    return signing.dumps(secrets.token_urlsafe(24), salt=f"{PAGE_KEY_SALT}:{path}")


def page_key_from(token: str | None, path: str) -> str:
    """The key inside a pop-up's signed token. Raises ValidationError (invalid_request) for a missing, changed or
    expired token, or one made for another pop-up."""
    if not token:
        raise ValidationError(
            "This form is incomplete: its request key is missing. Nothing was changed; open the pop-up again.",
            code="invalid_request",
        )
    try:
        return signing.loads(token, salt=f"{PAGE_KEY_SALT}:{path}", max_age=KEPT_FOR)
    except signing.SignatureExpired as exc:
        raise ValidationError(
            "This form is more than a day old. Nothing was changed; open the pop-up again.", code="invalid_request"
        ) from exc
    except signing.BadSignature as exc:
        raise ValidationError(
            "This form was changed: its request key is not valid. Nothing was changed; open the pop-up again.",
            code="invalid_request",
        ) from exc


def page_fingerprint(path: str) -> str:
    """A pop-up's key stands for its one confirmation: a repeat of it, whatever options it carries, is the same."""
    return request_fingerprint("POST", path)


# --- retention -------------------------------------------------------------------------------------------------


def purge_expired_request_keys(*, now: datetime.datetime | None = None) -> int:
    """Delete keys older than 24 hours (their answers go with them); returns how many were deleted."""
    cutoff = (now or timezone.now()) - KEPT_FOR
    deleted, _ = RequestKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
