"""The status rules of SPEC §3, through the services that every caller uses and the set-based status function."""

import datetime

import pytest

from enrollments.models import CourseEnrollment, LearningPlanEnrollment, TrackingStatus
from enrollments.services import (
    complete_course_enrollment,
    enroll_user,
    record_material_progress,
    validity_for,
)
from enrollments.status import recompute_course_statuses, recompute_plan_statuses
from tests.factories import CourseFactory, LearningPlanFactory, UserFactory, add_course, make_plan

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 5, 8, 0, tzinfo=datetime.UTC)
ENROLLED, IN_PROGRESS, COMPLETED = 0, 1, 2
NOT_ATTEMPTED = TrackingStatus.NOT_ATTEMPTED
STARTED = TrackingStatus.IN_PROGRESS
DONE = TrackingStatus.COMPLETED


def at(hours: float) -> datetime.datetime:
    return T0 + datetime.timedelta(hours=hours)


def course_enrollment(user, course) -> CourseEnrollment:
    return CourseEnrollment.objects.get(user=user, course=course)


def plan_enrollment(user, plan) -> LearningPlanEnrollment:
    return LearningPlanEnrollment.objects.get(user=user, learning_plan=plan)


def progress(user, material, status, hours):
    record_material_progress(user=user, material=material, status=status, now=at(hours))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def learner():
    return UserFactory(first_name="Grace", last_name="Hopper")


# --- course enrollments -------------------------------------------------------------------------------------------


def test_a_course_goes_from_enrolled_to_in_progress_to_completed_as_materials_are_done(learner):
    plan = make_plan(courses=1, materials_per_course=2)
    course = plan.courses.get()
    first, second = course.materials.all()
    enroll_user(user=learner, learning_plan=plan, now=at(0))
    assert course_enrollment(learner, course).status == ENROLLED

    progress(learner, first, NOT_ATTEMPTED, 1)
    assert course_enrollment(learner, course).status == ENROLLED  # opening nothing is not progress

    progress(learner, first, STARTED, 2)
    assert course_enrollment(learner, course).status == IN_PROGRESS

    progress(learner, first, DONE, 3)
    ce = course_enrollment(learner, course)
    assert (ce.status, ce.completed_at) == (IN_PROGRESS, None)  # one of two is not all

    progress(learner, second, DONE, 4)
    ce = course_enrollment(learner, course)
    assert (ce.status, ce.completed_at) == (COMPLETED, at(4))


def test_a_completed_course_is_dated_by_its_latest_material_completion_not_by_the_last_recording(learner):
    plan = make_plan(courses=1, materials_per_course=2)
    course = plan.courses.get()
    first, second = course.materials.all()
    enroll_user(user=learner, learning_plan=plan, now=at(0))

    progress(learner, second, DONE, 10)
    progress(learner, first, DONE, 5)  # recorded last, but completed earlier (e.g. an import of older results)

    assert course_enrollment(learner, course).completed_at == at(10)


def test_a_course_whose_material_is_reopened_falls_back_to_in_progress(learner):
    plan = make_plan(courses=2, materials_per_course=1)
    course = plan.courses.first()
    enroll_user(user=learner, learning_plan=plan, now=at(0))
    progress(learner, course.materials.get(), DONE, 1)

    progress(learner, course.materials.get(), STARTED, 2)

    ce = course_enrollment(learner, course)
    assert (ce.status, ce.completed_at) == (IN_PROGRESS, None)


def test_a_course_without_material_stays_enrolled_until_an_admin_completes_it(learner):
    plan = LearningPlanFactory()
    empty = CourseFactory(title="Site induction")
    add_course(plan, empty)
    enroll_user(user=learner, learning_plan=plan, now=at(0))
    ce = course_enrollment(learner, empty)
    recompute_course_statuses([(learner.pk, empty.pk)], now=at(1))
    assert course_enrollment(learner, empty).status == ENROLLED
    assert plan_enrollment(learner, plan).status == ENROLLED

    complete_course_enrollment(course_enrollment=ce, now=at(2))

    ce.refresh_from_db()
    assert (ce.status, ce.completed_at) == (COMPLETED, at(2))
    enrollment = plan_enrollment(learner, plan)
    assert (enrollment.status, enrollment.completed_at) == (COMPLETED, at(2))  # manual completion counts alike


def test_a_manual_completion_of_a_course_with_material_completes_it_whatever_the_tracking(learner):
    plan = make_plan(courses=1, materials_per_course=3)
    course = plan.courses.get()
    enroll_user(user=learner, learning_plan=plan, now=at(0))
    progress(learner, course.materials.first(), STARTED, 1)

    complete_course_enrollment(course_enrollment=course_enrollment(learner, course), now=at(3))

    ce = course_enrollment(learner, course)
    assert (ce.status, ce.completed_at) == (COMPLETED, at(3))
    assert plan_enrollment(learner, plan).status == COMPLETED


def test_course_statuses_of_many_learners_are_computed_in_one_statement(django_assert_num_queries):
    plan = make_plan(courses=1, materials_per_course=2)
    course = plan.courses.get()
    first, second = course.materials.all()
    fresh, halfway, finished = UserFactory(), UserFactory(), UserFactory()
    for user in (fresh, halfway, finished):
        enroll_user(user=user, learning_plan=plan, now=at(0))
    progress(halfway, first, DONE, 1)
    progress(finished, first, DONE, 1)
    progress(finished, second, DONE, 2)
    CourseEnrollment.objects.update(status=ENROLLED, completed_at=None)  # stale rows, as after a bulk import

    with django_assert_num_queries(1):
        recompute_course_statuses([(u.pk, course.pk) for u in (fresh, halfway, finished)], now=at(5))

    statuses = {ce.user_id: (ce.status, ce.completed_at) for ce in CourseEnrollment.objects.all()}
    assert statuses == {fresh.pk: (ENROLLED, None), halfway.pk: (IN_PROGRESS, None), finished.pk: (COMPLETED, at(2))}


# --- plan enrollments ---------------------------------------------------------------------------------------------


def test_a_plan_goes_from_enrolled_to_in_progress_to_completed_when_every_course_is_completed(learner):
    plan = make_plan(courses=2, materials_per_course=1)
    course_a, course_b = plan.courses.order_by("plan_links__position")
    enroll_user(user=learner, learning_plan=plan, now=at(0))
    assert plan_enrollment(learner, plan).status == ENROLLED

    progress(learner, course_a.materials.get(), STARTED, 1)
    assert plan_enrollment(learner, plan).status == IN_PROGRESS

    progress(learner, course_a.materials.get(), DONE, 2)
    enrollment = plan_enrollment(learner, plan)
    assert (enrollment.status, enrollment.completed_at) == (IN_PROGRESS, None)

    progress(learner, course_b.materials.get(), DONE, 7)
    enrollment = plan_enrollment(learner, plan)
    assert (enrollment.status, enrollment.completed_at) == (COMPLETED, at(7))


def test_a_plan_without_courses_stays_enrolled(learner):
    plan = LearningPlanFactory()
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))

    assert recompute_plan_statuses([enrollment.pk], now=at(1)) == []

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.completed_at) == (ENROLLED, None)


def test_completed_is_sticky_and_a_reset_of_a_shared_course_only_recomputes_unfinished_enrollments():
    plan_a = make_plan(courses=1, materials_per_course=1, title="Plan A")
    plan_b = make_plan(courses=1, materials_per_course=1, title="Plan B")
    shared = CourseFactory(title="Shared course")
    shared_material = shared.materials.create(title="Shared material")
    add_course(plan_a, shared)
    add_course(plan_b, shared)
    own_b = plan_b.courses.exclude(pk=shared.pk).get()

    finisher, learner_in_progress = UserFactory(), UserFactory()
    for user in (finisher, learner_in_progress):
        enroll_user(user=user, learning_plan=plan_a, now=at(0))
        enroll_user(user=user, learning_plan=plan_b, now=at(0))
    for material in (plan_a.courses.exclude(pk=shared.pk).get().materials.get(), shared_material,
                     own_b.materials.get()):  # fmt: skip
        progress(finisher, material, DONE, 1)
    progress(learner_in_progress, shared_material, DONE, 1)
    assert plan_enrollment(finisher, plan_b).status == COMPLETED
    assert plan_enrollment(learner_in_progress, plan_b).status == IN_PROGRESS

    # The shared course's tracking is reset for plan A's sake (e.g. retraining on plan A).
    progress(finisher, shared_material, NOT_ATTEMPTED, 5)
    progress(learner_in_progress, shared_material, NOT_ATTEMPTED, 5)

    assert course_enrollment(finisher, shared).status == ENROLLED
    for plan in (plan_a, plan_b):
        enrollment = plan_enrollment(finisher, plan)
        assert (enrollment.status, enrollment.completed_at) == (COMPLETED, at(1))  # untouched
    recomputed = plan_enrollment(learner_in_progress, plan_b)
    assert (recomputed.status, recomputed.completed_at) == (ENROLLED, None)


def test_a_recompute_leaves_a_completed_enrollment_untouched_and_reports_only_new_completions(learner):
    plan = make_plan(courses=1, materials_per_course=1)
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    progress(learner, plan.courses.get().materials.get(), DONE, 2)
    done = plan_enrollment(learner, plan)
    assert (done.status, done.completed_at) == (COMPLETED, at(2))

    CourseEnrollment.objects.update(status=ENROLLED, completed_at=None)  # whatever the courses say now
    assert recompute_plan_statuses([enrollment.pk], now=at(9)) == []

    again = plan_enrollment(learner, plan)
    assert (again.status, again.completed_at, again.updated_at) == (COMPLETED, at(2), done.updated_at)


# --- validity -----------------------------------------------------------------------------------------------------


def test_validity_days_count_from_the_enrollment(learner):
    plan = LearningPlanFactory(validity_days=30)
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    assert (enrollment.validity_start, enrollment.validity_end) == (at(0), at(30 * 24))


def test_validity_starts_at_the_plans_start_date_when_that_is_later_than_the_enrollment(learner):
    plan = LearningPlanFactory(start_date=datetime.date(2026, 2, 1), validity_days=10)
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    plan_start = datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)
    assert (enrollment.validity_start, enrollment.validity_end) == (plan_start, plan_start + datetime.timedelta(10))


def test_a_plan_start_date_in_the_past_does_not_move_the_validity_start(learner):
    plan = LearningPlanFactory(start_date=datetime.date(2025, 6, 1))
    assert validity_for(plan, at(0)) == (at(0), None)


def test_validity_ends_at_the_end_of_the_plans_end_date(learner):
    plan = LearningPlanFactory(end_date=datetime.date(2026, 3, 31))
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    assert enrollment.validity_start == at(0)
    assert enrollment.validity_end == datetime.datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC)


def test_validity_days_win_over_an_end_date(learner):
    plan = LearningPlanFactory(validity_days=7, end_date=datetime.date(2026, 12, 31))
    assert validity_for(plan, at(0)) == (at(0), at(7 * 24))


def test_validity_is_open_without_days_or_end_date(learner):
    enrollment = enroll_user(user=learner, learning_plan=LearningPlanFactory(), now=at(0))
    assert (enrollment.validity_start, enrollment.validity_end) == (at(0), None)
