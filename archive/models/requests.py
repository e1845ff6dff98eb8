"""Requests that must happen at most once (SPEC §4.10)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


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
