"""`{% load archive_limits %}{% archive_limits as limits %}`: the selection limits of SPEC §4.5, for templates."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def archive_limits() -> dict[str, int]:
    return {
        "manual": settings.ARCHIVE_MAX_MANUAL_SELECTION,
        "select_all": settings.ARCHIVE_MAX_SELECT_ALL,
        "notify_warning": settings.ARCHIVE_NOTIFY_WARNING_THRESHOLD,
    }
