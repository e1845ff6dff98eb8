"""Role helpers (SPEC §2): every visibility module is built on these."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from lms_admin.web.reads import row_exists

from .models import Level, ManagerLink, User


def is_superadmin(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.level == Level.SUPERADMIN)


def is_power_user(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.level == Level.POWER_USER)


def direct_report_ids(user) -> QuerySet:
    """Ids of the people `user` manages directly (first level only), as a subquery."""
    return ManagerLink.objects.filter(manager_id=user.pk).values("employee_id")


def manages_anyone(user) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    cached = getattr(user, "_manages_anyone", None)
    if cached is None:
        cached = row_exists(ManagerLink, "manager", user.pk)  # every page's navigation asks
        user._manages_anyone = cached
    return cached


def has_admin_role(user) -> bool:
    """Any role that gives access to an admin page at all (SPEC §2's 403 line)."""
    return is_superadmin(user) or is_power_user(user) or manages_anyone(user)


def require_admin_role(user) -> None:
    if not has_admin_role(user):
        raise PermissionDenied("Your account has no administration role.")


def require_superadmin(user) -> None:
    if not is_superadmin(user):
        raise PermissionDenied("Only superadmins may do this.")


__all__ = [
    "User",
    "direct_report_ids",
    "has_admin_role",
    "is_power_user",
    "is_superadmin",
    "manages_anyone",
    "require_admin_role",
    "require_superadmin",
]
