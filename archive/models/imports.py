"""Archive from a file (SPEC §12): an uploaded CSV validated into rows, then archived by background jobs."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .choices import ArchiveMode
from .jobs import ArchiveJob


class ArchiveImport(models.Model):
    """One uploaded file: its defaults, its totals and the jobs that archived its valid rows."""

    class Status(models.TextChoices):
        VALIDATED = "validated", "Validated"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired"

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_username = models.CharField(max_length=150, blank=True)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    # The form's defaults; a row's own cells override them.
    mode = models.CharField(max_length=16, choices=ArchiveMode.choices)
    reset_tracking = models.CharField(max_length=8, help_text="false, true or changed")
    notify = models.BooleanField()
    header = models.JSONField(default=list, help_text="The file's header row, as written.")
    delimiter = models.CharField(max_length=1, default=",")
    encoding = models.CharField(max_length=16, default="utf-8")
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALIDATED, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    jobs = models.ManyToManyField(ArchiveJob, blank=True, related_name="imports")
    first_import = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reuploads",
        help_text="The earliest import of the same file (sha256), when this one is an upload of it again.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.file_name})"

    def get_absolute_url(self) -> str:
        return reverse("archive:import_report", args=[self.pk])

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (
            self.status == self.Status.VALIDATED and self.expires_at <= timezone.now()
        )


class ArchiveImportRow(models.Model):
    """One data row of an uploaded file: its cells as written, what it resolved to, or why it cannot be archived."""

    archive_import = models.ForeignKey(ArchiveImport, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(help_text="The line of the file the row starts on (the header is line 1).")
    cells = models.JSONField(default=list)
    user_key = models.CharField(max_length=255, blank=True)
    plan_key = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    learning_plan = models.ForeignKey(
        "enrollments.LearningPlan",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    enrollment_id = models.BigIntegerField(null=True, blank=True)
    round = models.PositiveIntegerField(null=True, blank=True)
    mode = models.CharField(max_length=16, blank=True)
    reset_tracking = models.CharField(max_length=8, blank=True)
    notify = models.BooleanField(null=True)
    error = models.CharField(max_length=32, blank=True, default="")
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["archive_import", "line"]
        constraints = [models.UniqueConstraint(fields=["archive_import", "line"], name="uniq_import_row_line")]
        indexes = [models.Index(fields=["archive_import", "error", "line"], name="importrow_error_idx")]

    def __str__(self) -> str:
        return f"Line {self.line} of import #{self.archive_import_id}"
