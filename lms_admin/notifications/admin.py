"""Notification rules (configurable) and the outbox (read-only) in the Django admin."""

from django.contrib import admin

from lms_admin.accounts.admin import BigTableAdminMixin, ReadOnlyAdminMixin, StaffViewMixin

from .models import NotificationRule, OutboxMessage


@admin.register(NotificationRule)
class NotificationRuleAdmin(StaffViewMixin, admin.ModelAdmin):
    """One rule per event, created by a data migration: they are switched and edited, not added or removed."""

    list_display = ("event", "enabled", "to_learner", "to_managers", "to_superadmins", "subject_template")
    list_editable = ("enabled", "to_learner", "to_managers", "to_superadmins")
    list_filter = ("enabled",)
    search_fields = ("event", "subject_template")
    readonly_fields = ("event",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class SentFilter(admin.SimpleListFilter):
    title = "sent"
    parameter_name = "sent"

    def lookups(self, request, model_admin):
        return (("yes", "Sent"), ("no", "Not sent yet"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(sent_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(sent_at__isnull=True)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("id", "event", "recipient_email", "created_at", "sent_at", "attempts", "retry_after", "last_error")
    list_filter = (SentFilter, "event")
    search_fields = ("dedupe_key", "recipient_email")
    ordering = ("-id",)
