"""A merge racing the writes that create or move a learner's rows (SPEC §4.9, §4.10): an enrollment committed while
the merge runs follows the learner to the kept user whole, and a write for a user merged meanwhile is refused."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction

from archive.services import merge_users
from enrollments.models import CourseEnrollment, LearningPlanEnrollment, MaterialTracking, TrackingStatus
from enrollments.services import enroll_user, record_material_progress
from tests.factories import UserFactory, make_plan
from tests.workers import lock_waiters, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_enrollment_committed_during_a_merge_moves_to_the_kept_user_with_its_course_enrollments(superadmin):
    kept, merged = UserFactory(username="kept"), UserFactory(username="merged")
    plan = make_plan(courses=2, materials_per_course=1)
    enrolled, release, merge_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def enroll_and_hold() -> None:
        """Enroll the learner and keep the transaction open until the merge waits for it (or has finished)."""
        try:
            with transaction.atomic():
                enroll_user(user=merged, learning_plan=plan)
                enrolled.set()
                release.wait(timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    def merge() -> None:
        try:
            merge_users(kept=kept, merged=[merged], actor=superadmin)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            merge_done.set()
            connections.close_all()

    enroller = threading.Thread(target=enroll_and_hold)
    enroller.start()
    assert enrolled.wait(timeout=60), "the enrollment never ran"
    merger = threading.Thread(target=merge)
    merger.start()
    # The merge either waits for the open enrollment (the learner is locked) or, unprotected, finishes without it.
    wait_for(lambda: merge_done.is_set() or lock_waiters(), timeout=60, message="the merge neither ran nor waited")
    release.set()
    enroller.join(timeout=60)
    merger.join(timeout=60)
    assert not errors, errors

    enrollment = LearningPlanEnrollment.objects.get(learning_plan=plan)
    assert enrollment.user_id == kept.pk, "the new enrollment stayed with the merged user"
    assert set(
        CourseEnrollment.objects.filter(course__plan_links__learning_plan=plan).values_list("user_id", flat=True)
    ) == {kept.pk}
    assert not LearningPlanEnrollment.objects.filter(user=merged).exists()


def test_progress_and_enrollment_for_a_merged_user_are_refused_and_write_nothing(superadmin):
    kept, merged = UserFactory(username="kept"), UserFactory(username="merged")
    plan = make_plan(courses=1, materials_per_course=1)
    enroll_user(user=merged, learning_plan=plan)
    merge_users(kept=kept, merged=[merged], actor=superadmin)
    material = plan.plan_courses.get().course.materials.get()
    other_plan = make_plan(courses=1, materials_per_course=1)

    with pytest.raises(ValidationError, match="merged into kept"):
        record_material_progress(user=merged, material=material, status=TrackingStatus.COMPLETED)
    with pytest.raises(ValidationError, match="merged into kept"):
        enroll_user(user=merged, learning_plan=other_plan)

    assert not MaterialTracking.objects.filter(user=merged).exists()
    assert not LearningPlanEnrollment.objects.filter(user=merged).exists()
    assert not CourseEnrollment.objects.filter(user=merged).exists()
