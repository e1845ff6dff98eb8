"""Notification rules per event and the outbox the sender job drains (SPEC §4.6)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.template import Context, Template
from django.utils import timezone

from .defaults import SAMPLE_CONTEXT


class NotificationEvent(models.TextChoices):
    LP_ENROLLMENT_ARCHIVED = "lp_enrollment_archived", "Learning plan enrollment archived"
    COURSE_ENROLLMENT_ARCHIVED = "course_enrollment_archived", "Course enrollment archived"
    LP_USER_ENROLLED = "lp_user_enrolled", "User enrolled in a learning plan"
    LP_USER_UNENROLLED = "lp_user_unenrolled", "User unenrolled from a learning plan"
    COURSE_USER_ENROLLED = "course_user_enrolled", "User enrolled in a course"
    COURSE_USER_UNENROLLED = "course_user_unenrolled", "User unenrolled from a course"
    RETRAINING_STARTED = "retraining_started", "A retraining rule re-enrolled the learner"
    CERTIFICATION_EXPIRING = "certification_expiring", "Certification expiring soon"
    CERTIFICATION_EXPIRED = "certification_expired", "Certification expired"


def validate_template(value: str) -> None:
    """A rule's template must compile and render a sample message: refused when the rule is saved, not found
    out when sending."""
    try:
        template = Template(value)
    except Exception as exc:  # noqa: BLE001 - a bad tag raises more than TemplateSyntaxError ({% include '../x' %})
        raise ValidationError(f"This template does not compile: {exc}", code="invalid_template") from exc
    try:
        template.render(Context(SAMPLE_CONTEXT, autoescape=False))
    except Exception as exc:  # noqa: BLE001 - a missing include, a filter that raises: anything the sender would meet
        raise ValidationError(
            f"This template does not render a sample message: {type(exc).__name__}: {exc}", code="invalid_template"
        ) from exc


class NotificationRule(models.Model):
    event = models.CharField(max_length=40, choices=NotificationEvent.choices, unique=True)
    enabled = models.BooleanField(default=True)
    subject_template = models.CharField(max_length=255, validators=[validate_template])
    body_template = models.TextField(validators=[validate_template])
    to_learner = models.BooleanField("the learner", default=True)
    to_managers = models.BooleanField("their first-level managers", default=False)
    to_superadmins = models.BooleanField("superadmins", default=False)

    class Meta:
        ordering = ["event"]

    def __str__(self) -> str:
        return self.get_event_display()


class OutboxMessage(models.Model):
    """One message to send; `dedupe_key` makes it exist, and be sent, at most once."""

    # Unique through Meta.constraints: a plain unique index, without the extra pattern-matching index
    # Django adds for `unique=True` text columns (this table takes ~12 rows per archived enrollment).
    dedupe_key = models.CharField(max_length=200)
    event = models.CharField(max_length=40, choices=NotificationEvent.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    recipient_email = models.CharField(max_length=254, blank=True)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the sender takes the message, just before it goes to the mail server ("done" from then on: the
    # message is never taken again, so it is never sent twice); last_error says when it went otherwise.
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # After a temporary refusal of this message (4xx: greylisting, a full mailbox), when to try it again.
    retry_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="outbox_dedupe_key_uniq")]
        indexes = [
            models.Index(fields=["id"], name="outbox_unsent_idx", condition=models.Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.dedupe_key
