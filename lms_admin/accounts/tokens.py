"""API bearer tokens: issued once, stored as a sha256, looked up by hash (SPEC §7)."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.db.models import Q
from django.utils import timezone

from .models import ApiToken, User

# Writing last_used_at on every request would turn every read into a write; once a minute is enough to list it.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Issue a token for `user`; returns the row and the token itself, which is not stored anywhere."""
    raw = secrets.token_urlsafe(32)  # 43 characters
    token = ApiToken.objects.create(user=user, name=name, key_prefix=raw[:8], key_hash=hash_token(raw))
    return token, raw


def user_for_token(raw: str) -> User | None:
    """The active user owning this unrevoked token, or None; notes when the token was used."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    return token.user


def revoke_api_tokens(tokens) -> int:
    """Revoke the given tokens (a queryset); already revoked ones keep their date. Returns how many changed."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
