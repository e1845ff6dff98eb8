"""Archived records, stored certificates and archive jobs in the Django admin: all read-only.

Deleting archived records is the one change allowed, for superadmins only, through the same service as the
Archived view (counter, stored certificate files and audit trail kept right).
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from lms_admin.accounts.admin import BigTableAdminMixin, ReadOnlyAdminMixin, is_superadmin_request
from lms_admin.accounts.admin import UserAdmin as AccountsUserAdmin
from lms_admin.accounts.models import User

from .models import (
    ArchivedCertificate,
    ArchivedCourseEnrollment,
    ArchivedPlanEnrollment,
    ArchiveJob,
    ArchiveJobItem,
)
from .services import delete_archived_enrollments
from .views.merge import admin_merge_users


class SuperadminDeleteMixin(ReadOnlyAdminMixin):
    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_superadmin_request(request)


class ArchivedCourseEnrollmentInline(admin.TabularInline):
    model = ArchivedCourseEnrollment
    fields = (
        "position",
        "course_title",
        "course_code",
        "course_type",
        "status",
        "enrolled_at",
        "completed_at",
        "score",
        "materials_completed",
        "materials_total",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ArchivedPlanEnrollment)
class ArchivedPlanEnrollmentAdmin(SuperadminDeleteMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = (
        "archived_at",
        "user_display_name",
        "user_username",
        "plan_title",
        "plan_status",
        "round",
        "mode",
        "archived_by_username",
    )
    list_filter = ("mode", "plan_status", "user_status", "reset_tracking", "notify")
    search_fields = (
        "user_username",
        "user_display_name",
        "user_last_name",
        "plan_title",
        "plan_code",
        "=enrollment_id",
    )
    ordering = ("-id",)
    inlines = (ArchivedCourseEnrollmentInline,)
    fieldsets = (
        (
            "Archive",
            {
                "fields": (
                    "archived_at",
                    "archived_by",
                    "archived_by_username",
                    "mode",
                    "reset_tracking",
                    "notify",
                    "job",
                    "enrollment_id",
                    "round",
                )
            },
        ),
        (
            "User",
            {
                "fields": (
                    "user",
                    "user_number",
                    "user_display_name",
                    "user_username",
                    "user_first_name",
                    "user_last_name",
                    "user_language",
                    "user_last_login",
                    "user_expires_on",
                    "user_active",
                    "user_suspended",
                    "user_level",
                    "user_status",
                )
            },
        ),
        (
            "Learning plan",
            {
                "fields": (
                    "learning_plan",
                    "plan_number",
                    "plan_title",
                    "plan_code",
                    "plan_uid",
                    "plan_status",
                    "plan_language",
                    "plan_created_at",
                    "plan_published_at",
                    "plan_updated_at",
                    "plan_validity_days",
                    "plan_start_date",
                    "plan_end_date",
                    "plan_course_list",
                    "plan_credits",
                    "plan_certificate_template_number",
                    "certificate",
                    "certificate_sha256",
                    "certificate_assigned_at",
                )
            },
        ),
        (
            "Enrollment",
            {
                "fields": (
                    "enrolled_at",
                    "enrolled_by",
                    "enrolled_by_username",
                    "enrollment_updated_at",
                    "validity_start",
                    "validity_end",
                    "enrollment_status",
                    "completed_at",
                )
            },
        ),
    )

    def delete_model(self, request: HttpRequest, obj: ArchivedPlanEnrollment) -> None:
        delete_archived_enrollments(archives=[obj], actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        delete_archived_enrollments(archives=queryset, actor=request.user)


@admin.register(ArchivedCourseEnrollment)
class ArchivedCourseEnrollmentAdmin(SuperadminDeleteMixin, BigTableAdminMixin, admin.ModelAdmin):
    """Listed for support; deleted only together with their plan snapshot (a superadmin deleting that)."""

    list_display = ("course_title", "course_code", "status", "completed_at", "materials_completed", "materials_total")
    list_filter = ("status", "course_type")
    search_fields = ("course_title", "course_code", "=plan_archive__id")
    raw_id_fields = ("plan_archive", "course")
    ordering = ("-id",)
    actions = None

    def delete_view(self, request: HttpRequest, object_id, extra_context=None):
        # Course snapshots go only with their plan snapshot; the permission above exists for that cascade.
        raise PermissionDenied("Delete the archived plan enrollment instead.")

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "show_delete": False})


@admin.register(ArchivedCertificate)
class ArchivedCertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("sha256", "size", "created_at", "file")
    search_fields = ("=sha256",)
    ordering = ("-id",)


@admin.register(ArchiveJob)
class ArchiveJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Jobs may hold 10,000 items: they are linked (a filtered, paginated list), not inlined."""

    list_display = (
        "id",
        "learning_plan_title",
        "mode",
        "status",
        "progress_display",
        "requested_by_username",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "mode", "reset_tracking", "notify", "select_all")
    search_fields = ("learning_plan_title", "requested_by_username", "=id")
    list_select_related = ("learning_plan",)
    readonly_fields = ("items_link",)

    @admin.display(description="Progress")
    def progress_display(self, obj: ArchiveJob) -> str:
        return f"{obj.processed}/{obj.total} ({obj.progress}%)"

    @admin.display(description="Items")
    def items_link(self, obj: ArchiveJob) -> str:
        url = reverse("admin:archive_archivejobitem_changelist") + f"?job__id__exact={obj.pk}"
        return format_html('<a href="{}">{} items, per outcome</a>', url, obj.total)


@admin.register(ArchiveJobItem)
class ArchiveJobItemAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("job", "position", "enrollment_id", "round", "outcome", "archive_id", "message")
    list_filter = ("outcome",)
    search_fields = ("=enrollment_id", "=job__id")
    list_select_related = ("job",)
    raw_id_fields = ("job",)
    ordering = ("job", "position")


# SPEC §4.9: superadmins merge duplicate profiles. Merging moves live enrollments and leaves archives where
# they are, so it belongs to this app, which sees both; it adds its action to the accounts app's user admin.
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(AccountsUserAdmin):
    actions = ["merge_users"]

    @admin.action(description="Merge selected users into one…", permissions=["merge"])
    def merge_users(self, request: HttpRequest, queryset):
        return admin_merge_users(self, request, queryset)

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return is_superadmin_request(request)
