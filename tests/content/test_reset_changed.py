"""SPEC §13: "reset only what changed" deletes exactly the completed tracking done before a material's last
substantive change, and the previews count exactly what it resets and who is Completed again at once."""

from __future__ import annotations

import datetime
import random

import pytest
from django.urls import reverse

from archive.content import completed_again_count
from archive.models import ArchivedPlanEnrollment
from archive.previews import preview_one, preview_selection
from archive.services import archive_enrollments, check_shared_courses
from enrollments.models import (
    CourseEnrollment,
    EnrollmentStatus,
    LearningPlanEnrollment,
    MaterialTracking,
    TrackingStatus,
    TrainingMaterial,
)
from enrollments.services import enroll_user
from tests.factories import CourseFactory, TrainingMaterialFactory, UserFactory, add_course, make_plan

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def day(n: int) -> datetime.datetime:
    return T0 + datetime.timedelta(days=n)


def random_world(seed: int):
    """A plan of 3 courses (one without material) with materials changed at random dates, learners whose tracking
    is any mix of statuses and completion dates (some missing), and some manual course completions."""
    rng = random.Random(seed)
    plan = make_plan(courses=0)
    for _ in range(2):
        course = CourseFactory()
        add_course(plan, course)
        for position in range(4):
            TrainingMaterialFactory(
                course=course, position=position, content_changed_at=rng.choice([None, day(10), day(20)])
            )
    add_course(plan, CourseFactory())  # no material: only a manual completion completes it
    materials = list(TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan))
    learners = [UserFactory() for _ in range(12)]
    for learner in learners:
        enroll_user(user=learner, learning_plan=plan, now=day(0))
    MaterialTracking.objects.bulk_create(
        MaterialTracking(
            user=learner,
            material=material,
            status=status,
            completed_at=(rng.choice([None, day(5), day(15), day(20), day(25)]) if status == "completed" else None),
        )
        for learner in learners
        for material in materials
        for status in [rng.choice(["completed", "completed", "in_progress", "not_attempted", None])]
        if status
    )
    for course_enrollment in CourseEnrollment.objects.filter(user__in=learners):
        if rng.random() < 0.4:
            CourseEnrollment.objects.filter(pk=course_enrollment.pk).update(manually_completed_at=day(3))
    return plan, learners


def serial_model(plan):
    """The rule, one row at a time: which tracking rows survive and which manual completions stay."""
    changed_at = dict(
        TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).values_list("pk", "content_changed_at")
    )
    course_of = dict(TrainingMaterial.objects.filter(pk__in=changed_at).values_list("pk", "course_id"))
    surviving, losing_courses = set(), set()
    for row in MaterialTracking.objects.filter(material_id__in=changed_at):
        changed = changed_at[row.material_id]
        lost = (
            row.status == TrackingStatus.COMPLETED
            and changed is not None
            and (row.completed_at is None or row.completed_at < changed)
        )
        if lost:
            losing_courses.add((row.user_id, course_of[row.material_id]))
        else:
            surviving.add((row.user_id, row.material_id, row.status))
    manual = {
        (ce.user_id, ce.course_id)
        for ce in CourseEnrollment.objects.filter(manually_completed_at__isnull=False)
        if (ce.user_id, ce.course_id) not in losing_courses
    }
    return surviving, manual


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_reset_only_what_changed_deletes_exactly_what_the_rule_says(superadmin, seed):
    plan, learners = random_world(seed)
    expected_tracking, expected_manual = serial_model(plan)
    before = MaterialTracking.objects.count()
    selection = LearningPlanEnrollment.objects.filter(learning_plan=plan)
    preview = preview_selection(
        plan, selection, mode="reenroll", reset_tracking="changed", notify=False, shares=check_shared_courses(plan)
    )

    ids = list(selection.values_list("pk", flat=True))
    outcome = archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll", reset_tracking="changed")

    assert outcome.counts == {"archived": len(learners)}
    assert set(MaterialTracking.objects.values_list("user_id", "material_id", "status")) == expected_tracking
    assert preview.tracking_to_reset == before - len(expected_tracking)
    manual = set(
        CourseEnrollment.objects.filter(manually_completed_at__isnull=False).values_list("user_id", "course_id")
    )
    assert manual == expected_manual
    assert set(ArchivedPlanEnrollment.objects.values_list("reset_tracking", flat=True)) == {"changed"}
    # The count the bulk preview showed is who came back Completed at once.
    completed = LearningPlanEnrollment.objects.filter(learning_plan=plan, status=EnrollmentStatus.COMPLETED).count()
    assert preview.completed_again == completed


@pytest.fixture
def three_learners(superadmin):
    """A 1-course plan of 2 materials; "safety" was changed on day 10. Ann completed both on day 12 (after the
    change), Bob on day 5 (before it), Cid completed only one."""
    plan = make_plan(courses=1, materials_per_course=0)
    course = plan.plan_courses.get().course
    safety = TrainingMaterialFactory(course=course, title="Safety", content_changed_at=day(10))
    driving = TrainingMaterialFactory(course=course, title="Driving")
    people = {}
    for name, done in (("ann", [(safety, 12), (driving, 12)]), ("bob", [(safety, 5), (driving, 5)]), ("cid", [])):
        people[name] = UserFactory(username=name)
        enroll_user(user=people[name], learning_plan=plan, now=day(0))
        for material, when in done:
            MaterialTracking.objects.create(
                user=people[name], material=material, status="completed", completed_at=day(when)
            )
    MaterialTracking.objects.create(user=people["cid"], material=driving, status="completed", completed_at=day(3))
    return plan, people


@pytest.mark.parametrize(("reset", "expected"), [("false", {"ann", "bob"}), ("changed", {"ann"}), ("true", set())])
def test_the_completed_again_count_is_who_has_nothing_left_to_do(superadmin, three_learners, reset, expected):
    plan, people = three_learners
    user_ids = [user.pk for user in people.values()]
    assert completed_again_count(plan, user_ids, reset) == len(expected)

    ids = list(LearningPlanEnrollment.objects.filter(learning_plan=plan).values_list("pk", flat=True))
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll", reset_tracking=reset)
    completed = set(
        LearningPlanEnrollment.objects.filter(learning_plan=plan, status=EnrollmentStatus.COMPLETED).values_list(
            "user__username", flat=True
        )
    )
    assert completed == expected


def test_the_single_preview_says_what_the_learner_has_left_to_do(superadmin, three_learners):
    plan, people = three_learners
    enrollment = LearningPlanEnrollment.objects.get(user=people["bob"])
    shares = check_shared_courses(plan)

    keep = preview_one(enrollment, mode="reenroll", reset_tracking=False, notify=False, shares=shares)
    assert keep.todo.total == 0 and keep.tracking_to_reset == 0  # Completed again at once

    changed = preview_one(enrollment, mode="reenroll", reset_tracking="changed", notify=False, shares=shares)
    assert changed.tracking_to_reset == 1 and changed.materials_to_redo == 1
    assert [m["title"] for m in changed.todo.never_completed] == ["Safety"]


def test_a_keep_tracking_rule_warns_how_many_would_be_completed_again_at_once(client, superadmin, three_learners):
    plan, people = three_learners
    LearningPlanEnrollment.objects.filter(learning_plan=plan).update(status=EnrollmentStatus.COMPLETED)
    client.force_login(superadmin)
    form = {"valid_for_months": "12", "anchor": "completion", "window_days": "30", "notify": "on"}
    url = reverse("archive:retraining_forecast", args=[plan.pk])

    kept = client.get(url, {**form, "reset_tracking": "false", "user_statuses": ["active"]}, HTTP_HX_REQUEST="true")

    assert "Today 2 of the plan's Completed learners would be Completed again at once" in kept.content.decode()
    changed = client.get(
        url, {**form, "reset_tracking": "changed", "user_statuses": ["active"]}, HTTP_HX_REQUEST="true"
    )
    assert "would be Completed again at once, with" not in changed.content.decode()
