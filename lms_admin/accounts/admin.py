"""Django admin for users and manager links, and the admin conventions every app's admin uses.

Support staff (`is_staff`) see every model of the project read-only without any permission rows:
`StaffViewMixin` grants view access to active staff; changing still needs Django's model permissions
(superusers have them all), and frozen records never allow it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.functional import cached_property

from .models import Level, ManagerLink, User, UserStatus


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

    # SPEC §4.9: superadmins merge duplicate profiles; the action and the Merge users page share one service.
    actions = ["merge_users"]

    @admin.action(description="Merge selected users into one…", permissions=["merge"])
    def merge_users(self, request: HttpRequest, queryset):
        from enrollments.merge_views import admin_merge_users

        return admin_merge_users(self, request, queryset)

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return is_superadmin_request(request)


@admin.register(ManagerLink)
class ManagerLinkAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("manager", "employee", "manager_type")
    list_filter = ("manager_type",)
    search_fields = ("manager__username", "manager__last_name", "employee__username", "employee__last_name")
    autocomplete_fields = ("manager", "employee")
    list_select_related = ("manager", "employee")


# API tokens have their own module; importing it here registers them with the admin site.
from . import admin_tokens  # noqa: E402, F401
