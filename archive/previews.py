"""What an archive would do, computed from the data before the admin confirms (the pop-up's preview).

Set-based: a preview of 10,000 enrollments costs the same handful of aggregate queries as a preview of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, QuerySet

from enrollments.content import reset_tracking_option
from enrollments.models import (
    CourseEnrollment,
    EnrollmentStatus,
    IssuedCertificate,
    LearningPlan,
    LearningPlanEnrollment,
    MaterialTracking,
    ResetTracking,
    TrackingStatus,
    TrainingMaterial,
)
from lms_admin.accounts.models import Level, ManagerLink, User
from lms_admin.notifications.models import NotificationRule

from .content import (
    ContentDiff,
    LearnerToDo,
    completed_again_count,
    enrollment_diff,
    learner_to_do,
    reset_if_changed,
    selection_diffs,
    tracking_to_reset,
)
from .models import ARCHIVE_EVENTS, ArchiveMode
from .services import SharedCourses, check_shared_courses, shared_course_message


@dataclass
class Preview:
    """What archiving a selection with given options would do."""

    mode: str
    reset_tracking: str  # "false", "true" or "changed" (SPEC §13)
    notify: bool
    enrollments: int = 0
    by_status: list[tuple[str, int]] = field(default_factory=list)
    course_enrollments: int = 0
    certificates_kept: int = 0
    tracking_to_reset: int = 0
    materials_total: int = 0
    materials_to_redo: int | None = None  # single enrollment, re-enroll only
    notifications: int = 0
    shared_message: str = ""
    skipped_shared: int = 0
    # What changed since the archived round (SPEC §13)
    completed_again: int = 0  # re-enroll: learners left with nothing to do, Completed again at once
    diff: ContentDiff | None = None  # one enrollment: the plan now against its previous archive's content
    todo: LearnerToDo | None = None  # one enrollment, re-enroll: what the learner would have left to do
    # A selection: (diff, learners) per distinct previous content, most common first; learners never archived.
    baseline_groups: list[tuple[ContentDiff, int]] = field(default_factory=list)
    never_archived: int = 0

    @property
    def notify_warning(self) -> bool:
        return self.notify and self.enrollments > settings.ARCHIVE_NOTIFY_WARNING_THRESHOLD

    @property
    def to_archive(self) -> int:
        return self.enrollments - self.skipped_shared

    @property
    def redo_text(self) -> str:
        """What the learner will have to do again, in words."""
        if self.mode == ArchiveMode.UNENROLL:
            if self.reset_tracking == ResetTracking.CHANGED:
                return "Nothing for now: they leave the plan; their progress in changed materials is reset."
            if self.reset_tracking == ResetTracking.ALL:
                return "Nothing for now: they leave the plan, and their progress in its materials is reset."
            return "Nothing for now: they leave the plan; their progress is kept if they are enrolled again."
        if self.materials_to_redo is None:
            return {
                ResetTracking.ALL: "Every training material of the plan, from the start.",
                ResetTracking.CHANGED: "What they had not completed, and the materials changed since they did.",
            }.get(self.reset_tracking, "Only what they had not completed (typically material added since).")
        if self.materials_to_redo == 0:
            return "Nothing: every material is completed, so they are Completed again at once with a new certificate."
        return f"{self.materials_to_redo} of {self.materials_total} training materials." + {
            ResetTracking.ALL: " Their progress is reset.",
            ResetTracking.CHANGED: " Completed materials stay completed unless they changed since.",
        }.get(self.reset_tracking, " Completed materials stay completed.")


def modes_notifying_the_learner() -> list[str]:
    """The archive modes of which an enabled rule writes to the learner (one query)."""
    events = set(NotificationRule.objects.filter(enabled=True, to_learner=True).values_list("event", flat=True))
    return [mode.value for mode, announced in ARCHIVE_EVENTS.items() if events.intersection(announced)]


def _notifications(*, mode: str, users: QuerySet, enrollments: int, course_enrollments: int, plan_courses: int) -> int:
    """Outbox rows the archive would write for the enabled rules (SPEC §4.6)."""
    archived, moved, course_archived, course_moved = ARCHIVE_EVENTS[mode]
    # How many times each event happens: re-enrolling enrolls the learner in every course of the plan again.
    occurrences = {
        archived: enrollments,
        moved: enrollments,
        course_archived: course_enrollments,
        course_moved: enrollments * plan_courses if mode == ArchiveMode.REENROLL else course_enrollments,
    }
    rules = list(NotificationRule.objects.filter(enabled=True))
    if not rules:
        return 0
    managers = superadmins = 0
    if any(rule.to_managers for rule in rules):
        managers = ManagerLink.objects.filter(employee__in=users).count()
    if any(rule.to_superadmins for rule in rules):
        superadmins = User.objects.filter(level=Level.SUPERADMIN, is_active=True).count()
    total = 0
    for rule in rules:
        events = occurrences.get(rule.event)
        if events is None:
            continue
        per_learner = managers / enrollments if enrollments else 0
        recipients = (1 if rule.to_learner else 0) + (per_learner if rule.to_managers else 0)
        total += round(events * recipients) + (events * superadmins if rule.to_superadmins else 0)
    return total


def preview_selection(
    plan: LearningPlan,
    selection: QuerySet[LearningPlanEnrollment],
    *,
    mode: str,
    reset_tracking: bool | str,
    notify: bool,
    shares: SharedCourses | None = None,
) -> Preview:
    """The preview of archiving every enrollment of `selection` (enrollments of `plan`)."""
    reset_tracking = reset_tracking_option(reset_tracking)
    preview = Preview(mode=mode, reset_tracking=reset_tracking, notify=notify)
    counts = dict(selection.order_by().values_list("status").annotate(n=Count("*")))
    preview.by_status = [(label, counts.get(value, 0)) for value, label in EnrollmentStatus.choices]
    preview.enrollments = sum(counts.values())
    users = selection.order_by().values("user_id")
    course_ids = list(plan.plan_courses.values_list("course_id", flat=True))
    materials = TrainingMaterial.objects.filter(course_id__in=course_ids)
    preview.materials_total = materials.count()
    preview.course_enrollments = CourseEnrollment.objects.filter(course_id__in=course_ids, user_id__in=users).count()
    preview.certificates_kept = IssuedCertificate.objects.filter(learning_plan=plan, user_id__in=users).count()
    if reset_tracking != ResetTracking.KEEP:
        preview.tracking_to_reset = tracking_to_reset(materials, users, reset_tracking)
    if mode == ArchiveMode.UNENROLL:
        shares = check_shared_courses(plan) if shares is None else shares
        if shares:
            preview.shared_message = shared_course_message(shares)
            preview.skipped_shared = preview.enrollments
    if mode == ArchiveMode.REENROLL and preview.to_archive:
        user_ids = list(users.values_list("user_id", flat=True))
        preview.completed_again = completed_again_count(plan, user_ids, reset_tracking)
    if notify and preview.to_archive:
        preview.notifications = _notifications(
            mode=mode,
            users=users,
            enrollments=preview.enrollments,
            course_enrollments=preview.course_enrollments,
            plan_courses=len(course_ids),
        )
    return preview


def preview_changes(plan: LearningPlan, selection: QuerySet[LearningPlanEnrollment], preview: Preview) -> Preview:
    """Add to a selection's preview what changed since each learner's archived round, grouped by that content."""
    ids = list(selection.order_by().values_list("pk", flat=True))
    preview.baseline_groups, preview.never_archived = selection_diffs(plan.pk, ids)
    return preview


def preview_one(
    enrollment: LearningPlanEnrollment, *, mode: str, reset_tracking: bool | str, notify: bool, shares: SharedCourses
) -> Preview:
    """The preview of archiving one enrollment, with what the learner will have to redo."""
    plan = enrollment.learning_plan
    preview = preview_selection(
        plan,
        LearningPlanEnrollment.objects.filter(pk=enrollment.pk),
        mode=mode,
        reset_tracking=reset_tracking,
        notify=notify,
        shares=shares,
    )
    if mode == ArchiveMode.REENROLL:
        completed = 0
        if preview.reset_tracking != ResetTracking.ALL:
            kept = MaterialTracking.objects.filter(
                user_id=enrollment.user_id,
                material__course__plan_links__learning_plan=plan,
                status=TrackingStatus.COMPLETED,
            )
            if preview.reset_tracking == ResetTracking.CHANGED:
                kept = kept.exclude(reset_if_changed())
            completed = kept.count()
        preview.materials_to_redo = preview.materials_total - completed
    preview.diff = enrollment_diff(enrollment.pk, plan.pk)
    if mode == ArchiveMode.REENROLL:
        preview.todo = learner_to_do(enrollment.user_id, plan.pk, preview.diff, preview.reset_tracking)
    return preview
