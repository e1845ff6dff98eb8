"""The lists cost the same number of queries whatever their size: no query per row."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from enrollments.models import IssuedCertificate, LearningPlanEnrollment
from tests.factories import PowerUserFactory, SuperadminFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

MAX_QUERIES = 10
START = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def plan_of(size: int):
    """A plan of `size` enrollments, every 4th Completed with a rendered certificate (the row menu links it)."""
    plan = make_plan(courses=2, materials_per_course=1)
    enrollments = enroll_in_bulk(plan, size, prefix=f"q{size}_", start=START, step=datetime.timedelta(hours=1))
    completed = enrollments[::4]
    LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in completed]).update(status=2, completed_at=START)
    for enrollment in completed:
        certificate = IssuedCertificate.objects.create(
            user_id=enrollment.user_id, learning_plan=plan, rendered_at=timezone.now()
        )
        certificate.file.save("c.pdf", ContentFile(b"%PDF-1.4"), save=True)
    return plan


PAGES = ["", "?per_page=200", "?last=1", "?page=2", "?status=2", "?search=q&user_status=active", "?sort=username"]


@pytest.mark.parametrize("size", [30, 300])
@pytest.mark.parametrize("query", PAGES)
def test_the_active_view_needs_the_same_few_queries_at_any_size(client, db, django_assert_max_num_queries, size, query):
    plan = plan_of(size)
    client.force_login(SuperadminFactory())
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("enrollments:plan_enrollments", args=[plan.pk]) + query)
    assert response.status_code == 200
    assert "Download certificate" in response.content.decode()


@pytest.mark.parametrize("size", [30, 300])
def test_a_keyset_page_needs_the_same_few_queries_at_any_size(client, db, django_assert_max_num_queries, size):
    plan = plan_of(size)
    client.force_login(SuperadminFactory())
    middle = LearningPlanEnrollment.objects.filter(learning_plan=plan).order_by("-enrolled_at", "-id")[size // 2]
    cursor = f"{middle.enrolled_at.isoformat()}|{middle.pk}"
    base = reverse("enrollments:plan_enrollments", args=[plan.pk])
    for position in ("after", "before"):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = client.get(base, {position: cursor})
        assert response.status_code == 200
        assert "<tr data-enrollment-id" in response.content.decode()


@pytest.mark.parametrize("plans", [3, 30])
def test_the_plans_list_needs_the_same_few_queries_for_any_number_of_plans(
    client, db, django_assert_max_num_queries, plans
):
    power_user = PowerUserFactory()
    for _ in range(plans):
        plan = make_plan(courses=1, materials_per_course=0)
        plan.power_users.add(power_user)
        enroll_in_bulk(plan, 3, prefix=f"p{plan.pk}_")
    client.force_login(power_user)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("enrollments:plan_list"))
    assert response.status_code == 200
