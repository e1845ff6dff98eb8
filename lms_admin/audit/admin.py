"""Audit events in the Django admin: support staff read the whole trail; nobody changes it."""

from django.contrib import admin

from lms_admin.accounts.admin import BigTableAdminMixin, ReadOnlyAdminMixin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "action", "=object_id")
    ordering = ("-id",)
