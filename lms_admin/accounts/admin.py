"""Django admin for users and manager links, and the admin conventions every app's admin uses.

Support staff (`is_staff`) see every model of the project read-only without any permission rows:
`StaffViewMixin` grants view access to active staff; changing still needs Django's model permissions
(superusers have them all), and frozen records never allow it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.functional import cached_property

from .models import ApiToken, Level, ManagerLink, User, UserStatus
from .tokens import revoke_api_tokens


def is_support_staff(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_staff)


class StaffViewMixin:
    """Active staff may look at the model (and see it on the admin index) without permission rows."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_support_staff(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_support_staff(request) or super().has_view_permission(request, obj)


class ReadOnlyAdminMixin(StaffViewMixin):
    """Frozen or derived records: nobody adds or changes them here; deleting is decided per model."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def is_superadmin_request(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.level == Level.SUPERADMIN)


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows: on tables of millions an exact COUNT(*) takes seconds."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap + 1].count()


class BigTableAdminMixin:
    """Changelist settings for tables that grow to millions of rows."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


@admin.register(User)
class UserAdmin(StaffViewMixin, DjangoUserAdmin):
    list_display = (
        "username",
        "display_name",
        "email",
        "level",
        "status_display",
        "expires_on",
        "language",
        "is_staff",
        "last_login",
    )
    list_filter = ("level", "is_active", "is_staff", "is_superuser", "language")
    search_fields = ("username", "first_name", "last_name", "email")
    raw_id_fields = ("merged_into",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("LMS", {"fields": ("level", "language", "expires_on", "merged_into")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("LMS", {"classes": ("wide",), "fields": ("level", "language", "expires_on")}),
    )

    @admin.display(description="Status")
    def status_display(self, obj: User) -> str:
        return UserStatus(obj.status).label


@admin.register(ManagerLink)
class ManagerLinkAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("manager", "employee", "manager_type")
    list_filter = ("manager_type",)
    search_fields = ("manager__username", "manager__last_name", "employee__username", "employee__last_name")
    autocomplete_fields = ("manager", "employee")
    list_select_related = ("manager", "employee")


@admin.register(ApiToken)
class ApiTokenAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ["key_prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["key_prefix", "name", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are issued by `manage.py create_api_token`, which shows the token once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = revoke_api_tokens(queryset)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
