"""The live learning data: plans, courses, materials, enrollments, tracking and certificates."""

import uuid

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone


class EnrollmentStatus(models.IntegerChoices):
    ENROLLED = 0, "Enrolled"
    IN_PROGRESS = 1, "In progress"
    COMPLETED = 2, "Completed"


class CourseType(models.TextChoices):
    ELEARNING = "elearning", "E-learning"
    ILT = "ilt", "Instructor-led"
    WEBINAR = "webinar", "Webinar"


class TrackingStatus(models.TextChoices):
    NOT_ATTEMPTED = "not_attempted", "Not attempted"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class Course(models.Model):
    title = models.CharField(max_length=255)
    code = models.CharField(max_length=64, blank=True)
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    course_type = models.CharField(max_length=16, choices=CourseType.choices, default=CourseType.ELEARNING)
    language = models.CharField(max_length=8, default="en")

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TrainingMaterial(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="materials")
    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, default="document")
    position = models.PositiveIntegerField(default=0)
    # Set only when an admin marks the material as substantively changed (SPEC §13); typo fixes leave it alone.
    content_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["course", "position", "id"]

    def __str__(self) -> str:
        return self.title


class CertificateTemplate(models.Model):
    name = models.CharField(max_length=255)
    html = models.TextField(
        help_text="Django template; context: learner_name, plan_title, completed_on, credits, issued_on."
    )

    def __str__(self) -> str:
        return self.name


class LearningPlan(models.Model):
    title = models.CharField(max_length=255)
    code = models.CharField(max_length=64, blank=True)
    uid = models.UUIDField("unique ID", default=uuid.uuid4, unique=True, editable=False)
    language = models.CharField(max_length=8, default="en")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    validity_days = models.PositiveIntegerField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    credits = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    certificate_template = models.ForeignKey(
        CertificateTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="plans"
    )
    courses = models.ManyToManyField(Course, through="LearningPlanCourse", related_name="learning_plans")
    power_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="assigned_plans")
    # Kept current by the archive engine, in the same transaction as the snapshots it counts.
    archived_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("enrollments:plan_enrollments", args=[self.pk])


class LearningPlanCourse(models.Model):
    learning_plan = models.ForeignKey(LearningPlan, on_delete=models.CASCADE, related_name="plan_courses")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="plan_links")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["learning_plan", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["learning_plan", "course"], name="uniq_plan_course"),
        ]
        indexes = [models.Index(fields=["course", "learning_plan"], name="plancourse_course_idx")]


class LearningPlanEnrollment(models.Model):
    # Indexed by uniq_plan_enrollment (user, learning_plan): a second index would only slow writes.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_enrollments", db_index=False
    )
    # Indexed by lpe_plan_enrolled_idx (learning_plan, ...).
    learning_plan = models.ForeignKey(
        LearningPlan, on_delete=models.CASCADE, related_name="enrollments", db_index=False
    )
    enrolled_at = models.DateTimeField(default=timezone.now)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    validity_start = models.DateTimeField(null=True, blank=True)
    validity_end = models.DateTimeField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(choices=EnrollmentStatus.choices, default=EnrollmentStatus.ENROLLED)
    completed_at = models.DateTimeField(null=True, blank=True)
    round = models.PositiveIntegerField(default=1)
    # The last valid day, inclusive, of the learner's certification under the plan's retraining rule (SPEC §11).
    certified_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "learning_plan"], name="uniq_plan_enrollment"),
        ]
        indexes = [
            # The retraining due set and forecast: a range scan per plan. Status and user ride along so the
            # Compliance page counts a plan's states from the index alone (100,000 enrollments: no heap reads).
            models.Index(
                fields=["learning_plan", "certified_until"],
                include=["status", "user"],
                name="lpe_plan_certified_idx",
            ),
            # A plan's enrollments in id order (the Compliance list's default, newest first): without it the list
            # of the plan holding the oldest ids walked the whole table's primary key backwards (0.27 s at 1,000,000).
            models.Index(fields=["learning_plan", "id"], name="lpe_plan_id_idx"),
            # The active list's default order (newest first) and keyset pagination.
            models.Index(fields=["learning_plan", "-enrolled_at", "-id"], name="lpe_plan_enrolled_idx"),
            models.Index(fields=["learning_plan", "status", "-enrolled_at", "-id"], name="lpe_plan_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.learning_plan} (round {self.round})"


class CourseEnrollment(models.Model):
    # Indexed by uniq_course_enrollment (user, course).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_enrollments", db_index=False
    )
    # Indexed by ce_course_user_idx (course, user).
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    enrolled_at = models.DateTimeField(default=timezone.now)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    status = models.PositiveSmallIntegerField(choices=EnrollmentStatus.choices, default=EnrollmentStatus.ENROLLED)
    completed_at = models.DateTimeField(null=True, blank=True)
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # An admin's manual completion (courses without material); counts like material completion.
    manually_completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "course"], name="uniq_course_enrollment")]
        indexes = [models.Index(fields=["course", "user"], name="ce_course_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.course}"


class MaterialTracking(models.Model):
    # Indexed by uniq_material_tracking (user, material).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracking", db_index=False
    )
    # Indexed by tracking_material_user_idx (material, user).
    material = models.ForeignKey(TrainingMaterial, on_delete=models.CASCADE, related_name="tracking", db_index=False)
    status = models.CharField(max_length=16, choices=TrackingStatus.choices, default=TrackingStatus.NOT_ATTEMPTED)
    completed_at = models.DateTimeField(null=True, blank=True)
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "material"], name="uniq_material_tracking")]
        indexes = [models.Index(fields=["material", "user"], name="tracking_material_user_idx")]


def certificate_upload_to(instance: "IssuedCertificate", filename: str) -> str:
    return f"certificates/{instance.learning_plan_id}/{filename}"


class IssuedCertificate(models.Model):
    """The live certificate of a (user, plan): the current round's, at most one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certificates")
    learning_plan = models.ForeignKey(LearningPlan, on_delete=models.CASCADE, related_name="certificates")
    template = models.ForeignKey(CertificateTemplate, null=True, blank=True, on_delete=models.SET_NULL)
    issued_at = models.DateTimeField(default=timezone.now)
    file = models.FileField(upload_to=certificate_upload_to, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "learning_plan"], name="uniq_live_certificate"),
        ]

    def __str__(self) -> str:
        return f"Certificate of {self.user} for {self.learning_plan}"


class ResetTracking(models.TextChoices):
    """The tracking option of an archive: keep it, reset everything, or reset only what changed (SPEC §13)."""

    KEEP = "false", "Keep tracking"
    ALL = "true", "Reset everything"
    CHANGED = "changed", "Reset only what changed"


RESET_TRACKING_VALUES = {ResetTracking.KEEP.value: False, ResetTracking.ALL.value: True, "changed": "changed"}


def reset_tracking_value(value):
    """SPEC §13's value of a tracking option — False, True or "changed" — from itself or its stored text."""
    if isinstance(value, str):
        return RESET_TRACKING_VALUES.get(value.strip().lower(), value)
    return value


class ResetTrackingAttribute(models.query_utils.DeferredAttribute):
    """A model's `reset_tracking` always holds SPEC §13's value, whatever was assigned (a form's text, a bool)."""

    def __set__(self, instance, value) -> None:
        instance.__dict__[self.field.attname] = reset_tracking_value(value)


class ResetTrackingField(models.CharField):
    """An archive's tracking option, stored as its text ("false", "true", "changed") and read as the values the
    API and the services speak — False, True or "changed" — so a record whose tracking was kept says False."""

    descriptor_class = ResetTrackingAttribute

    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = 8
        kwargs["choices"] = [
            (False, ResetTracking.KEEP.label),
            (True, ResetTracking.ALL.label),
            ("changed", ResetTracking.CHANGED.label),
        ]
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return reset_tracking_value(value)

    def to_python(self, value):
        return reset_tracking_value(value)

    def get_prep_value(self, value):
        return reset_tracking_text(value)

    def run_validators(self, value):
        super().run_validators(reset_tracking_text(value))  # the text's length, not a bool's

    def formfield(self, **kwargs):
        # Forms speak the stored text ("true", "false", "changed"), as the pages' own option fields do.
        field = super().formfield(**{"choices_form_class": ResetTrackingChoiceField, **kwargs})
        field.choices = [*([("", "---------")] if self.blank else []), *ResetTracking.choices]
        return field


def reset_tracking_text(value):
    """The stored text of a tracking option ("false", "true", "changed") from its value or its text."""
    if value is None:
        return None
    value = reset_tracking_value(value)
    if isinstance(value, bool):
        return ResetTracking.ALL.value if value else ResetTracking.KEEP.value
    return value


class ResetTrackingChoiceField(forms.TypedChoiceField):
    """A form's tracking option: the choices' text in the page, the value (False, True, "changed") once cleaned."""

    def prepare_value(self, value):
        return reset_tracking_text(value)


class RetrainingRule(models.Model):
    """When a plan's completions expire, and how the learners are archived and re-enrolled then (one per plan)."""

    class Anchor(models.TextChoices):
        COMPLETION = "completion", "From the completion date"
        CALENDAR = "calendar", "On a calendar date"

    learning_plan = models.OneToOneField(LearningPlan, on_delete=models.CASCADE, related_name="retraining_rule")
    valid_for_months = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(120)])
    anchor = models.CharField(max_length=16, choices=Anchor.choices, default=Anchor.COMPLETION)
    month = models.PositiveSmallIntegerField(null=True, blank=True)
    day = models.PositiveSmallIntegerField(null=True, blank=True)
    min_active_days = models.PositiveSmallIntegerField(null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(default=30, validators=[MaxValueValidator(365)])
    reset_tracking = ResetTrackingField(default=True)
    notify = models.BooleanField(default=True)
    user_statuses = models.JSONField(default=list, help_text="User statuses whose learners a run archives.")
    paused = models.BooleanField(default=False)
    start_after = models.DateField(null=True, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Retraining rule #{self.pk} of {self.learning_plan}"

    @property
    def archiver_name(self) -> str:
        """Who a run's snapshots say archived them: the rule, not a person (SPEC §11)."""
        return f"retraining rule #{self.pk}"
