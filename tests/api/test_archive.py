"""POST learning-plans/{id}/archive and the jobs endpoints (SPEC §7): one now, many as a job, every error."""

import pytest

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem
from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from tests.factories import ManagerLinkFactory, PowerUserFactory, UserFactory, add_course, make_plan
from tests.workers import wait_for

JOB_KEYS = {
    "id",
    "status",
    "mode",
    "reset_tracking",
    "notify",
    "trigger",
    "total",
    "processed",
    "progress",
    "counts",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
    "eta_seconds",
    "error",
}


def error_of(response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status_code, body["error"]["code"]


def enrolled_plan(learners: int = 3, **kwargs):
    plan = make_plan(courses=1, materials_per_course=1, **kwargs)
    enrollments = [enroll_user(user=UserFactory(), learning_plan=plan) for _ in range(learners)]
    return plan, enrollments


def archive_url(plan) -> str:
    return f"/api/v1/learning-plans/{plan.pk}/archive"


@pytest.mark.django_db
def test_one_enrollment_is_archived_now_and_answers_200_with_its_outcome(api_as, superadmin):
    plan, (enrollment, *_) = enrolled_plan()

    response = api_as(superadmin).post(
        archive_url(plan), {"enrollment_ids": [enrollment.pk], "mode": "reenroll", "notify": False}
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    archive = ArchivedPlanEnrollment.objects.get(enrollment_id=enrollment.pk)
    assert data == {
        "enrollment_id": enrollment.pk,
        "outcome": "archived",
        "archive_id": archive.pk,
        "message": data["message"],
    }
    assert (archive.mode, archive.reset_tracking, archive.notify) == ("reenroll", False, False)
    enrollment.refresh_from_db()
    assert enrollment.round == 2
    assert not ArchiveJob.objects.exists()


@pytest.mark.django_db
def test_archiving_the_same_round_twice_answers_409_already_archived(api_as, superadmin):
    plan, (enrollment, *_) = enrolled_plan()
    client = api_as(superadmin)
    assert client.post(archive_url(plan), {"enrollment_ids": [enrollment.pk], "mode": "unenroll"}).status_code == 200

    response = client.post(archive_url(plan), {"enrollment_ids": [enrollment.pk], "mode": "unenroll"})

    assert error_of(response) == (409, "already_archived")
    assert ArchivedPlanEnrollment.objects.filter(enrollment_id=enrollment.pk).count() == 1


@pytest.mark.django_db
def test_unenroll_on_a_plan_with_a_shared_course_answers_409_shared_course(api_as, superadmin):
    plan, enrollments = enrolled_plan()
    other = make_plan(courses=0, title="Forklift refresher")
    add_course(other, plan.courses.first())
    client = api_as(superadmin)

    one = client.post(archive_url(plan), {"enrollment_ids": [enrollments[0].pk], "mode": "unenroll"})
    many = client.post(archive_url(plan), {"enrollment_ids": [e.pk for e in enrollments], "mode": "unenroll"})

    assert error_of(one) == (409, "shared_course")
    assert "Forklift refresher" in one.json()["error"]["message"]
    assert error_of(many) == (409, "shared_course")
    assert not ArchivedPlanEnrollment.objects.exists() and not ArchiveJob.objects.exists()
    assert LearningPlanEnrollment.objects.filter(learning_plan=plan).count() == 3


@pytest.mark.django_db
def test_an_enrollment_that_does_not_exist_answers_404_not_found(api_as, superadmin):
    plan, _ = enrolled_plan(learners=1)
    response = api_as(superadmin).post(archive_url(plan), {"enrollment_ids": [987654321], "mode": "reenroll"})
    assert error_of(response) == (404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"enrollment_ids": ["{first}"]}, (400, "invalid_mode")),
        ({"enrollment_ids": ["{first}"], "mode": "delete"}, (400, "invalid_mode")),
        ({"mode": "reenroll"}, (400, "invalid_selection")),
        ({"mode": "reenroll", "enrollment_ids": []}, (400, "invalid_selection")),
        ({"mode": "reenroll", "enrollment_ids": ["{first}"], "select_all": True}, (400, "invalid_selection")),
        ({"mode": "reenroll", "enrollment_ids": ["{first}"], "filters": {}}, (400, "invalid_selection")),
        ({"mode": "reenroll", "enrollment_ids": ["{foreign}"]}, (400, "invalid_selection")),
        ({"mode": "reenroll", "enrollment_ids": ["{first}", "{foreign}"]}, (400, "invalid_selection")),
        ({"mode": "reenroll", "enrollment_ids": "all"}, (400, "invalid_request")),
        ({"mode": "reenroll", "enrollment_ids": [0]}, (400, "invalid_request")),
        ({"mode": "reenroll", "select_all": True, "filters": {"status": 7}}, (400, "invalid_request")),
        ({"mode": "reenroll", "select_all": True, "filters": {"status": 2}}, (400, "invalid_selection")),
    ],
)
def test_bad_archive_requests_change_nothing(api_as, superadmin, body, expected):
    plan, enrollments = enrolled_plan(learners=2)
    foreign = enroll_user(user=UserFactory(), learning_plan=make_plan(courses=1))
    ids = {"{first}": enrollments[0].pk, "{foreign}": foreign.pk}
    if isinstance(body.get("enrollment_ids"), list):
        body = {**body, "enrollment_ids": [ids.get(pk, pk) for pk in body["enrollment_ids"]]}

    response = api_as(superadmin).post(archive_url(plan), body)

    assert error_of(response) == expected
    if isinstance(body.get("enrollment_ids"), list) and foreign.pk in body["enrollment_ids"]:
        assert str(foreign.pk) in response.json()["error"]["message"]
    assert not ArchivedPlanEnrollment.objects.exists() and not ArchiveJob.objects.exists()


@pytest.mark.django_db
def test_a_malformed_json_body_answers_400_invalid_request(api_as, superadmin):
    plan, _ = enrolled_plan(learners=1)
    client = api_as(superadmin)
    response = client.client.post(
        archive_url(plan), "{not json", content_type="application/json", headers=client.headers
    )
    assert error_of(response) == (400, "invalid_request")


@pytest.mark.django_db
def test_more_than_the_manual_limit_answers_400_limit_exceeded(api_as, superadmin, settings):
    settings.ARCHIVE_MAX_MANUAL_SELECTION = 2
    plan, enrollments = enrolled_plan(learners=3)
    response = api_as(superadmin).post(
        archive_url(plan), {"enrollment_ids": [e.pk for e in enrollments], "mode": "reenroll"}
    )
    assert error_of(response) == (400, "limit_exceeded")
    assert not ArchiveJob.objects.exists()


@pytest.mark.django_db
def test_select_all_over_the_limit_answers_400_limit_exceeded(api_as, superadmin, settings):
    settings.ARCHIVE_MAX_SELECT_ALL = 2
    plan, _ = enrolled_plan(learners=3)
    response = api_as(superadmin).post(archive_url(plan), {"select_all": True, "mode": "reenroll"})
    assert error_of(response) == (400, "limit_exceeded")
    assert not ArchiveJob.objects.exists()


@pytest.mark.django_db
def test_a_power_user_gets_403_on_an_assigned_plan_and_404_elsewhere(api_as):
    plan, (enrollment, *_) = enrolled_plan()
    unassigned, (other, *_) = enrolled_plan()
    power = PowerUserFactory()
    plan.power_users.add(power)
    client = api_as(power)

    assert error_of(client.post(archive_url(plan), {"enrollment_ids": [enrollment.pk], "mode": "reenroll"})) == (
        403,
        "forbidden",
    )
    assert error_of(client.post(archive_url(unassigned), {"enrollment_ids": [other.pk], "mode": "reenroll"})) == (
        404,
        "not_found",
    )
    assert not ArchivedPlanEnrollment.objects.exists()


@pytest.mark.django_db
def test_a_manager_may_not_archive(api_as):
    plan, (enrollment, *_) = enrolled_plan()
    manager = UserFactory()
    ManagerLinkFactory(manager=manager, employee=enrollment.user)
    response = api_as(manager).post(archive_url(plan), {"enrollment_ids": [enrollment.pk], "mode": "reenroll"})
    assert error_of(response) == (403, "forbidden")


@pytest.mark.django_db
def test_two_ids_start_a_job_answering_202_and_the_job_endpoints_show_it(
    api_as, superadmin, django_capture_on_commit_callbacks
):
    plan, enrollments = enrolled_plan()
    client = api_as(superadmin)

    response = client.post(
        archive_url(plan),
        {"enrollment_ids": [enrollments[0].pk, enrollments[1].pk], "mode": "reenroll", "reset_tracking": True},
    )

    assert response.status_code == 202, response.content
    job = response.json()["data"]["job"]
    assert set(job) == JOB_KEYS
    assert job["trigger"] == "manual"
    assert (job["status"], job["mode"], job["reset_tracking"], job["notify"]) == ("queued", "reenroll", True, True)
    assert (job["total"], job["processed"], job["progress"]) == (2, 0, 0)
    assert job["requested_by"] == {"id": superadmin.pk, "username": superadmin.username}
    assert job["created_at"].endswith("Z") and job["finished_at"] is None
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["data"]["id"] == job["id"]

    items = client.get(f"/api/v1/jobs/{job['id']}/items").json()["data"]
    assert [item["enrollment_id"] for item in items["items"]] == sorted([enrollments[0].pk, enrollments[1].pk])
    assert items["items"][0] == {
        "enrollment_id": items["items"][0]["enrollment_id"],
        "outcome": None,
        "archive_id": None,
        "message": "",
    }

    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["data"]["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert error_of(again) == (400, "invalid_request")
    assert "cancelled" in again.json()["error"]["message"]
    assert ArchiveJob.objects.get(pk=job["id"]).status == "cancelled"


@pytest.mark.django_db
def test_select_all_uses_the_active_list_filters(api_as, superadmin):
    plan, enrollments = enrolled_plan(learners=3)
    target = enrollments[1].user
    response = api_as(superadmin).post(
        archive_url(plan), {"select_all": True, "filters": {"search": target.username}, "mode": "reenroll"}
    )
    assert response.status_code == 202, response.content
    job = ArchiveJob.objects.get(pk=response.json()["data"]["job"]["id"])
    assert job.select_all
    assert list(job.items.values_list("enrollment_id", flat=True)) == [enrollments[1].pk]


@pytest.mark.django_db
def test_jobs_are_for_superadmins_and_unknown_jobs_are_404(api_as, superadmin):
    plan, enrollments = enrolled_plan(learners=2)
    job_id = (
        api_as(superadmin).post(archive_url(plan), {"select_all": True, "mode": "reenroll"}).json()["data"]["job"]["id"]
    )
    power = PowerUserFactory()
    plan.power_users.add(power)

    assert error_of(api_as(power).get(f"/api/v1/jobs/{job_id}")) == (404, "not_found")
    assert error_of(api_as(power).post(f"/api/v1/jobs/{job_id}/cancel")) == (404, "not_found")
    assert error_of(api_as(superadmin).get("/api/v1/jobs/987654321")) == (404, "not_found")
    assert error_of(api_as(superadmin).get("/api/v1/jobs/987654321/items")) == (404, "not_found")
    assert error_of(api_as(superadmin).post("/api/v1/jobs/987654321/cancel")) == (404, "not_found")
    assert error_of(api_as(superadmin).get(f"/api/v1/jobs/{job_id}/items", {"outcome": "bogus"})) == (
        400,
        "invalid_request",
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_one_id_archives_in_the_request_and_many_finish_as_a_job_on_a_real_worker(api_as, superadmin, rq_worker):
    plan, enrollments = enrolled_plan(learners=4)
    client = api_as(superadmin)

    single = client.post(
        archive_url(plan), {"enrollment_ids": [enrollments[0].pk], "mode": "unenroll", "notify": False}
    )
    assert single.status_code == 200
    assert not ArchiveJob.objects.exists()

    rest = [e.pk for e in enrollments[1:]]
    started = client.post(archive_url(plan), {"enrollment_ids": rest, "mode": "unenroll", "notify": False})
    assert started.status_code == 202
    job_url = f"/api/v1/jobs/{started.json()['data']['job']['id']}"

    job = wait_for(
        lambda: (data := client.get(job_url).json()["data"])["status"] in ("completed", "failed") and data,
        timeout=60,
        message="the archive job did not finish",
    )
    assert job["status"] == "completed"
    assert (job["total"], job["processed"], job["progress"]) == (3, 3, 100)
    assert job["counts"] == {"archived": 3}
    assert job["started_at"].endswith("Z") and job["finished_at"].endswith("Z")
    assert job["eta_seconds"] is None and job["error"] is None

    archived = client.get(f"{job_url}/items", {"outcome": "archived"}).json()["data"]
    assert archived["count"] == 3
    assert {item["enrollment_id"] for item in archived["items"]} == {e.pk for e in enrollments[1:]}
    assert all(item["archive_id"] for item in archived["items"])
    assert client.get(f"{job_url}/items", {"outcome": "failed"}).json()["data"]["count"] == 0

    listed = client.get(f"/api/v1/learning-plans/{plan.pk}/archived-enrollments").json()["data"]
    assert listed["count"] == 4
    assert not LearningPlanEnrollment.objects.filter(learning_plan=plan).exists()
    assert ArchiveJobItem.objects.filter(job_id=job["id"], outcome="").count() == 0
    assert error_of(client.post(f"{job_url}/cancel")) == (400, "invalid_request")
