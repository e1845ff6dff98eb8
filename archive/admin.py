"""Archived records, stored certificates and archive jobs in the Django admin: all read-only.

Deleting archived records is the one change allowed, for superadmins only, through the same service as the
Archived view (counter, stored certificate files and audit trail kept right).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from lms_admin.accounts.admin import BigTableAdminMixin, ReadOnlyAdminMixin, StaffViewMixin, is_superadmin_request
from lms_admin.accounts.admin import UserAdmin as AccountsUserAdmin
from lms_admin.accounts.models import User

from .models import (
    ArchivedCertificate,
    ArchivedCourseEnrollment,
    ArchivedPlanEnrollment,
    ArchiveImport,
    ArchiveImportRow,
    ArchiveJob,
    ArchiveJobItem,
    RetrainingExemption,
    RetrainingRun,
)
from .services import delete_archived_enrollments
from .services.exemptions import add_exemption, remove_exemption
from .services.retraining import utc_today
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


@admin.register(ArchiveImport)
class ArchiveImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Uploaded files (SPEC §12): up to 50,000 rows each, linked (a filtered, paginated list), not inlined."""

    list_display = (
        "id",
        "file_name",
        "uploaded_by_username",
        "status",
        "total_rows",
        "valid_rows",
        "error_rows",
        "created_at",
        "submitted_at",
    )
    list_filter = ("status", "mode", "reset_tracking", "notify")
    search_fields = ("file_name", "uploaded_by_username", "=id")
    exclude = ("jobs",)
    readonly_fields = ("report_link", "rows_link", "jobs_link")

    @admin.display(description="Report")
    def report_link(self, obj: ArchiveImport) -> str:
        return format_html('<a href="{}">The import\u2019s report page</a>', obj.get_absolute_url())

    @admin.display(description="Rows")
    def rows_link(self, obj: ArchiveImport) -> str:
        url = reverse("admin:archive_archiveimportrow_changelist") + f"?archive_import__id__exact={obj.pk}"
        return format_html('<a href="{}">{} rows, {} with an error</a>', url, obj.total_rows, obj.error_rows)

    @admin.display(description="Jobs")
    def jobs_link(self, obj: ArchiveImport) -> str:
        url = reverse("admin:archive_archivejob_changelist") + f"?imports__id__exact={obj.pk}"
        return format_html('<a href="{}">The import\u2019s archive jobs</a>', url)


@admin.register(ArchiveImportRow)
class ArchiveImportRowAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("archive_import", "line", "user_key", "plan_key", "enrollment_id", "round", "error", "message")
    list_filter = ("error",)
    search_fields = ("=archive_import__id", "user_key", "plan_key")
    list_select_related = ("archive_import",)
    raw_id_fields = ("archive_import", "user", "learning_plan")
    ordering = ("archive_import", "line")


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


# --- Retraining (SPEC §11): exemptions read-only for staff who are not superadmins, runs read-only for everyone.
# Superadmins add and remove exemptions through the same service as the Retraining tab (checked and audited).


EXEMPTION_FIELDS = ("rule", "user", "reason", "until")


class RetrainingExemptionForm(forms.ModelForm):
    class Meta:
        model = RetrainingExemption
        fields = EXEMPTION_FIELDS

    actor: User | None = None  # set per request by the admin (get_form)

    def clean(self) -> dict:
        """Asks the service itself, in a savepoint rolled back at once: the form refuses exactly what it would."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            with transaction.atomic():
                fields = {name: cleaned.get(name) for name in EXEMPTION_FIELDS}
                add_exemption(actor=self.actor, today=utc_today(), **fields)
                raise _TryOnly
        except _TryOnly:
            pass
        except ValidationError as refused:
            for field, messages in refused.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class _TryOnly(Exception):
    """Rolls back the savepoint of a trial call."""


@admin.register(RetrainingExemption)
class RetrainingExemptionAdmin(StaffViewMixin, admin.ModelAdmin):
    form = RetrainingExemptionForm
    list_display = ("user", "rule", "reason", "until", "created_by", "created_at")
    list_filter = (("until", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "user__last_name", "rule__learning_plan__title", "rule__learning_plan__code")
    list_select_related = ("user", "rule__learning_plan", "created_by")
    autocomplete_fields = ("rule",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_by", "created_at")

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})  # this request's form, with its superadmin

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superadmin_request(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # remove the exemption and add another: each step is audited

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_superadmin_request(request)

    def save_model(self, request: HttpRequest, obj: RetrainingExemption, form, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in EXEMPTION_FIELDS}
        created = add_exemption(actor=request.user, today=utc_today(), **fields)
        obj.pk, obj.created_by, obj.created_at = created.pk, created.created_by, created.created_at

    def delete_model(self, request: HttpRequest, obj: RetrainingExemption) -> None:
        remove_exemption(exemption=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for exemption in queryset.select_related("rule"):
            remove_exemption(exemption=exemption, actor=request.user)


@admin.register(RetrainingRun)
class RetrainingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "rule", "run_date", "status", "selected", "archived", "skipped", "finished_at")
    list_filter = ("status", "run_date")
    search_fields = ("=id", "rule__learning_plan__title", "rule__learning_plan__code")
    list_select_related = ("rule__learning_plan",)
    exclude = ("pairs",)  # up to 10,000 frozen pairs: counted below, not printed
    readonly_fields = ("pairs_count", "jobs_link")

    @admin.display(description="Frozen pairs")
    def pairs_count(self, obj: RetrainingRun) -> int:
        return len(obj.pairs or [])

    @admin.display(description="Jobs")
    def jobs_link(self, obj: RetrainingRun) -> str:
        url = reverse("admin:archive_archivejob_changelist") + f"?retraining_run__id__exact={obj.pk}"
        return format_html('<a href="{}">The run\u2019s archive jobs</a>', url)
