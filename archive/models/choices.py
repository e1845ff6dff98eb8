"""Choices shared by the archive models."""

from django.db import models

from lms_admin.notifications.models import NotificationEvent


class ArchiveMode(models.TextChoices):
    REENROLL = "reenroll", "Archive and re-enroll"
    UNENROLL = "unenroll", "Archive and unenroll"


# What archiving in each mode announces (SPEC §4.6): the plan enrollment archived, the learner enrolled again or
# unenrolled, and the same two for the plan's courses. The archive batch writes them; the previews count them.
ARCHIVE_EVENTS = {
    ArchiveMode.REENROLL: (
        NotificationEvent.LP_ENROLLMENT_ARCHIVED,
        NotificationEvent.LP_USER_ENROLLED,
        NotificationEvent.COURSE_ENROLLMENT_ARCHIVED,
        NotificationEvent.COURSE_USER_ENROLLED,
    ),
    ArchiveMode.UNENROLL: (
        NotificationEvent.LP_ENROLLMENT_ARCHIVED,
        NotificationEvent.LP_USER_UNENROLLED,
        NotificationEvent.COURSE_ENROLLMENT_ARCHIVED,
        NotificationEvent.COURSE_USER_UNENROLLED,
    ),
}


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
