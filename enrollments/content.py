"""Substantive changes to training material and the archive's tracking option that acts on them (SPEC §13)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import ResetTracking, TrainingMaterial, reset_tracking_text, reset_tracking_value

RESET_TRACKING_MESSAGE = "Reset tracking must be true, false or “changed”."


def reset_tracking_option(value: Any) -> str:
    """The one check of `reset_tracking` wherever it is accepted: `true` / `false` / `"changed"` (JSON values, or
    the same words from a form or a file, any case) → the stored choice's value ("true", "false", "changed", a
    plain str). Anything else raises ValidationError coded invalid_request."""
    if isinstance(value, bool):
        return reset_tracking_text(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ResetTracking.values:
            return str(word)
    raise ValidationError(RESET_TRACKING_MESSAGE, code="invalid_request")


def reset_tracking_json(value: str | bool) -> bool | str:
    """A choice as the API shows it (and a model's `reset_tracking` holds it): `false`, `true` or `"changed"`."""
    return reset_tracking_value(reset_tracking_option(value))


def mark_materials_changed(material_ids: Iterable[int], *, now: datetime.datetime | None = None) -> int:
    """Mark materials as substantively changed now (learners who completed them before now have something new to
    do); returns how many were marked."""
    return TrainingMaterial.objects.filter(pk__in=list(material_ids)).update(content_changed_at=now or timezone.now())
