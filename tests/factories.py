"""factory_boy factories for the live data."""

import datetime

import factory
from django.utils import timezone

from enrollments.models import (
    CertificateTemplate,
    Course,
    LearningPlan,
    LearningPlanCourse,
    TrainingMaterial,
)
from lms_admin.accounts.models import Level, ManagerLink, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"learner{n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    level = Level.USER
    password = factory.django.Password("password")


class SuperadminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    level = Level.SUPERADMIN


class PowerUserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"power{n}")
    level = Level.POWER_USER


class ManagerLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ManagerLink

    manager = factory.SubFactory(UserFactory)
    employee = factory.SubFactory(UserFactory)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    title = factory.Sequence(lambda n: f"Course {n}")
    code = factory.Sequence(lambda n: f"C{n:04d}")


class TrainingMaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingMaterial

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Material {n}")
    position = factory.Sequence(lambda n: n)


class CertificateTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificateTemplate

    name = "Standard certificate"
    html = (
        "<html><body><h1>Certificate</h1><p>{{ learner_name }}</p><p>{{ plan_title }}</p>"
        "<p>{{ completed_on }}</p><p>{{ credits }} CEUs</p></body></html>"
    )


class LearningPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningPlan

    title = factory.Sequence(lambda n: f"Learning plan {n}")
    code = factory.Sequence(lambda n: f"LP{n:03d}")
    published_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=30))
    credits = "2.50"


def make_plan(*, courses: int = 2, materials_per_course: int = 2, template: bool = False, **kwargs) -> LearningPlan:
    """A plan with `courses` new courses of `materials_per_course` materials each."""
    if template:
        kwargs.setdefault("certificate_template", CertificateTemplateFactory())
    plan = LearningPlanFactory(**kwargs)
    for position in range(courses):
        course = CourseFactory()
        for m in range(materials_per_course):
            TrainingMaterialFactory(course=course, position=m)
        LearningPlanCourse.objects.create(learning_plan=plan, course=course, position=position)
    return plan


def add_course(plan: LearningPlan, course: Course) -> None:
    position = plan.plan_courses.count()
    LearningPlanCourse.objects.create(learning_plan=plan, course=course, position=position)


def enroll_in_bulk(
    plan: LearningPlan,
    count: int,
    *,
    prefix: str = "bulk",
    status: int = 0,
    start: datetime.datetime | None = None,
    step: datetime.timedelta = datetime.timedelta(hours=1),
) -> list:
    """`count` new learners enrolled in `plan` with one INSERT each for users and enrollments.

    Learner i is `<prefix><i:05d>` ("First<i> Last<i>"), enrolled at `start + i * step` (oldest first).
    Passwords are unusable: log in with `client.force_login`.
    """
    from enrollments.models import LearningPlanEnrollment

    start = start or timezone.now() - step * (count + 1)
    users = User.objects.bulk_create(
        User(
            username=f"{prefix}{i:05d}",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            email=f"{prefix}{i:05d}@example.com",
            password="!",
        )
        for i in range(count)
    )
    return LearningPlanEnrollment.objects.bulk_create(
        LearningPlanEnrollment(
            user=user,
            learning_plan=plan,
            enrolled_at=start + step * i,
            validity_start=start + step * i,
            status=status,
        )
        for i, user in enumerate(users)
    )
