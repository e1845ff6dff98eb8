"""SPEC §9: the number of queries per batch does not depend on the batch size or the number of courses."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments
from enrollments.models import IssuedCertificate, LearningPlanEnrollment, MaterialTracking, TrainingMaterial
from enrollments.services import enroll_user, record_material_progress, refresh_after_progress
from lms_admin.accounts.models import User
from tests.factories import make_plan

pytestmark = pytest.mark.django_db

PER_BATCH = 15  # SPEC §9, counted with the batch's SAVEPOINT and RELEASE
CONSTANT = 2  # reading the rounds before any lock, plus slack for the connection's first query


def learners(count: int) -> list[User]:
    """Learners without password hashing (the hashing, not the archive, would dominate the test's time)."""
    start = User.objects.count()
    return User.objects.bulk_create(
        User(username=f"bulk{start + n}", first_name="Bulk", last_name=str(n), email=f"bulk{start + n}@example.com")
        for n in range(count)
    )


def enrolled(plan, count: int, *, complete_every: int = 3) -> list[int]:
    """`count` learners in the plan; every `complete_every`-th has completed it (and has a certificate)."""
    materials = list(TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan))
    users = learners(count)
    ids = [enroll_user(user=user, learning_plan=plan).pk for user in users]
    done = [user for n, user in enumerate(users) if n % complete_every == 0]
    now = timezone.now()
    MaterialTracking.objects.bulk_create(
        MaterialTracking(user=user, material=m, status="completed", completed_at=now)
        for user in done
        for m in materials
    )
    refresh_after_progress([(user.pk, m.course_id) for user in done for m in materials], now=now)
    for certificate in IssuedCertificate.objects.filter(learning_plan=plan):
        certificate.file.save(f"c{certificate.pk}.pdf", ContentFile(b"%PDF " + str(certificate.pk).encode()))
    return ids


@pytest.mark.parametrize(("mode", "reset"), [("reenroll", False), ("reenroll", True), ("unenroll", True)])
def test_ten_and_forty_enrollments_cost_the_same_queries_per_batch(settings, superadmin, mode, reset):
    settings.ARCHIVE_BATCH_SIZE = 5
    plan = make_plan(courses=3, materials_per_course=2, template=True)
    ids = enrolled(plan, 50)
    assert IssuedCertificate.objects.exists()

    per_batch = []
    for chunk in (ids[:10], ids[10:50]):
        with CaptureQueriesContext(connection) as captured:
            outcome = archive_enrollments(
                enrollment_ids=chunk, actor=superadmin, mode=mode, reset_tracking=reset, notify=True
            )
        assert outcome.counts == {"archived": len(chunk)}
        batches = len(chunk) // settings.ARCHIVE_BATCH_SIZE
        assert len(captured) <= batches * PER_BATCH + CONSTANT
        per_batch.append((len(captured) - 1) / batches)
    assert per_batch[0] == per_batch[1], "each batch of 5 costs the same, 2 batches or 8"


@pytest.mark.parametrize("mode", ["reenroll", "unenroll"])
def test_forty_enrollments_stay_within_the_bound(settings, superadmin, django_assert_max_num_queries, mode):
    settings.ARCHIVE_BATCH_SIZE = 5
    plan = make_plan(courses=2, materials_per_course=1, template=True)
    ids = enrolled(plan, 40)
    with django_assert_max_num_queries(8 * PER_BATCH + CONSTANT):
        outcome = archive_enrollments(enrollment_ids=ids, actor=superadmin, mode=mode, notify=True)
    assert outcome.counts == {"archived": 40}


@pytest.mark.parametrize("courses", [2, 20])
@pytest.mark.parametrize(("mode", "reset"), [("reenroll", False), ("reenroll", True), ("unenroll", True)])
def test_a_single_archive_costs_at_most_25_queries_whatever_the_number_of_courses(
    superadmin, learner, django_assert_max_num_queries, courses, mode, reset
):
    plan = make_plan(courses=courses, materials_per_course=2, template=True)
    enrollment = enroll_user(user=learner, learning_plan=plan)
    for material in TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan):
        record_material_progress(user=learner, material=material, status="completed")
    IssuedCertificate.objects.get().file.save("c.pdf", ContentFile(b"%PDF"), save=True)

    with django_assert_max_num_queries(25):
        outcome = archive_enrollments(
            enrollment_ids=[enrollment.pk], actor=superadmin, mode=mode, reset_tracking=reset, notify=True
        )

    assert outcome.counts == {"archived": 1}
    assert ArchivedPlanEnrollment.objects.get().course_enrollments.count() == courses
    assert ArchivedPlanEnrollment.objects.get().certificate is not None
    live = LearningPlanEnrollment.objects.filter(round=2)
    if mode == "unenroll":
        assert not live.exists()
    else:  # keeping tracking completes the learner again at once: the most queries
        assert live.get().status == (0 if reset else 2)


def test_the_batch_leaves_postgresql_its_plan_cache(superadmin):
    """The foreign-key checks of a batch's new rows are plans PostgreSQL keeps and runs once per row: a batch that
    forced custom plans on its transaction re-planned each of them (SPEC §9: 1.5× the floor instead of 1×)."""
    plan = make_plan(courses=2, materials_per_course=1, template=True)
    ids = enrolled(plan, 3)
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        before = cursor.fetchone()[0]

        outcome = archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll", notify=True)

        cursor.execute("SHOW plan_cache_mode")  # still the test's transaction, which the batches' SET LOCAL is part of
        assert outcome.counts == {"archived": 3}
        assert cursor.fetchone()[0] == before == "auto"
