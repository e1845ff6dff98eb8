"""The only writers of live learning data: enroll, unenroll, progress, completion, certificates."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
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
from .status import plan_enrollment_ids_touching, recompute_course_statuses, recompute_plan_statuses


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


def enroll_user(
    *, user: User, learning_plan: LearningPlan, enrolled_by: User | None = None, now: datetime.datetime | None = None
) -> LearningPlanEnrollment:
    """Enroll a learner in a plan: the plan enrollment plus a course enrollment per course (reused if present)."""
    now = now or timezone.now()
    with transaction.atomic():
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
        )
        course_ids = list(learning_plan.plan_courses.values_list("course_id", flat=True))
        CourseEnrollment.objects.bulk_create(
            [
                CourseEnrollment(user=user, course_id=cid, enrolled_at=now, enrolled_by=enrolled_by)
                for cid in course_ids
            ],
            ignore_conflicts=True,
        )
        recompute_course_statuses([(user.pk, cid) for cid in course_ids], now=now)
        refresh_plan_statuses([enrollment.pk], now=now)
        enrollment.refresh_from_db()
        return enrollment


def unenroll_user(*, enrollment: LearningPlanEnrollment) -> None:
    """Remove a learner from a plan: the plan enrollment, the course enrollments no other plan of theirs needs,
    and the live certificate. Tracking stays, so a later enrollment resumes where they were."""
    with transaction.atomic():
        user_id, plan_id = enrollment.user_id, enrollment.learning_plan_id
        course_ids = set(enrollment.learning_plan.plan_courses.values_list("course_id", flat=True))
        still_needed = set(
            LearningPlanEnrollment.objects.filter(user_id=user_id)
            .exclude(pk=enrollment.pk)
            .filter(learning_plan__plan_courses__course_id__in=course_ids)
            .values_list("learning_plan__plan_courses__course_id", flat=True)
        )
        CourseEnrollment.objects.filter(user_id=user_id, course_id__in=course_ids - still_needed).delete()
        delete_live_certificates(IssuedCertificate.objects.filter(user_id=user_id, learning_plan_id=plan_id))
        enrollment.delete()


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
    with transaction.atomic():
        tracking, _ = MaterialTracking.objects.update_or_create(
            user=user,
            material=material,
            defaults={
                "status": status,
                "score": score,
                "completed_at": now if status == TrackingStatus.COMPLETED else None,
            },
        )
        refresh_after_progress([(user.pk, material.course_id)], now=now)
        return tracking


def complete_course_enrollment(
    *, course_enrollment: CourseEnrollment, now: datetime.datetime | None = None
) -> CourseEnrollment:
    """An admin marks a course enrollment complete (the way to complete a course without material)."""
    now = now or timezone.now()
    with transaction.atomic():
        CourseEnrollment.objects.filter(pk=course_enrollment.pk).update(manually_completed_at=now)
        refresh_after_progress([(course_enrollment.user_id, course_enrollment.course_id)], now=now)
        course_enrollment.refresh_from_db()
        return course_enrollment


def refresh_after_progress(pairs: Sequence[tuple[int, int]], *, now: datetime.datetime) -> list[int]:
    """Recompute the course enrollments of (user, course) pairs, then every plan enrollment containing them.

    Returns the plan enrollment ids that became Completed (their certificates are issued here).
    """
    recompute_course_statuses(pairs, now=now)
    return refresh_plan_statuses(plan_enrollment_ids_touching(pairs), now=now)


def refresh_plan_statuses(enrollment_ids: Sequence[int], *, now: datetime.datetime) -> list[int]:
    """Recompute plan enrollments and issue certificates for those that became Completed."""
    completed = recompute_plan_statuses(enrollment_ids, now=now)
    issue_certificates(completed, now=now)
    return completed


def issue_certificates(enrollment_ids: Sequence[int], *, now: datetime.datetime) -> list[int]:
    """Write the certificate rows of newly completed enrollments whose plan has a template (one query);
    the PDFs are rendered by a background job after commit. Returns the certificate ids."""
    if not enrollment_ids:
        return []
    from django.db import connection

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


def delete_live_certificates(certificates) -> int:
    """Take live certificates out of the live data; their files go once the transaction commits."""
    names = [name for name in certificates.values_list("file", flat=True) if name]
    deleted, _ = certificates.delete()
    if names:
        from django.core.files.storage import default_storage

        def remove_files() -> None:
            for name in names:
                default_storage.delete(name)

        transaction.on_commit(remove_files)
    return deleted
