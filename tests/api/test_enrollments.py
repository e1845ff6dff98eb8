"""GET learning-plans/{id}/enrollments (SPEC §7): the list envelope, paging edges, filters, visibility."""

import datetime

import pytest

from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.accounts.models import User
from tests.api.conftest import complete_plan
from tests.factories import ManagerLinkFactory, PowerUserFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db

ENROLLMENT_KEYS = {
    "id",
    "user",
    "status",
    "round",
    "enrolled_at",
    "validity_start",
    "validity_end",
    "completed_at",
}
DAY = datetime.datetime(2026, 5, 1, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture
def plan():
    """A plan with five learners enrolled a day apart (learner0 first); learner4 completed, learner3 deactivated."""
    plan = make_plan(courses=1, materials_per_course=1, validity_days=30)
    learners = [UserFactory(username=f"person{i}", first_name=f"Given{i}", last_name=f"Family{i}") for i in range(5)]
    for i, learner in enumerate(learners):
        enroll_user(user=learner, learning_plan=plan, now=DAY + datetime.timedelta(days=i))
    complete_plan(learners[4], plan, now=DAY + datetime.timedelta(days=6))
    User.objects.filter(pk=learners[3].pk).update(is_active=False)
    return plan


def url(plan) -> str:
    return f"/api/v1/learning-plans/{plan.pk}/enrollments"


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["user"]["username"] for item in response.json()["data"]["items"]]


def test_the_active_list_is_newest_first_with_exactly_the_contract_keys(api_as, superadmin, plan):
    response = api_as(superadmin).get(url(plan))

    assert usernames(response) == ["person4", "person3", "person2", "person1", "person0"]
    data = response.json()["data"]
    assert {k: v for k, v in data.items() if k != "items"} == {
        "count": 5,
        "current_page": 1,
        "page_size": 50,
        "total_page_count": 1,
        "has_more_data": False,
    }
    first = data["items"][0]
    assert set(first) == ENROLLMENT_KEYS
    assert set(first["user"]) == {"id", "username", "first_name", "last_name"}
    enrollment = LearningPlanEnrollment.objects.get(user__username="person4")
    assert first["id"] == enrollment.pk
    assert first["user"] == {
        "id": enrollment.user_id,
        "username": "person4",
        "first_name": "Given4",
        "last_name": "Family4",
    }
    assert first["status"] == 2
    assert first["round"] == 1
    assert first["enrolled_at"] == "2026-05-05T09:30:00Z"
    assert first["validity_start"] == "2026-05-05T09:30:00Z"
    assert first["validity_end"] == "2026-06-04T09:30:00Z"
    assert first["completed_at"] == "2026-05-07T09:30:00Z"
    assert data["items"][1]["completed_at"] is None


def test_pages_split_the_list_and_say_whether_more_follow(api_as, superadmin, plan):
    client = api_as(superadmin)

    page1 = client.get(url(plan), {"page": 1, "page_size": 2}).json()["data"]
    page3 = client.get(url(plan), {"page": 3, "page_size": 2}).json()["data"]

    assert [i["user"]["username"] for i in page1["items"]] == ["person4", "person3"]
    assert (page1["count"], page1["total_page_count"], page1["has_more_data"]) == (5, 3, True)
    assert [i["user"]["username"] for i in page3["items"]] == ["person0"]
    assert (page3["current_page"], page3["page_size"], page3["has_more_data"]) == (3, 2, False)


def test_a_page_past_the_end_answers_200_with_no_items(api_as, superadmin, plan):
    response = api_as(superadmin).get(url(plan), {"page": 4, "page_size": 2})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["items"] == []
    assert (data["count"], data["current_page"], data["total_page_count"], data["has_more_data"]) == (5, 4, 3, False)
    assert api_as(superadmin).get(url(plan), {"page": 10**30}).json()["data"]["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": -1},
        {"page": "two"},
        {"page": "1.5"},
        {"page_size": 201},
        {"page_size": 0},
        {"page_size": "x"},
    ],
)
def test_bad_paging_answers_400_invalid_request(api_as, superadmin, plan, params):
    response = api_as(superadmin).get(url(plan), params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "invalid_request"
    assert next(iter(params)) in body["error"]["message"]


def test_page_size_200_is_allowed(api_as, superadmin, plan):
    assert api_as(superadmin).get(url(plan), {"page_size": 200}).json()["data"]["page_size"] == 200


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": 2}, ["person4"]),
        ({"status": 0}, ["person3", "person2", "person1", "person0"]),
        ({"user_status": "deactivated"}, ["person3"]),
        ({"user_status": "active"}, ["person4", "person2", "person1", "person0"]),
        ({"search": "given2"}, ["person2"]),
        ({"search": "family1 person1"}, ["person1"]),
        ({"enrolled_from": "2026-05-04"}, ["person4", "person3"]),
        ({"enrolled_to": "2026-05-02"}, ["person1", "person0"]),
        ({"enrolled_from": "2026-05-02", "enrolled_to": "2026-05-02"}, ["person1"]),
    ],
)
def test_each_active_filter_narrows_the_list(api_as, superadmin, plan, params, expected):
    assert usernames(api_as(superadmin).get(url(plan), params)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"status": 3},
        {"status": "done"},
        {"user_status": "sleeping"},
        {"enrolled_from": "yesterday"},
        {"enrolled_to": "2026-13-01"},
        {"enrolled_from": "2026-05-04", "enrolled_to": "2026-05-01"},
        {"search": "a\x00b"},
    ],
)
def test_a_malformed_filter_answers_400_invalid_request(api_as, superadmin, plan, params):
    response = api_as(superadmin).get(url(plan), params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_an_unknown_plan_is_404_not_found(api_as, superadmin):
    response = api_as(superadmin).get("/api/v1/learning-plans/987654321/enrollments")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": response.json()["error"]["message"]}}


def test_a_power_user_lists_assigned_plans_and_gets_404_elsewhere(api_as, plan):
    power = PowerUserFactory()
    client = api_as(power)
    assert client.get(url(plan)).status_code == 404
    plan.power_users.add(power)
    assert len(usernames(client.get(url(plan)))) == 5


def test_a_manager_without_plans_section_gets_403(api_as, plan):
    manager = UserFactory()
    ManagerLinkFactory(manager=manager, employee=User.objects.get(username="person0"))
    response = api_as(manager).get(url(plan))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
