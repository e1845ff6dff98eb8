"""Archived plan enrollments (frozen snapshots), their course snapshots, stored certificates and jobs."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from enrollments.models import EnrollmentStatus


class ArchiveMode(models.TextChoices):
    REENROLL = "reenroll", "Archive and re-enroll"
    UNENROLL = "unenroll", "Archive and unenroll"


class Outcome(models.TextChoices):
    ARCHIVED = "archived", "Archived"
    SKIPPED_ALREADY_ARCHIVED = "skipped_already_archived", "Skipped: already archived"
    SKIPPED_SHARED_COURSE = "skipped_shared_course", "Skipped: course shared with another plan"
    NOT_FOUND = "not_found", "Not found"
    FAILED = "failed", "Failed"
    NOT_PROCESSED = "not_processed", "Not processed"


class Trigger(models.TextChoices):
    """What started an archive (SPEC §11): an admin's action, a retraining rule's run, or an uploaded file."""

    MANUAL = "manual", "Manual"
    RULE = "rule", "Retraining rule"
    FILE = "file", "File"


class ValidityState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    NOT_YET_VALID = "not_yet_valid", "Not yet valid"


class ArchivedCertificate(models.Model):
    """A certificate PDF in content-addressed storage: one file per distinct content."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to="archive/certificates/", max_length=255)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256


class ArchiveJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    learning_plan = models.ForeignKey(
        "enrollments.LearningPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="archive_jobs"
    )
    learning_plan_title = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=16, choices=ArchiveMode.choices)
    reset_tracking = models.BooleanField(default=False)
    notify = models.BooleanField(default=True)
    select_all = models.BooleanField(default=False)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="archive_jobs"
    )
    requested_by_username = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rate = models.FloatField(null=True, blank=True, help_text="Enrollments per second, measured.")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker took the lease.")
    # The id of the latest RQ job enqueued for this job; the reconciler checks Redis for it.
    rq_job_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.MANUAL, db_default=Trigger.MANUAL)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "finished_at"], name="archivejob_status_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"Archive job #{self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("archive:job_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress(self) -> int:
        return int(100 * self.processed / self.total) if self.total else (100 if self.is_finished else 0)

    @property
    def eta_seconds(self) -> int | None:
        if self.is_finished or not self.rate:
            return None
        return int((self.total - self.processed) / self.rate)

    @property
    def outcome_counts(self) -> dict[str, int]:
        """Counts for every outcome, zeros included, in the order outcomes are declared."""
        return {outcome: int(self.counts.get(outcome, 0)) for outcome in Outcome.values}

    @property
    def elapsed_seconds(self) -> int | None:
        if not self.started_at:
            return None
        return int(((self.finished_at or timezone.now()) - self.started_at).total_seconds())


class ArchiveJobItem(models.Model):
    """One frozen (enrollment id, round) of a job's selection, and what became of it."""

    job = models.ForeignKey(ArchiveJob, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    enrollment_id = models.BigIntegerField()
    round = models.PositiveIntegerField()
    outcome = models.CharField(max_length=32, choices=Outcome.choices, blank=True, default="")
    archive_id = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "enrollment_id"], name="uniq_job_enrollment"),
            models.UniqueConstraint(fields=["job", "position"], name="uniq_job_position"),
        ]
        indexes = [models.Index(fields=["job", "outcome", "position"], name="jobitem_outcome_idx")]


class ArchivedPlanEnrollment(models.Model):
    """The frozen snapshot of one plan enrollment at one round (SPEC §4.4). Never updated."""

    # Archive
    archived_at = models.DateTimeField(default=timezone.now)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_by_username = models.CharField(max_length=150)
    mode = models.CharField(max_length=16, choices=ArchiveMode.choices)
    reset_tracking = models.BooleanField()
    notify = models.BooleanField()
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

    class Meta:
        ordering = ["-archived_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment_id", "round"], name="uniq_archive_enrollment_round"),
        ]
        indexes = [
            models.Index(fields=["learning_plan", "-archived_at", "-id"], name="ape_plan_archived_idx"),
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


class RequestKey(models.Model):
    """A request that must happen at most once (SPEC §4.10): a pop-up's request key or an API `Idempotency-Key`,
    per caller, with the answer it got, replayed to a repeat of the same request for 24 hours."""

    class Scope(models.TextChoices):
        PAGE = "page", "Page form"
        API = "api", "API"

    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the method, path and the parsed body.")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "scope", "key"], name="uniq_request_key")]
        indexes = [models.Index(fields=["created_at"], name="requestkey_created_idx")]

    def __str__(self) -> str:
        return f"{self.scope} key {self.key[:16]} of user #{self.caller_id}"
