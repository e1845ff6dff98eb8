"""The Active list's search: every word must match a name, the username or the e-mail of the learner."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollments import filters, selectors
from enrollments.services import enroll_user
from tests.factories import SuperadminFactory, UserFactory, make_plan


@pytest.fixture
def plan(db):
    plan = make_plan(courses=1, materials_per_course=1, title="Analytical engines")
    admin = SuperadminFactory()
    for first, last, username in [
        ("Ada", "Lovelace", "alovelace"),
        ("Ada", "Byron", "abyron"),
        ("Grace", "Hopper", "ghopper"),
        ("Charles", "Babbage", "adams.c"),  # "ada" inside the username
    ]:
        user = UserFactory(first_name=first, last_name=last, username=username)
        enroll_user(user=user, learning_plan=plan, enrolled_by=admin)
    UserFactory(first_name="Ada", last_name="Elsewhere", username="aelsewhere")  # not in the plan
    return plan


def found(plan, search: str) -> list[str]:
    return sorted(e.user.username for e in selectors.filter_plan_enrollments(plan, {"search": search}))


@pytest.mark.parametrize("ids_max", [filters.SEARCH_IDS_MAX, 0], ids=["few matching learners", "many"])
def test_search_finds_the_plans_learners_matching_every_word(plan, monkeypatch, ids_max):
    # Few matching learners are looked up by id, many through a subquery: both give the same rows.
    monkeypatch.setattr(filters, "SEARCH_IDS_MAX", ids_max)

    assert found(plan, "ada") == ["abyron", "adams.c", "alovelace"]
    assert found(plan, "ADA love") == ["alovelace"]
    assert found(plan, "grace@") == []  # e-mails are <username>@example.com
    assert found(plan, "ghopper@example") == ["ghopper"]
    assert found(plan, "nobody") == []


def test_people_outside_the_plan_do_not_send_a_search_the_slow_way(plan, monkeypatch):
    # Three "Ada"s are in the plan and one is not: with room for three ids, the plan's own three are looked up by id
    # (counting the whole organisation's four would switch to the subquery that walks the plan in date order).
    monkeypatch.setattr(filters, "SEARCH_IDS_MAX", 3)
    with CaptureQueriesContext(connection) as captured:
        assert found(plan, "ada") == ["abyron", "adams.c", "alovelace"]
    listing = [q["sql"] for q in captured if "enrollments_learningplanenrollment" in q["sql"].split("WHERE")[0]]
    assert listing and all("= ANY(" in sql for sql in listing)
