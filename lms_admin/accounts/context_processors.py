"""Role flags for the navigation."""

from . import roles


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_is_superadmin": roles.is_superadmin(user),
        "nav_sees_plans": roles.is_superadmin(user) or roles.is_power_user(user),
        "nav_manages_anyone": roles.manages_anyone(user),
    }
