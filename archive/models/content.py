"""The plan's content as it was archived (SPEC §13): one row per distinct content, shared by every snapshot."""

from django.db import models
from django.utils import timezone


class PlanContentVersion(models.Model):
    """The plan's courses in order and, per course, its materials (id, title, kind, position, content_changed_at).

    Written only by the archive's snapshot statement, which computes the canonical JSON (PostgreSQL `jsonb::text`)
    and its sha256 in the database: one row per distinct content, whatever the number of archives."""

    sha256 = models.CharField(max_length=64, unique=True)
    content = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256

    @property
    def courses(self) -> list[dict]:
        return self.content.get("courses", [])
