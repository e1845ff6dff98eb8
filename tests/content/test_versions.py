"""SPEC §13: each archive records the plan's content once per distinct content, and the diff against the round
before names what was added, removed, changed (and only renamed)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from archive.content import CONTENT_NOT_RECORDED, NO_EARLIER_VERSION, archived_diff, current_contents, enrollment_diff
from archive.models import ArchivedPlanEnrollment, PlanContentVersion
from archive.services import archive_enrollments, delete_archived_enrollments
from enrollments.content import mark_materials_changed
from enrollments.models import LearningPlanCourse, LearningPlanEnrollment, TrainingMaterial
from tests.factories import CourseFactory, TrainingMaterialFactory, add_course, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db


def archive_all(plan, actor, **options) -> None:
    ids = list(LearningPlanEnrollment.objects.filter(learning_plan=plan).values_list("pk", flat=True))
    outcome = archive_enrollments(enrollment_ids=ids, actor=actor, mode="reenroll", **options)
    assert outcome.counts == {"archived": len(ids)}


def latest_record(enrollment) -> ArchivedPlanEnrollment:
    return ArchivedPlanEnrollment.objects.filter(enrollment_id=enrollment.pk).latest("round")


def titles(materials) -> list[str]:
    return [m["title"] for m in materials]


def test_many_archives_of_one_plan_write_one_version_with_the_courses_in_order(superadmin, settings):
    settings.ARCHIVE_BATCH_SIZE = 7  # several batches, each finding the version the first one wrote
    plan = make_plan(courses=2, materials_per_course=2)
    enroll_in_bulk(plan, 30)

    archive_all(plan, superadmin)

    version = PlanContentVersion.objects.get()
    assert ArchivedPlanEnrollment.objects.filter(content_version=version).count() == 30
    links = list(plan.plan_courses.order_by("position").select_related("course"))
    assert [course["title"] for course in version.courses] == [link.course.title for link in links]
    first = version.courses[0]["materials"]
    assert [m["title"] for m in first] == list(
        links[0].course.materials.order_by("position").values_list("title", flat=True)
    )
    assert set(first[0]) == {"id", "title", "kind", "position", "content_changed_at"}
    assert current_contents([plan.pk])[plan.pk]["sha256"] == version.sha256  # one place computes the digest


def test_the_diff_after_two_rounds_names_what_was_added_removed_changed_and_renamed(superadmin):
    plan = make_plan(courses=2, materials_per_course=3)
    (enrollment,) = enroll_in_bulk(plan, 1)
    first_course = plan.plan_courses.order_by("position").first().course
    kept, renamed, removed = first_course.materials.order_by("position")
    archive_all(plan, superadmin)
    first = latest_record(enrollment)
    assert archived_diff(first).baseline_note == NO_EARLIER_VERSION

    added = TrainingMaterialFactory(course=first_course, title="Night driving", position=9)
    TrainingMaterial.objects.filter(pk=renamed.pk).update(title="Loading bay (typo fixed)")
    removed.delete()
    mark_materials_changed([kept.pk])
    diff = enrollment_diff(enrollment.pk, plan.pk)
    assert (titles(diff.added), titles(diff.removed), titles(diff.changed)) == (
        ["Night driving"],
        [removed.title],
        [kept.title],
    )
    assert [(m["old_title"], m["title"]) for m in diff.renamed] == [(renamed.title, "Loading bay (typo fixed)")]

    archive_all(plan, superadmin)
    second = latest_record(enrollment)
    assert second.content_version_id != first.content_version_id
    recorded = archived_diff(second)  # the details page: this round's content against the round before
    assert (titles(recorded.added), titles(recorded.changed)) == (["Night driving"], [kept.title])
    assert added.pk in {m["id"] for m in recorded.added}
    assert enrollment_diff(enrollment.pk, plan.pk).unchanged  # nothing since round 2


def test_a_rename_is_not_a_substantive_change(superadmin):
    plan = make_plan(courses=1, materials_per_course=2)
    (enrollment,) = enroll_in_bulk(plan, 1)
    archive_all(plan, superadmin)
    material = TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).first()
    TrainingMaterial.objects.filter(pk=material.pk).update(title="Safety (spelling)")

    diff = enrollment_diff(enrollment.pk, plan.pk)
    assert diff.changed == [] and titles(diff.renamed) == ["Safety (spelling)"]
    assert TrainingMaterial.objects.get(pk=material.pk).content_changed_at is None


def test_a_course_removed_from_the_plan_and_added_again_comes_back_to_the_same_version(superadmin):
    plan = make_plan(courses=2, materials_per_course=2)
    (enrollment,) = enroll_in_bulk(plan, 1)
    archive_all(plan, superadmin)
    link = plan.plan_courses.order_by("position").last()
    course, position = link.course, link.position
    link.delete()

    archive_all(plan, superadmin)
    without = latest_record(enrollment)
    assert len(archived_diff(without).removed) == 2

    LearningPlanCourse.objects.create(learning_plan=plan, course=course, position=position)
    diff = enrollment_diff(enrollment.pk, plan.pk)
    assert {m["id"] for m in diff.added} == set(course.materials.values_list("pk", flat=True))
    archive_all(plan, superadmin)
    assert (
        latest_record(enrollment).content_version_id
        == ArchivedPlanEnrollment.objects.get(enrollment_id=enrollment.pk, round=1).content_version_id
    )
    assert PlanContentVersion.objects.count() == 2


def test_a_course_shared_by_two_plans_changed_once_shows_as_changed_in_both(superadmin):
    shared = CourseFactory(title="Shared safety")
    material = TrainingMaterialFactory(course=shared, title="Fire exits")
    plans = [make_plan(courses=1, materials_per_course=1), make_plan(courses=1, materials_per_course=1)]
    enrollments = []
    for plan in plans:
        add_course(plan, shared)
        enrollments += enroll_in_bulk(plan, 1, prefix=f"p{plan.pk}-")
        archive_all(plan, superadmin)
    assert PlanContentVersion.objects.count() == 2

    mark_materials_changed([material.pk])

    for plan, enrollment in zip(plans, enrollments, strict=True):
        diff = enrollment_diff(enrollment.pk, plan.pk)
        assert titles(diff.changed) == ["Fire exits"] and not diff.added and not diff.removed


def test_records_archived_before_contents_were_recorded_say_so(superadmin, settings):
    plan = make_plan(courses=1, materials_per_course=2)
    (enrollment,) = enroll_in_bulk(plan, 1)
    settings.ARCHIVE_RECORD_CONTENT = False  # as an archive made before this feature
    archive_all(plan, superadmin)
    old = latest_record(enrollment)
    assert old.content_version is None and archived_diff(old) is None
    assert not PlanContentVersion.objects.exists()

    settings.ARCHIVE_RECORD_CONTENT = True
    assert enrollment_diff(enrollment.pk, plan.pk).baseline_note == CONTENT_NOT_RECORDED
    archive_all(plan, superadmin)
    assert archived_diff(latest_record(enrollment)).baseline_note == CONTENT_NOT_RECORDED


def test_deleting_archived_records_deletes_the_versions_no_record_references_any_more(superadmin):
    plan = make_plan(courses=1, materials_per_course=1)
    enroll_in_bulk(plan, 2)
    archive_all(plan, superadmin)
    first_version = PlanContentVersion.objects.get()
    TrainingMaterialFactory(course=plan.plan_courses.get().course)
    archive_all(plan, superadmin)
    round_one = ArchivedPlanEnrollment.objects.filter(round=1)
    round_two = ArchivedPlanEnrollment.objects.filter(round=2)

    delete_archived_enrollments(archives=round_one[:1], actor=superadmin)
    assert PlanContentVersion.objects.filter(pk=first_version.pk).exists()  # the other round-1 record keeps it

    delete_archived_enrollments(archives=round_one, actor=superadmin)
    assert list(PlanContentVersion.objects.values_list("pk", flat=True)) == [round_two.first().content_version_id]


def test_a_material_marked_changed_keeps_its_date_in_the_recorded_content(superadmin):
    plan = make_plan(courses=1, materials_per_course=1)
    enroll_in_bulk(plan, 1)
    material = TrainingMaterial.objects.get(course__plan_links__learning_plan=plan)
    when = datetime.datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=datetime.UTC)
    mark_materials_changed([material.pk], now=when)

    archive_all(plan, superadmin)

    recorded = PlanContentVersion.objects.get().courses[0]["materials"][0]
    assert recorded["content_changed_at"] == "2026-05-01T08:30:15.123456Z"
    assert timezone.now() > when
