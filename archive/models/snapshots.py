"""Archived plan enrollments (frozen snapshots), their course snapshots and stored certificates (SPEC §4.4)."""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Value
from django.db.models.functions import Concat, Upper
from django.urls import reverse
from django.utils import timezone

from enrollments.models import EnrollmentStatus, ResetTrackingField

from .choices import ArchiveMode, Trigger, ValidityState
from .content import PlanContentVersion
from .jobs import ArchiveJob


class ArchivedCertificate(models.Model):
    """A certificate PDF in content-addressed storage: one file per distinct content."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to="archive/certificates/", max_length=255)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256


class ArchivedPlanEnrollment(models.Model):
    """The frozen snapshot of one plan enrollment at one round (SPEC §4.4). Never updated."""

    # Archive
    archived_at = models.DateTimeField(default=timezone.now)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_by_username = models.CharField(max_length=150)
    mode = models.CharField(max_length=16, choices=ArchiveMode.choices)
    reset_tracking = ResetTrackingField()
    notify = models.BooleanField()
    # The plan's content when archived (SPEC §13); null for records archived before it was recorded.
    content_version = models.ForeignKey(
        PlanContentVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="archives"
    )
    job = models.ForeignKey(ArchiveJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="archives")
    enrollment_id = models.BigIntegerField(help_text="Id of the live enrollment archived (a copy).")
    round = models.PositiveIntegerField()
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.MANUAL, db_default=Trigger.MANUAL)

    # User (live reference + frozen copies). Indexed by ape_user_idx (user, -archived_at).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="archived_plan_enrollments",
        db_index=False,
    )
    user_number = models.BigIntegerField("user ID")
    user_display_name = models.CharField(max_length=301)
    user_language = models.CharField(max_length=8)
    user_username = models.CharField(max_length=150)
    user_first_name = models.CharField(max_length=150)
    user_last_name = models.CharField(max_length=150)
    user_last_login = models.DateTimeField(null=True, blank=True)
    user_expires_on = models.DateField(null=True, blank=True)
    user_active = models.BooleanField(help_text="The user's status was active.")
    user_suspended = models.BooleanField(help_text="The user was deactivated (is_active off).")
    user_level = models.CharField(max_length=16)
    user_status = models.CharField(max_length=16, help_text="active, deactivated or expired at archive time.")

    # Learning plan (live reference + frozen copies). Indexed by ape_plan_archived_idx (learning_plan, ...).
    learning_plan = models.ForeignKey(
        "enrollments.LearningPlan",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="archived_enrollments",
        db_index=False,
    )
    plan_number = models.BigIntegerField("learning plan ID")
    plan_title = models.CharField(max_length=255)
    plan_code = models.CharField(max_length=64)
    plan_uid = models.UUIDField("learning plan unique ID")
    plan_status = models.PositiveSmallIntegerField(choices=EnrollmentStatus.choices)
    plan_language = models.CharField(max_length=8)
    plan_created_at = models.DateTimeField()
    plan_published_at = models.DateTimeField(null=True, blank=True)
    plan_updated_at = models.DateTimeField()
    plan_validity_days = models.PositiveIntegerField(null=True, blank=True)
    plan_start_date = models.DateField(null=True, blank=True)
    plan_end_date = models.DateField(null=True, blank=True)
    plan_course_list = models.TextField(blank=True)
    plan_credits = models.DecimalField(max_digits=7, decimal_places=2)
    plan_certificate_template_number = models.BigIntegerField("certificate template ID", null=True, blank=True)
    certificate = models.ForeignKey(
        ArchivedCertificate, null=True, blank=True, on_delete=models.PROTECT, related_name="archives"
    )
    certificate_sha256 = models.CharField(max_length=64, blank=True)
    certificate_assigned_at = models.DateTimeField(null=True, blank=True)
    # A certificate issued but not yet rendered when the enrollment was archived (SPEC §4.10): the certificates
    # queue renders it from this record's frozen data, then sets `certificate` and its sha256 — once.
    certificate_pending = models.BooleanField(default=False, db_default=False)
    certificate_pending_template_number = models.BigIntegerField(null=True, blank=True)

    # Enrollment
    enrolled_at = models.DateTimeField()
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrolled_by_username = models.CharField(max_length=150, blank=True)
    enrollment_updated_at = models.DateTimeField()
    validity_start = models.DateTimeField(null=True, blank=True)
    validity_end = models.DateTimeField(null=True, blank=True)
    enrollment_status = models.CharField(max_length=16, choices=ValidityState.choices)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The round's last valid day under the plan's retraining rule (SPEC §11); a new enrollment of the learner
    # in the plan starts its certification from the latest Completed round's date.
    certified_until = models.DateField(null=True, blank=True)
    # The frozen username, first and last name in capitals, as the Archived view's search matches them (a term never
    # spans two names: terms are split on spaces). Stored, so a search tests a column instead of computing upper()
    # per row, which was two thirds of a search's cost; trigram-indexed (ape_names_trgm) and carried in
    # ape_plan_archived_idx, so a newest-first walk of a plan tests names without reading the table.
    search_names = models.GeneratedField(
        expression=Upper(Concat("user_username", Value(" "), "user_first_name", Value(" "), "user_last_name")),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-archived_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment_id", "round"], name="uniq_archive_enrollment_round"),
        ]
        indexes = [
            models.Index(
                fields=["learning_plan", "-archived_at", "-id"], include=["search_names"], name="ape_plan_archived_idx"
            ),
            GinIndex(fields=["search_names"], opclasses=["gin_trgm_ops"], name="ape_names_trgm"),
            models.Index(fields=["user", "-archived_at"], name="ape_user_idx"),
            models.Index(fields=["learning_plan", "archived_by", "-archived_at", "-id"], name="ape_plan_by_idx"),
            models.Index(fields=["learning_plan", "user_status", "-archived_at", "-id"], name="ape_plan_ustatus_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_display_name} in {self.plan_title} (round {self.round})"

    def get_absolute_url(self) -> str:
        return reverse("archive:archived_detail", args=[self.pk])


class ArchivedCourseEnrollment(models.Model):
    """A course enrollment as it was when its plan enrollment was archived."""

    plan_archive = models.ForeignKey(
        ArchivedPlanEnrollment, on_delete=models.CASCADE, related_name="course_enrollments"
    )
    course = models.ForeignKey("enrollments.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    course_number = models.BigIntegerField("course ID")
    course_title = models.CharField(max_length=255)
    course_code = models.CharField(max_length=64)
    course_uid = models.UUIDField()
    course_type = models.CharField(max_length=16)
    position = models.PositiveIntegerField()
    enrolled_at = models.DateTimeField()
    enrolled_by_username = models.CharField(max_length=150, blank=True)
    status = models.PositiveSmallIntegerField(choices=EnrollmentStatus.choices)
    completed_at = models.DateTimeField(null=True, blank=True)
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    materials_completed = models.PositiveIntegerField()
    materials_total = models.PositiveIntegerField()
    # [[material_id, status, completed_at (ISO) or null, score or null], ...]
    tracking = models.JSONField(default=list)

    class Meta:
        ordering = ["plan_archive", "position", "id"]

    def __str__(self) -> str:
        return f"{self.course_title} ({self.plan_archive_id})"
