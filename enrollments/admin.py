"""Live learning data in the Django admin.

Catalogue rows (courses, materials, plans, templates) are edited here. Enrollments, course enrollments,
tracking and certificates are computed by the services (status function, certificates, archiving), so the
admin shows them read-only: editing them by hand would bypass the status rules.
"""

from django.contrib import admin

from lms_admin.accounts.admin import BigTableAdminMixin, ReadOnlyAdminMixin, StaffViewMixin

from .models import (
    CertificateTemplate,
    Course,
    CourseEnrollment,
    IssuedCertificate,
    LearningPlan,
    LearningPlanCourse,
    LearningPlanEnrollment,
    MaterialTracking,
    TrainingMaterial,
)


class TrainingMaterialInline(admin.TabularInline):
    model = TrainingMaterial
    fields = ("position", "title", "kind")
    extra = 0


@admin.register(Course)
class CourseAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("title", "code", "course_type", "language", "uid")
    list_filter = ("course_type", "language")
    search_fields = ("title", "code", "=uid")
    inlines = (TrainingMaterialInline,)


@admin.register(TrainingMaterial)
class TrainingMaterialAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("title", "course", "kind", "position")
    list_filter = ("kind",)
    search_fields = ("title", "course__title", "course__code")
    autocomplete_fields = ("course",)
    list_select_related = ("course",)


@admin.register(CertificateTemplate)
class CertificateTemplateAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class LearningPlanCourseInline(admin.TabularInline):
    model = LearningPlanCourse
    fields = ("position", "course")
    autocomplete_fields = ("course",)
    extra = 0


@admin.register(LearningPlan)
class LearningPlanAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("title", "code", "language", "published_at", "validity_days", "credits", "archived_count")
    list_filter = ("language", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "code", "=uid")
    autocomplete_fields = ("certificate_template", "power_users")
    readonly_fields = ("uid", "archived_count", "updated_at")
    inlines = (LearningPlanCourseInline,)


@admin.register(LearningPlanEnrollment)
class LearningPlanEnrollmentAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("user", "learning_plan", "status", "round", "enrolled_at", "validity_end", "completed_at")
    list_filter = ("status", "learning_plan")
    search_fields = ("user__username", "user__email", "user__last_name", "=id")
    list_select_related = ("user", "learning_plan")
    raw_id_fields = ("user", "learning_plan", "enrolled_by")
    ordering = ("-id",)


@admin.register(CourseEnrollment)
class CourseEnrollmentAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("user", "course", "status", "enrolled_at", "completed_at", "manually_completed_at", "score")
    list_filter = ("status",)
    search_fields = ("user__username", "user__email", "course__title", "course__code")
    list_select_related = ("user", "course")
    raw_id_fields = ("user", "course", "enrolled_by")
    ordering = ("-id",)


@admin.register(MaterialTracking)
class MaterialTrackingAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("user", "material", "status", "completed_at", "score", "updated_at")
    list_filter = ("status",)
    search_fields = ("user__username", "material__title", "material__course__title")
    list_select_related = ("user", "material")
    raw_id_fields = ("user", "material")
    ordering = ("-id",)


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(ReadOnlyAdminMixin, BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("user", "learning_plan", "issued_at", "rendered_at", "file")
    list_filter = (("rendered_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "learning_plan__title", "learning_plan__code")
    list_select_related = ("user", "learning_plan")
    raw_id_fields = ("user", "learning_plan", "template")
    ordering = ("-id",)
