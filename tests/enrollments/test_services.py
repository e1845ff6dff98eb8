"""The enrollment services (SPEC §3): enroll, unenroll, record progress, complete a course."""

import datetime
from decimal import Decimal

import django_rq
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from enrollments.jobs import CERTIFICATES_QUEUE, enqueue_certificate_rendering
from enrollments.models import (
    CourseEnrollment,
    IssuedCertificate,
    LearningPlanEnrollment,
    MaterialTracking,
    TrackingStatus,
)
from enrollments.services import complete_course_enrollment, enroll_user, record_material_progress, unenroll_user
from tests.factories import (
    CertificateTemplateFactory,
    CourseFactory,
    LearningPlanFactory,
    SuperadminFactory,
    UserFactory,
    add_course,
    make_plan,
)

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 5, 8, 0, tzinfo=datetime.UTC)
DONE = TrackingStatus.COMPLETED


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def at(hours: float) -> datetime.datetime:
    return T0 + datetime.timedelta(hours=hours)


def complete_everything(user, plan, hours: float = 1) -> None:
    for course in plan.courses.all():
        for material in course.materials.all():
            record_material_progress(user=user, material=material, status=DONE, now=at(hours))


@pytest.fixture
def learner():
    return UserFactory(first_name="Ada", last_name="Lovelace")


@pytest.fixture
def certificates_queue():
    queue = django_rq.get_queue(CERTIFICATES_QUEUE)
    queue.empty()
    yield queue
    queue.empty()


# --- enroll -------------------------------------------------------------------------------------------------------


def test_enrolling_creates_a_course_enrollment_per_course_of_the_plan(learner):
    admin = SuperadminFactory()
    plan = make_plan(courses=3, materials_per_course=1)

    enrollment = enroll_user(user=learner, learning_plan=plan, enrolled_by=admin, now=at(0))

    assert (enrollment.status, enrollment.round, enrollment.enrolled_at, enrollment.enrolled_by) == (0, 1, at(0), admin)
    rows = CourseEnrollment.objects.filter(user=learner)
    assert sorted(rows.values_list("course_id", flat=True)) == sorted(plan.courses.values_list("pk", flat=True))
    assert {(ce.enrolled_at, ce.enrolled_by_id, ce.status) for ce in rows} == {(at(0), admin.pk, 0)}


def test_enrolling_reuses_the_course_enrollment_the_learner_has_from_another_plan(learner):
    first_plan = make_plan(courses=1, materials_per_course=2)
    shared = first_plan.courses.get()
    second_plan = make_plan(courses=1, materials_per_course=1)
    add_course(second_plan, shared)
    enroll_user(user=learner, learning_plan=first_plan, now=at(0))
    record_material_progress(user=learner, material=shared.materials.first(), status=DONE, now=at(1))
    existing = CourseEnrollment.objects.get(user=learner, course=shared)

    enrollment = enroll_user(user=learner, learning_plan=second_plan, now=at(5))

    reused = CourseEnrollment.objects.get(user=learner, course=shared)
    assert (reused.pk, reused.enrolled_at, reused.status) == (existing.pk, at(0), 1)
    assert CourseEnrollment.objects.filter(user=learner).count() == 2
    assert enrollment.status == 1  # the progress made through the first plan counts at once


def test_enrolling_twice_in_the_same_plan_is_refused(learner):
    plan = make_plan(courses=1)
    enroll_user(user=learner, learning_plan=plan)

    with pytest.raises(ValidationError) as excinfo:
        enroll_user(user=learner, learning_plan=plan)

    assert excinfo.value.code == "already_enrolled"
    assert LearningPlanEnrollment.objects.filter(user=learner).count() == 1


# --- unenroll -----------------------------------------------------------------------------------------------------


def test_unenrolling_removes_the_plans_course_enrollments_but_keeps_those_another_plan_needs(learner):
    plan = make_plan(courses=2, materials_per_course=1)
    own, shared = plan.courses.order_by("plan_links__position")
    other_plan = LearningPlanFactory()
    add_course(other_plan, shared)
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    enroll_user(user=learner, learning_plan=other_plan, now=at(0))

    unenroll_user(enrollment=enrollment)

    assert not LearningPlanEnrollment.objects.filter(user=learner, learning_plan=plan).exists()
    assert list(CourseEnrollment.objects.filter(user=learner).values_list("course_id", flat=True)) == [shared.pk]


def test_unenrolling_takes_the_live_certificate_and_its_file_away_but_keeps_the_tracking(
    learner, django_capture_on_commit_callbacks
):
    plan = make_plan(courses=1, materials_per_course=2, template=True)
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    complete_everything(learner, plan)
    certificate = IssuedCertificate.objects.get(user=learner, learning_plan=plan)
    certificate.file.save("certificate.pdf", ContentFile(b"%PDF-1.7 test"), save=True)
    stored = certificate.file.name
    assert default_storage.exists(stored)

    with django_capture_on_commit_callbacks(execute=True):
        unenroll_user(enrollment=enrollment)

    assert not IssuedCertificate.objects.filter(user=learner).exists()
    assert not default_storage.exists(stored)
    assert not CourseEnrollment.objects.filter(user=learner).exists()
    assert MaterialTracking.objects.filter(user=learner, status=DONE).count() == 2


def test_re_enrolling_after_an_unenroll_resumes_where_the_learner_was(learner):
    plan = make_plan(courses=2, materials_per_course=2, template=True)
    first_course, second_course = plan.courses.order_by("plan_links__position")
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    for material in first_course.materials.all():
        record_material_progress(user=learner, material=material, status=DONE, now=at(1))
    unenroll_user(enrollment=enrollment)

    again = enroll_user(user=learner, learning_plan=plan, now=at(10))

    assert again.status == 1
    assert CourseEnrollment.objects.get(user=learner, course=first_course).status == 2
    for material in second_course.materials.all():
        record_material_progress(user=learner, material=material, status=DONE, now=at(12))
    again.refresh_from_db()
    assert (again.status, again.completed_at) == (2, at(12))
    assert IssuedCertificate.objects.filter(user=learner, learning_plan=plan, issued_at=at(12)).exists()


def test_re_enrolling_with_everything_done_completes_at_once_with_a_new_certificate(learner):
    plan = make_plan(courses=1, materials_per_course=1, template=True)
    enrollment = enroll_user(user=learner, learning_plan=plan, now=at(0))
    complete_everything(learner, plan, hours=1)
    unenroll_user(enrollment=enrollment)
    assert not IssuedCertificate.objects.exists()

    again = enroll_user(user=learner, learning_plan=plan, now=at(20))

    assert (again.status, again.completed_at) == (2, at(20))
    assert IssuedCertificate.objects.get(user=learner, learning_plan=plan).issued_at == at(20)


# --- progress and completion --------------------------------------------------------------------------------------


def test_recording_progress_updates_the_learners_single_tracking_row(learner):
    plan = make_plan(courses=1, materials_per_course=1)
    material = plan.courses.get().materials.get()
    enroll_user(user=learner, learning_plan=plan, now=at(0))

    record_material_progress(user=learner, material=material, status=TrackingStatus.IN_PROGRESS, now=at(1))
    record_material_progress(user=learner, material=material, status=DONE, score=Decimal("87.50"), now=at(2))

    tracking = MaterialTracking.objects.get(user=learner, material=material)
    assert (tracking.status, tracking.score, tracking.completed_at) == (DONE, Decimal("87.50"), at(2))
    assert MaterialTracking.objects.filter(user=learner).count() == 1
    assert LearningPlanEnrollment.objects.get(user=learner).status == 2


def test_an_unknown_tracking_status_is_refused_and_changes_nothing(learner):
    plan = make_plan(courses=1, materials_per_course=1)
    material = plan.courses.get().materials.get()
    enroll_user(user=learner, learning_plan=plan)

    with pytest.raises(ValidationError) as excinfo:
        record_material_progress(user=learner, material=material, status="passed")

    assert excinfo.value.code == "invalid_status"
    assert not MaterialTracking.objects.exists()


def test_completing_a_plan_with_a_template_issues_the_certificate_row_and_queues_its_pdf(
    learner, django_capture_on_commit_callbacks, certificates_queue
):
    plan = LearningPlanFactory(certificate_template=CertificateTemplateFactory())
    course = CourseFactory(title="Induction day")
    add_course(plan, course)
    enroll_user(user=learner, learning_plan=plan, now=at(0))
    course_enrollment = CourseEnrollment.objects.get(user=learner, course=course)

    with django_capture_on_commit_callbacks(execute=True):
        complete_course_enrollment(course_enrollment=course_enrollment, now=at(3))

    certificate = IssuedCertificate.objects.get(user=learner, learning_plan=plan)
    assert (certificate.issued_at, certificate.template_id, certificate.file.name) == (
        at(3),
        plan.certificate_template_id,
        "",
    )
    queued = certificates_queue.jobs
    assert [job.args for job in queued] == [([certificate.pk],)]


def test_completing_a_plan_without_a_template_issues_no_certificate(learner):
    plan = make_plan(courses=1, materials_per_course=1)
    enroll_user(user=learner, learning_plan=plan)

    complete_everything(learner, plan)

    assert LearningPlanEnrollment.objects.get(user=learner).status == 2
    assert not IssuedCertificate.objects.exists()


def test_certificate_pdfs_are_rendered_by_jobs_of_a_few_each_so_an_archive_job_can_start_in_between(
    certificates_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues on commit
        enqueue_certificate_rendering(list(range(1, 26)))

    assert [job.args[0] for job in certificates_queue.jobs] == [
        list(range(1, 11)),
        list(range(11, 21)),
        list(range(21, 26)),
    ]
