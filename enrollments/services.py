"""The only writers of live learning data: enroll, unenroll, progress, completion, certificates.

Each locks what it changes in the one order (SPEC §4.10) before writing anything: the learner
(`status.lock_learners`, which refuses a merged one), then `status.lock_learning_state` (plan enrollments, then
course enrollments, then tracking, each by id).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from lms_admin.accounts.models import User

from .models import (
    CourseEnrollment,
    IssuedCertificate,
    LearningPlan,
    LearningPlanEnrollment,
    MaterialTracking,
    TrackingStatus,
    TrainingMaterial,
)
from .races import retried_on_race
from .retraining import certify_completed
from .status import lock_learners, lock_learning_state, recompute_course_statuses, recompute_plan_statuses


def validity_for(
    plan: LearningPlan, enrolled_at: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime | None]:
    """SPEC §3: start = enrollment time or the plan's start date if later; end from days, end date, or open."""
    start = enrolled_at
    if plan.start_date:
        plan_start = datetime.datetime.combine(plan.start_date, datetime.time.min, tzinfo=datetime.UTC)
        start = max(start, plan_start)
    if plan.validity_days:
        return start, start + datetime.timedelta(days=plan.validity_days)
    if plan.end_date:
        return start, datetime.datetime.combine(plan.end_date, datetime.time.max, tzinfo=datetime.UTC)
    return start, None


@retried_on_race
def enroll_user(
    *,
    user: User,
    learning_plan: LearningPlan,
    enrolled_by: User | None = None,
    now: datetime.datetime | None = None,
    certified_until: datetime.date | None = None,
) -> LearningPlanEnrollment:
    """Enroll a learner in a plan: the plan enrollment plus a course enrollment per course (reused if present).
    `certified_until` carries a certification over from an earlier, archived round (SPEC §11)."""
    now = now or timezone.now()
    with transaction.atomic():
        course_ids = list(learning_plan.plan_courses.values_list("course_id", flat=True))
        pairs = [(user.pk, cid) for cid in course_ids]
        # The learner first (no merge moves their rows meanwhile), then their other plan enrollments sharing these
        # courses and the course enrollments reused. The rows created below get ids above every existing one, so
        # the id order holds.
        lock_learners([user.pk])
        lock_learning_state(pairs=pairs)
        if LearningPlanEnrollment.objects.filter(user=user, learning_plan=learning_plan).exists():
            raise ValidationError(f"{user} is already enrolled in {learning_plan}.", code="already_enrolled")
        validity_start, validity_end = validity_for(learning_plan, now)
        enrollment = LearningPlanEnrollment.objects.create(
            user=user,
            learning_plan=learning_plan,
            enrolled_at=now,
            enrolled_by=enrolled_by,
            validity_start=validity_start,
            validity_end=validity_end,
            certified_until=certified_until,
        )
        CourseEnrollment.objects.bulk_create(
            [
                CourseEnrollment(user=user, course_id=cid, enrolled_at=now, enrolled_by=enrolled_by)
                for cid in course_ids
            ],
            ignore_conflicts=True,
        )
        recompute_course_statuses(pairs, now=now, locked=True)
        refresh_plan_statuses([enrollment.pk], now=now, locked=True)
        enrollment.refresh_from_db()
        return enrollment


@retried_on_race
def unenroll_user(*, enrollment: LearningPlanEnrollment) -> None:
    """Remove a learner from a plan: the plan enrollment, the course enrollments no other plan of theirs needs,
    and the live certificate. Tracking stays, so a later enrollment resumes where they were."""
    with transaction.atomic():
        lock_learners([enrollment.user_id])  # a merge has not moved the enrollment since it was read, or is refused
        lock_learning_state(enrollment_ids=[enrollment.pk])
        user_id, plan_id = enrollment.user_id, enrollment.learning_plan_id
        course_ids = set(enrollment.learning_plan.plan_courses.values_list("course_id", flat=True))
        still_needed = set(
            LearningPlanEnrollment.objects.filter(user_id=user_id)
            .exclude(pk=enrollment.pk)
            .filter(learning_plan__plan_courses__course_id__in=course_ids)
            .values_list("learning_plan__plan_courses__course_id", flat=True)
        )
        CourseEnrollment.objects.filter(user_id=user_id, course_id__in=course_ids - still_needed).delete()
        delete_live_certificates(
            IssuedCertificate.objects.filter(user_id=user_id, learning_plan_id=plan_id).values_list("pk", flat=True)
        )
        enrollment.delete()


@retried_on_race
def record_material_progress(
    *,
    user: User,
    material: TrainingMaterial,
    status: str,
    score: Decimal | None = None,
    now: datetime.datetime | None = None,
) -> MaterialTracking:
    """Record a learner's progress on a material and recompute every status it affects."""
    if status not in TrackingStatus.values:
        raise ValidationError(f"Unknown tracking status {status!r}.", code="invalid_status")
    now = now or timezone.now()
    pairs = [(user.pk, material.course_id)]
    with transaction.atomic():
        lock_learners([user.pk])
        touching = lock_learning_state(pairs=pairs)  # before the course enrollment and before the tracking
        tracking, _ = MaterialTracking.objects.update_or_create(
            user=user,
            material=material,
            defaults={
                "status": status,
                "score": score,
                "completed_at": now if status == TrackingStatus.COMPLETED else None,
            },
        )
        _recompute_locked(pairs, touching, now=now)
        return tracking


@retried_on_race
def complete_course_enrollment(
    *, course_enrollment: CourseEnrollment, now: datetime.datetime | None = None
) -> CourseEnrollment:
    """An admin marks a course enrollment complete (the way to complete a course without material)."""
    now = now or timezone.now()
    pairs = [(course_enrollment.user_id, course_enrollment.course_id)]
    with transaction.atomic():
        lock_learners([course_enrollment.user_id])
        touching = lock_learning_state(pairs=pairs)
        CourseEnrollment.objects.filter(pk=course_enrollment.pk).update(manually_completed_at=now)
        _recompute_locked(pairs, touching, now=now)
        course_enrollment.refresh_from_db()
        return course_enrollment


def refresh_after_progress(pairs: Sequence[tuple[int, int]], *, now: datetime.datetime) -> list[int]:
    """Recompute the course enrollments of (user, course) pairs, then every plan enrollment containing them
    (locked first, in the one order). Returns the plan enrollment ids that became Completed (their certificates
    are issued here)."""
    with transaction.atomic():
        lock_learners([user_id for user_id, _ in pairs])
        return _recompute_locked(pairs, lock_learning_state(pairs=pairs), now=now)


def _recompute_locked(
    pairs: Sequence[tuple[int, int]], touching: Sequence[tuple], *, now: datetime.datetime
) -> list[int]:
    """The statuses after a change to these pairs, once lock_learning_state(pairs) returned `touching`."""
    recompute_course_statuses(pairs, now=now, locked=True)
    return refresh_plan_statuses([row[0] for row in touching], now=now, locked=True)


def refresh_plan_statuses(enrollment_ids: Sequence[int], *, now: datetime.datetime, locked: bool = False) -> list[int]:
    """Recompute plan enrollments and issue certificates for those that became Completed (`locked`: the caller
    holds lock_learning_state's locks for them)."""
    completed = recompute_plan_statuses(enrollment_ids, now=now, locked=locked)
    certify_completed(completed)
    issue_certificates(completed, now=now)
    return completed


def issue_certificates(enrollment_ids: Sequence[int], *, now: datetime.datetime) -> list[int]:
    """Write the certificate rows of newly completed enrollments whose plan has a template (one query);
    the PDFs are rendered by a background job after commit. Returns the certificate ids."""
    if not enrollment_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO enrollments_issuedcertificate (user_id, learning_plan_id, template_id, issued_at, file)
            SELECT e.user_id, e.learning_plan_id, p.certificate_template_id, %(now)s, ''
            FROM enrollments_learningplanenrollment e
            JOIN enrollments_learningplan p ON p.id = e.learning_plan_id
            WHERE e.id = ANY(%(ids)s::bigint[]) AND p.certificate_template_id IS NOT NULL
            ON CONFLICT (user_id, learning_plan_id) DO UPDATE
               SET template_id = EXCLUDED.template_id, issued_at = EXCLUDED.issued_at,
                   file = '', rendered_at = NULL
            RETURNING id
            """,
            {"ids": list(enrollment_ids), "now": now},
        )
        certificate_ids = [row[0] for row in cursor.fetchall()]
    if certificate_ids:
        from .jobs import enqueue_certificate_rendering

        transaction.on_commit(lambda: enqueue_certificate_rendering(certificate_ids))
    return certificate_ids


def delete_live_certificates(certificate_ids: Sequence[int]) -> int:
    """Take live certificates out of the live data; their files go once the transaction commits.

    One statement that returns the file names as deleted, so a PDF whose rendering committed meanwhile goes too.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM enrollments_issuedcertificate WHERE id = ANY(%s::bigint[]) RETURNING file",
            [list(certificate_ids)],
        )
        rows = cursor.fetchall()
    names = [name for (name,) in rows if name]
    if names:
        from django.core.files.storage import default_storage

        def remove_files() -> None:
            for name in names:
                default_storage.delete(name)

        transaction.on_commit(remove_files)
    return len(rows)
