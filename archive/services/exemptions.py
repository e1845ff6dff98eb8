"""Retraining exemptions (SPEC §11): learners a plan's rule leaves alone, until a date or for good. Superadmins
add and remove them; each change is audited."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from enrollments.models import RetrainingRule
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record

from ..models import RetrainingExemption

REASON_MAX = RetrainingExemption._meta.get_field("reason").max_length


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code="invalid_exemption")})


def add_exemption(
    *,
    rule: RetrainingRule,
    user: User,
    actor: User,
    reason: str,
    until: datetime.date | None,
    today: datetime.date,
) -> RetrainingExemption:
    """Exempt `user` from `rule` until `until` (inclusive; None: for good). Raises ValidationError naming the field
    (code invalid_exemption) for a missing reason, a past date, a merged user or one already exempt."""
    require_superadmin(actor)
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("reason", "Give the reason for the exemption.")
    if len(reason) > REASON_MAX:
        raise _refuse("reason", f"The reason must be at most {REASON_MAX} characters.")
    if until is not None and until < today:
        raise _refuse("until", f"The last exempt day must be today ({today:%Y-%m-%d}) or later.")
    if user.merged_into_id:
        raise _refuse("user", f"{user.username} was merged into another user: exempt that user instead.")
    try:
        with transaction.atomic():
            exemption = RetrainingExemption.objects.create(
                rule=rule, user=user, reason=reason, until=until, created_by=actor
            )
            record(
                actor=actor,
                action="retraining_exemption.added",
                object_type="learning_plan",
                object_id=rule.learning_plan_id,
                details={
                    "rule_id": rule.pk,
                    "exemption_id": exemption.pk,
                    "user_id": user.pk,
                    "username": user.username,
                    "reason": reason,
                    "until": until.isoformat() if until else None,
                },
            )
    except IntegrityError:  # one exemption per (rule, user)
        raise _refuse("user", f"{user.display_name} is already exempt; remove that exemption first.") from None
    return exemption


def remove_exemption(*, exemption: RetrainingExemption, actor: User) -> bool:
    """Remove an exemption (the next run may select the learner again); False when it was already gone."""
    require_superadmin(actor)
    with transaction.atomic():
        deleted, _ = RetrainingExemption.objects.filter(pk=exemption.pk).delete()
        if not deleted:
            return False
        record(
            actor=actor,
            action="retraining_exemption.removed",
            object_type="learning_plan",
            object_id=exemption.rule.learning_plan_id,
            details={
                "rule_id": exemption.rule_id,
                "exemption_id": exemption.pk,
                "user_id": exemption.user_id,
                "reason": exemption.reason,
                "until": exemption.until.isoformat() if exemption.until else None,
            },
        )
    return True
