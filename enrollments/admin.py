"""Live learning data in the Django admin.

Catalogue rows (courses, materials, plans, templates) are edited here. Enrollments, course enrollments,
tracking and certificates are computed by the services (status function, certificates, archiving), so the
admin shows them read-only: editing them by hand would bypass the status rules. Retraining rules are read-only
for staff who are not superadmins; a superadmin's edit goes through the rule's service (SPEC §11).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from lms_admin.accounts.admin import BigTableAdminMixin, ReadOnlyAdminMixin, StaffViewMixin, is_superadmin_request
from lms_admin.accounts.models import UserStatus

from .content import mark_materials_changed
from .models import (
    CertificateTemplate,
    Course,
    CourseEnrollment,
    IssuedCertificate,
    LearningPlan,
    LearningPlanCourse,
    LearningPlanEnrollment,
    MaterialTracking,
    RetrainingRule,
    TrainingMaterial,
)
from .retraining import RULE_DEFAULTS, clean_rule, delete_rule, save_rule


class TrainingMaterialForm(forms.ModelForm):
    """A material's edit: a typo fix leaves `content_changed_at` alone; only the explicit checkbox sets it."""

    substantive_change = forms.BooleanField(
        required=False,
        label="Substantive change",
        help_text="Tick when the content changed in substance: learners who completed it before now have it to "
        "redo when an archive resets only what changed.",
    )

    class Meta:
        model = TrainingMaterial
        fields = ("course", "position", "title", "kind")

    def save(self, commit: bool = True) -> TrainingMaterial:
        if self.cleaned_data.get("substantive_change"):
            self.instance.content_changed_at = timezone.now()
        return super().save(commit=commit)


class TrainingMaterialInline(admin.TabularInline):
    model = TrainingMaterial
    form = TrainingMaterialForm
    fields = ("position", "title", "kind", "substantive_change", "content_changed_at")
    readonly_fields = ("content_changed_at",)
    extra = 0


@admin.register(Course)
class CourseAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ("title", "code", "course_type", "language", "uid")
    list_filter = ("course_type", "language")
    search_fields = ("title", "code", "=uid")
    inlines = (TrainingMaterialInline,)


@admin.register(TrainingMaterial)
class TrainingMaterialAdmin(StaffViewMixin, admin.ModelAdmin):
    form = TrainingMaterialForm
    fields = ("course", "position", "title", "kind", "substantive_change", "content_changed_at")
    readonly_fields = ("content_changed_at",)
    list_display = ("title", "course", "kind", "position", "content_changed_at")
    list_filter = ("kind", ("content_changed_at", admin.EmptyFieldListFilter))
    actions = ("mark_substantively_changed",)
    search_fields = ("title", "course__title", "course__code")
    autocomplete_fields = ("course",)
    list_select_related = ("course",)

    @admin.action(description="Mark selected materials as substantively changed", permissions=["change"])
    def mark_substantively_changed(self, request: HttpRequest, queryset) -> None:
        marked = mark_materials_changed(queryset.values_list("pk", flat=True))
        self.message_user(request, f"{marked} material{'s' if marked != 1 else ''} marked as substantively changed.")


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


class RetrainingRuleForm(forms.ModelForm):
    """The rule's fields, judged by `clean_rule` with the words the Retraining tab uses."""

    user_statuses = forms.MultipleChoiceField(
        choices=UserStatus.choices, widget=forms.CheckboxSelectMultiple, initial=[UserStatus.ACTIVE]
    )

    class Meta:
        model = RetrainingRule
        fields = ("learning_plan", *RULE_DEFAULTS)

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:  # a field already refused: judging the rest against defaults would only confuse
            return cleaned
        try:
            self.rule_data = clean_rule({name: cleaned.get(name) for name in RULE_DEFAULTS})
        except ValidationError as refused:
            for field, messages in refused.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


@admin.register(RetrainingRule)
class RetrainingRuleAdmin(StaffViewMixin, admin.ModelAdmin):
    form = RetrainingRuleForm
    list_display = (
        "learning_plan",
        "valid_for_months",
        "anchor",
        "window_days",
        "reset_tracking",
        "paused",
        "start_after",
        "saved_by",
        "saved_at",
    )
    list_filter = ("anchor", "paused", "reset_tracking")
    search_fields = ("learning_plan__title", "learning_plan__code")
    list_select_related = ("learning_plan", "saved_by")
    autocomplete_fields = ("learning_plan",)
    readonly_fields = ("saved_by", "saved_at")

    def get_readonly_fields(self, request: HttpRequest, obj: RetrainingRule | None = None) -> tuple:
        # A rule belongs to its plan: moving it to another plan would leave the first plan's dates behind.
        return (*self.readonly_fields, "learning_plan") if obj is not None else self.readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superadmin_request(request)

    def has_change_permission(self, request: HttpRequest, obj: RetrainingRule | None = None) -> bool:
        return is_superadmin_request(request)

    def has_delete_permission(self, request: HttpRequest, obj: RetrainingRule | None = None) -> bool:
        return is_superadmin_request(request)

    def save_model(self, request: HttpRequest, obj: RetrainingRule, form: RetrainingRuleForm, change: bool) -> None:
        # Through the service: it dates the plan's Completed rounds and writes the audit event.
        saved = save_rule(learning_plan=obj.learning_plan, actor=request.user, data=form.rule_data).rule
        obj.pk, obj.saved_by, obj.saved_at = saved.pk, saved.saved_by, saved.saved_at

    def delete_model(self, request: HttpRequest, obj: RetrainingRule) -> None:
        delete_rule(learning_plan=obj.learning_plan, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for rule in queryset.select_related("learning_plan"):  # each clears its own plan's dates, in batches
            delete_rule(learning_plan=rule.learning_plan, actor=request.user)

    def get_deleted_objects(self, objs, request: HttpRequest):
        # Runs and exemptions go with their rule; they are read-only here, which must not block the rule's deletion.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected
