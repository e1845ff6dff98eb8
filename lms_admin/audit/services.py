"""The one writer of audit events."""

from __future__ import annotations

from collections.abc import Iterable

from .models import AuditEvent


def record(
    *, actor, action: str, object_type: str, object_id: int | None = None, details: dict | None = None
) -> AuditEvent:
    """Write one audit event (inside the caller's transaction)."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_username=getattr(actor, "username", "") or "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
    )


def record_many(*, actor, action: str, object_type: str, objects: Iterable[tuple[int, dict]]) -> None:
    """Write one event per (object id, details) with one INSERT."""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=actor if actor is not None and actor.pk else None,
            actor_username=getattr(actor, "username", "") or "",
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
        for object_id, details in objects
    )
