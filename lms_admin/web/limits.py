"""Limits on what one client may do, kept in Redis so every process and host shares them: failures counted per
address in a fixed window (sign-ins, bearer tokens), one running export per user; and the page a refusal shows.

Redis being unreachable never locks anyone out: the limit is then not applied, and a warning is logged.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time

import redis
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

KEY_PREFIX = "lms_admin:limits:"


@functools.cache
def _connection(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_connection() -> redis.Redis:
    return _connection(settings.REDIS_URL)


def client_address(request: HttpRequest) -> str:
    """The address a request is counted under: the one django-axes counts sign-ins under (LOGIN_THROTTLE_IP_HEADERS)."""
    return get_client_ip_address(request) or "unknown"


class AddressFailures:
    """At most `limit` failures from one address in a window of `window_seconds` (fixed: it starts at the first
    failure and is not extended by later ones); over it, the address is refused until the window ends."""

    def __init__(self, name: str, *, limit_setting: str, window_setting: str) -> None:
        self.name = name
        self.limit_setting = limit_setting
        self.window_setting = window_setting

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting)

    @property
    def window_seconds(self) -> int:
        return getattr(settings, self.window_setting)

    def key(self, address: str) -> str:
        return f"{KEY_PREFIX}{self.name}:{address}"

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may now."""
        try:
            with redis_connection().pipeline(transaction=False) as pipe:
                count, ttl = pipe.get(self.key(address)).ttl(self.key(address)).execute()
        except redis.RedisError:
            logger.warning("Limits: Redis unreachable; %s failures are not limited.", self.name, exc_info=True)
            return 0
        return max(int(ttl), 1) if count is not None and int(count) >= self.limit else 0

    def fail(self, address: str) -> int:
        """Count one failure of `address`; returns retry_after() after it (0 while under the limit)."""
        key = self.key(address)
        try:
            with redis_connection().pipeline(transaction=True) as pipe:
                _, count, ttl = pipe.set(key, 0, ex=self.window_seconds, nx=True).incr(key).ttl(key).execute()
        except redis.RedisError:
            logger.warning("Limits: Redis unreachable; %s failures are not counted.", self.name, exc_info=True)
            return 0
        if count >= self.limit:
            logger.warning("Limits: %s refused for %s after %s failures.", self.name, address, count)
            return max(int(ttl), 1)
        return 0


# Deletes the slot only while it still holds this holder's token: a slot that expired and was taken by a newer
# export is not released by the old one.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class ExportSlot:
    """The one export a user may run at a time: a Redis key held while the stream runs, refreshed as lines go
    out, deleted when it ends or the client goes away; a process that dies leaves it to expire."""

    REFRESH_SECONDS = 5

    def __init__(self, key: str, token: str | None) -> None:
        self.key = key
        self.token = token  # None: Redis was unreachable, nothing is held
        self.refreshed = time.monotonic()

    @classmethod
    def take(cls, user) -> ExportSlot | None:
        """The user's slot, or None while another export of theirs is running."""
        key, token = f"{KEY_PREFIX}export:{user.pk}", secrets.token_hex(16)
        try:
            taken = redis_connection().set(key, token, nx=True, ex=settings.EXPORT_SLOT_SECONDS)
        except redis.RedisError:
            logger.warning("Limits: Redis unreachable; exports are not limited.", exc_info=True)
            return cls(key, None)
        return cls(key, token) if taken else None

    def keep(self) -> None:
        """Still running: push the expiry on (at most every few seconds, so a line costs no round trip)."""
        if self.token is None or time.monotonic() - self.refreshed < self.REFRESH_SECONDS:
            return
        self.refreshed = time.monotonic()
        try:
            redis_connection().expire(self.key, settings.EXPORT_SLOT_SECONDS)
        except redis.RedisError:
            logger.warning("Limits: Redis unreachable; could not keep the export slot.", exc_info=True)

    def release(self) -> None:
        if self.token is None:
            return
        token, self.token = self.token, None
        try:
            redis_connection().eval(_RELEASE, 1, self.key, token)
        except redis.RedisError:
            logger.warning("Limits: Redis unreachable; the export slot expires by itself.", exc_info=True)


def refused_page(
    request: HttpRequest, *, status: int, title: str, message: str, retry_after: int | None = None
) -> HttpResponse:
    """The page of a request refused before it did anything (400, 413, 429), with `Retry-After` when it may retry."""
    response = render(request, "refused.html", {"title": title, "message": message}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
