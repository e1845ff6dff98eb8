"""Bad input gets a clear message and changes nothing (SPEC §8), even when it meets odd data."""

import pytest
from django.core.exceptions import ValidationError

from archive.models import ArchiveJob
from archive.services import start_archive_job
from enrollments.models import LearningPlanEnrollment
from enrollments.selectors import filter_plan_enrollments
from enrollments.services import enroll_user
from tests.factories import UserFactory, make_plan

pytestmark = pytest.mark.django_db


def test_ids_of_another_plan_are_named_even_when_the_plan_title_holds_a_percent_sign(superadmin):
    plan = make_plan(courses=1, title="100% safety")
    other = make_plan(courses=1)
    mine = enroll_user(user=UserFactory(), learning_plan=plan)
    foreign = enroll_user(user=UserFactory(), learning_plan=other)

    with pytest.raises(ValidationError) as raised:
        start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", enrollment_ids=[mine.pk, foreign.pk])

    assert raised.value.code == "invalid_selection"
    assert str(foreign.pk) in raised.value.messages[0]
    assert "100% safety" in raised.value.messages[0]
    assert not ArchiveJob.objects.exists()


def test_the_last_representable_day_is_a_valid_upper_bound(superadmin):
    plan = make_plan(courses=1)
    enroll_user(user=UserFactory(), learning_plan=plan)

    matching = filter_plan_enrollments(plan, {"enrolled_to": "9999-12-31"})

    assert list(matching) == list(LearningPlanEnrollment.objects.filter(learning_plan=plan))
