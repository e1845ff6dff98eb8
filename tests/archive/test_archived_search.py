"""The Archived view's search and "archived by" choices, which run on indexes built for a million records."""

import pytest

from archive.selectors import archivers_of_plan, filter_archived
from archive.services import archive_enrollments
from enrollments.services import enroll_user
from tests.factories import SuperadminFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived_plan():
    plan = make_plan(courses=1)
    other_plan = make_plan(courses=1)
    first_admin, second_admin, elsewhere = (SuperadminFactory(username=n) for n in ("zoe", "abe", "elsewhere"))
    people = [
        UserFactory(username="ada.l", first_name="Ada", last_name="Lovelace"),
        UserFactory(username="grace", first_name="Grace", last_name="Hopper"),
        UserFactory(username="alan_t", first_name="Alan", last_name="Turing"),
    ]
    for person, admin in zip(people, (first_admin, second_admin, second_admin), strict=True):
        enrollment = enroll_user(user=person, learning_plan=plan)
        archive_enrollments(enrollment_ids=[enrollment.pk], actor=admin, mode="reenroll")
    outsider = enroll_user(user=UserFactory(), learning_plan=other_plan)
    archive_enrollments(enrollment_ids=[outsider.pk], actor=elsewhere, mode="reenroll")
    return plan


def usernames(plan, search):
    records = filter_archived(plan.archived_enrollments.all(), {"search": search})
    return sorted(records.values_list("user_username", flat=True))


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("lovelace", ["ada.l"]),
        ("GRACE", ["grace"]),
        ("a", ["ada.l", "alan_t", "grace"]),
        ("ada love", ["ada.l"]),
        ("ada hopper", []),
        ("_t", ["alan_t"]),
        ("%", []),
    ],
)
def test_search_matches_every_term_in_the_frozen_names(archived_plan, search, expected):
    assert usernames(archived_plan, search) == expected


def test_archived_by_choices_are_the_plans_archivers_by_name(archived_plan):
    assert [name for _, name in archivers_of_plan(archived_plan.pk)] == ["abe", "zoe"]
