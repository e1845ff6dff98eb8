"""Background archive jobs and their frozen items (SPEC §4.5)."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from enrollments.models import ResetTrackingField

from .choices import ArchiveMode, Outcome, Trigger


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
    reset_tracking = ResetTrackingField(default=False)
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
    retraining_run = models.ForeignKey(
        "archive.RetrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )

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
