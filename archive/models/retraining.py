"""Retraining exemptions and daily runs (SPEC §11); the rule itself is the plan's, in `enrollments`."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class RetrainingExemption(models.Model):
    """A learner the rule leaves alone, until a date or for good."""

    rule = models.ForeignKey("enrollments.RetrainingRule", on_delete=models.CASCADE, related_name="exemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=255)
    until = models.DateField(null=True, blank=True, help_text="Last exempt day; empty = open-ended.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "user"], name="uniq_exemption_rule_user")]

    def __str__(self) -> str:
        return f"{self.user} exempt from {self.rule}"


class RetrainingRun(models.Model):
    """One day's run of a rule: the (enrollment, round) pairs it froze, what became of them, its jobs."""

    class Status(models.TextChoices):
        AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey("enrollments.RetrainingRule", on_delete=models.CASCADE, related_name="runs")
    run_date = models.DateField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.RUNNING)
    selected = models.PositiveIntegerField(default=0)
    archived = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True, help_text="{reason: count} of learners left out.")
    pairs = models.JSONField(default=list, blank=True, help_text="Frozen [enrollment id, round] pairs.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-run_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "run_date"], name="uniq_run_rule_day")]

    def __str__(self) -> str:
        return f"Run of {self.rule} on {self.run_date}"

    def get_absolute_url(self) -> str:
        return reverse("archive:retraining", args=[self.rule.learning_plan_id]) + f"#run-{self.pk}"
