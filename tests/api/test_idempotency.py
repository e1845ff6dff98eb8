"""SPEC §4.10 in the API: `Idempotency-Key` on the three writes, `rounds` in the archive body, and concurrent
duplicates with neither — one archive, one job, one set of notifications, and the first answer replayed."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import transaction
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, RequestKey
from archive.services import archive_enrollments, reconcile, run_job
from enrollments.models import LearningPlanEnrollment
from enrollments.services import enroll_user
from lms_admin.audit.models import AuditEvent
from lms_admin.notifications.models import OutboxMessage
from tests.api.conftest import ApiClient
from tests.archive.popup_forms import InThread
from tests.archive.test_exactly_once import default_rules, waiting_for_locks
from tests.factories import SuperadminFactory, UserFactory, make_plan
from tests.workers import wait_for

KEY = "4f1c2a9e-retry-safe"


def send(api: ApiClient, method: str, path: str, body=None, *, key: str | None = KEY):
    headers = {**api.headers, **({"Idempotency-Key": key} if key is not None else {})}
    data = json.dumps(body) if body is not None else ""
    return api.client.generic(method, path, data, content_type="application/json", headers=headers)


def plan_with_learners(learners: int = 1):
    default_rules()
    plan = make_plan(courses=2, materials_per_course=1)
    return plan, [enroll_user(user=UserFactory(), learning_plan=plan) for _ in range(learners)]


def archive_path(plan) -> str:
    return f"/api/v1/learning-plans/{plan.pk}/archive"


def one(enrollment, **extra) -> dict:
    return {"enrollment_ids": [enrollment.pk], "mode": "reenroll", **extra}


def snapshot_rounds() -> list[tuple[int, int]]:
    return sorted(ArchivedPlanEnrollment.objects.values_list("enrollment_id", "round"))


def outbox_rounds() -> set[int]:
    return set(OutboxMessage.objects.values_list("context__round", flat=True))


def error_code(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- Idempotency-Key -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retry_with_the_same_key_gets_the_first_answer_replayed_and_archives_once(api_as, superadmin):
    plan, (enrollment,) = plan_with_learners()
    api = api_as(superadmin)

    first = send(api, "POST", archive_path(plan), one(enrollment))
    written = (OutboxMessage.objects.count(), AuditEvent.objects.count())
    retry = send(api, "POST", archive_path(plan), one(enrollment))

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and first.json()["data"]["outcome"] == "archived"
    assert retry["Idempotency-Replayed"] == "true" and "Idempotency-Replayed" not in first
    assert snapshot_rounds() == [(enrollment.pk, 1)]
    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).round == 2
    assert (OutboxMessage.objects.count(), AuditEvent.objects.count()) == written and outbox_rounds() == {1}


@pytest.mark.django_db
def test_a_retried_job_start_replays_the_job_as_it_was_then_and_starts_no_second_job(api_as, superadmin):
    plan, enrollments = plan_with_learners(3)
    api = api_as(superadmin)
    body = {"enrollment_ids": [e.pk for e in enrollments], "mode": "reenroll"}

    first = send(api, "POST", archive_path(plan), body)
    run_job(ArchiveJob.objects.get().pk)
    retry = send(api, "POST", archive_path(plan), body)

    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json() and retry.json()["data"]["job"]["status"] == "queued"
    assert retry["Idempotency-Replayed"] == "true"
    assert ArchiveJob.objects.get().status == ArchiveJob.Status.COMPLETED
    assert ArchiveJob.objects.count() == 1 and len(snapshot_rounds()) == 3 and outbox_rounds() == {1}


@pytest.mark.django_db
def test_an_archive_outcome_error_is_kept_and_replayed_too(api_as, superadmin):
    plan, (enrollment,) = plan_with_learners()
    api = api_as(superadmin)
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")

    first = send(api, "POST", archive_path(plan), one(enrollment))
    retry = send(api, "POST", archive_path(plan), one(enrollment))

    assert error_code(first) == error_code(retry) == (409, "already_archived")
    assert retry.json() == first.json() and retry["Idempotency-Replayed"] == "true"


@pytest.mark.django_db
def test_the_same_key_with_another_body_answers_422_and_changes_nothing(api_as, superadmin):
    plan, (enrollment, other) = plan_with_learners(2)
    api = api_as(superadmin)
    send(api, "POST", archive_path(plan), one(enrollment))

    reused = send(api, "POST", archive_path(plan), one(other))

    assert error_code(reused) == (422, "idempotency_key_reused")
    assert snapshot_rounds() == [(enrollment.pk, 1)]


@pytest.mark.django_db
def test_a_refused_request_does_not_use_up_its_key_so_the_corrected_retry_runs(api_as, superadmin):
    plan, (enrollment,) = plan_with_learners()
    api = api_as(superadmin)

    refused = send(api, "POST", archive_path(plan), one(enrollment, mode="sideways"))
    corrected = send(api, "POST", archive_path(plan), one(enrollment))

    assert error_code(refused) == (400, "invalid_mode")
    assert corrected.status_code == 200 and "Idempotency-Replayed" not in corrected
    assert snapshot_rounds() == [(enrollment.pk, 1)]


@pytest.mark.django_db
def test_keys_belong_to_their_caller(api_as, superadmin):
    plan, (enrollment, other) = plan_with_learners(2)
    send(api_as(superadmin), "POST", archive_path(plan), one(enrollment))

    colleague = send(api_as(SuperadminFactory()), "POST", archive_path(plan), one(other))

    assert colleague.status_code == 200 and "Idempotency-Replayed" not in colleague
    assert snapshot_rounds() == sorted([(enrollment.pk, 1), (other.pk, 1)])


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\tinside"])
def test_a_malformed_key_answers_400_and_archives_nothing(api_as, superadmin, key):
    plan, (enrollment,) = plan_with_learners()

    response = send(api_as(superadmin), "POST", archive_path(plan), one(enrollment), key=key)

    assert error_code(response) == (400, "invalid_request")
    assert "Idempotency-Key must be 1 to 255 printable ASCII characters." in response.json()["error"]["message"]
    assert not ArchivedPlanEnrollment.objects.exists() and not RequestKey.objects.exists()


@pytest.mark.django_db
def test_a_retried_cancel_and_a_retried_delete_get_their_first_answers(api_as, superadmin):
    plan, enrollments = plan_with_learners(3)
    api = api_as(superadmin)
    job = send(api, "POST", archive_path(plan), {"enrollment_ids": [e.pk for e in enrollments[:2]], "mode": "reenroll"})
    cancel_path = f"/api/v1/jobs/{job.json()['data']['job']['id']}/cancel"
    archive_enrollments(enrollment_ids=[enrollments[2].pk], actor=superadmin, mode="reenroll")
    delete_path = f"/api/v1/archived-enrollments/{ArchivedPlanEnrollment.objects.get().pk}"

    cancelled, cancel_retry = (send(api, "POST", cancel_path, key="cancel-1") for _ in range(2))
    deleted, delete_retry = (send(api, "DELETE", delete_path, key="delete-1") for _ in range(2))
    unkeyed_retry = send(api, "DELETE", delete_path, key=None)

    assert cancelled.status_code == cancel_retry.status_code == 200
    assert cancel_retry.json() == cancelled.json() and cancel_retry["Idempotency-Replayed"] == "true"
    assert deleted.status_code == delete_retry.status_code == 204 and delete_retry["Idempotency-Replayed"] == "true"
    assert error_code(unkeyed_retry) == (404, "not_found")
    assert AuditEvent.objects.filter(action="archive_job.cancelled").count() == 1


@pytest.mark.django_db
def test_session_callers_use_keys_as_token_callers_do(client, superadmin):
    plan, (enrollment,) = plan_with_learners()
    client.force_login(superadmin)

    answers = [
        client.post(
            archive_path(plan), one(enrollment), content_type="application/json", headers={"Idempotency-Key": KEY}
        )
        for _ in range(2)
    ]

    assert [a.status_code for a in answers] == [200, 200] and answers[1]["Idempotency-Replayed"] == "true"
    assert RequestKey.objects.get().scope == "api"
    assert snapshot_rounds() == [(enrollment.pk, 1)]


@pytest.mark.django_db
def test_a_key_is_kept_a_day_then_purged_and_free_again(api_as, superadmin):
    plan, (enrollment,) = plan_with_learners()
    api = api_as(superadmin)
    send(api, "POST", archive_path(plan), one(enrollment))
    RequestKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))

    again = send(api, "POST", archive_path(plan), one(enrollment))  # a day later: a new request
    RequestKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    purged = reconcile().request_keys_purged

    assert again.status_code == 200 and "Idempotency-Replayed" not in again
    assert snapshot_rounds() == [(enrollment.pk, 1), (enrollment.pk, 2)]
    assert purged == 1 and not RequestKey.objects.exists()


# --- rounds ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retry_with_the_rounds_seen_archives_nothing_more(api_as, superadmin):
    plan, (enrollment,) = plan_with_learners()
    api = api_as(superadmin)

    first = send(api, "POST", archive_path(plan), one(enrollment, rounds=[1]), key=None)
    retry = send(api, "POST", archive_path(plan), one(enrollment, rounds=[1]), key=None)

    assert first.status_code == 200
    assert error_code(retry) == (409, "already_archived")
    assert snapshot_rounds() == [(enrollment.pk, 1)] and outbox_rounds() == {1}


@pytest.mark.django_db
def test_a_job_freezes_the_rounds_sent_and_skips_those_archived_meanwhile(api_as, superadmin):
    plan, (first, second) = plan_with_learners(2)
    archive_enrollments(enrollment_ids=[first.pk], actor=superadmin, mode="reenroll")  # first is in round 2 now

    body = {"enrollment_ids": [first.pk, second.pk], "rounds": [1, 1], "mode": "reenroll"}
    started = send(api_as(superadmin), "POST", archive_path(plan), body, key=None)
    job = ArchiveJob.objects.get()
    run_job(job.pk)

    assert started.status_code == 202
    assert sorted(ArchiveJobItem.objects.values_list("enrollment_id", "round", "outcome")) == [
        (first.pk, 1, "skipped_already_archived"),
        (second.pk, 1, "archived"),
    ]
    assert snapshot_rounds() == sorted([(first.pk, 1), (second.pk, 1)])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"rounds": [1, 1]}, "invalid_request"),  # not one per id
        ({"rounds": [0]}, "invalid_request"),
        ({"rounds": ["one"]}, "invalid_request"),
        ({"rounds": [2]}, "invalid_selection"),  # a round not reached
    ],
)
def test_rounds_that_cannot_be_what_was_seen_are_refused(api_as, superadmin, extra, code):
    plan, (enrollment,) = plan_with_learners()

    response = send(api_as(superadmin), "POST", archive_path(plan), one(enrollment, **extra), key=None)

    assert error_code(response) == (400, code)
    assert not ArchivedPlanEnrollment.objects.exists()


@pytest.mark.django_db
def test_rounds_do_not_go_with_select_all(api_as, superadmin):
    plan, _ = plan_with_learners()

    body = {"select_all": True, "rounds": [1], "mode": "reenroll"}
    response = send(api_as(superadmin), "POST", archive_path(plan), body)

    assert error_code(response) == (400, "invalid_request")
    assert not ArchiveJob.objects.exists()


# --- at the same moment ----------------------------------------------------------------------------------------


def hold_enrollment_and_send(enrollment, *requests):
    """Hold the enrollment's row from another connection, start the requests on threads of their own until each
    waits for that row (or answered without it), then let go; returns the answers in order."""
    with transaction.atomic():
        LearningPlanEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        running = []
        for request in requests:
            running.append(InThread(request))
            started = len(running)
            wait_for(lambda started=started: waiting_for_locks() + sum(r.done() for r in running) >= started)
    return [r.result() for r in running]


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_still_runs_answers_409_in_use_then_the_first_answer(superadmin):
    plan, (enrollment,) = plan_with_learners()
    api, retrying = ApiClient(superadmin), ApiClient(superadmin)

    first, meanwhile = hold_enrollment_and_send(
        enrollment,
        lambda: send(api, "POST", archive_path(plan), one(enrollment)),
        lambda: send(retrying, "POST", archive_path(plan), one(enrollment)),
    )
    later = send(retrying, "POST", archive_path(plan), one(enrollment))

    assert error_code(meanwhile) == (409, "idempotency_key_in_use")
    assert first.status_code == later.status_code == 200 and later.json() == first.json()
    assert snapshot_rounds() == [(enrollment.pk, 1)] and outbox_rounds() == {1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("protection", ["key", "rounds", "neither"])
def test_concurrent_duplicates_archive_the_round_once(superadmin, protection):
    plan, (enrollment,) = plan_with_learners()
    body = one(enrollment, **({"rounds": [1]} if protection == "rounds" else {}))
    key = KEY if protection == "key" else None
    clients = ApiClient(superadmin), ApiClient(superadmin)

    # Both read the round before either can lock the row: a true duplicate, whatever protects it.
    answers = hold_enrollment_and_send(
        enrollment, *(lambda c=c: send(c, "POST", archive_path(plan), body, key=key) for c in clients)
    )

    first, duplicate = answers
    assert first.status_code == 200
    assert error_code(duplicate) == (409, "idempotency_key_in_use" if protection == "key" else "already_archived")
    assert snapshot_rounds() == [(enrollment.pk, 1)] and outbox_rounds() == {1}
    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).round == 2


# --- the published schema --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/learning-plans/{plan_id}/archive", "post"),
        ("/api/v1/jobs/{job_id}/cancel", "post"),
        ("/api/v1/archived-enrollments/{archive_id}", "delete"),
    ],
)
def test_the_openapi_document_shows_the_header_and_its_error_answers(client, path, method):
    operation = client.get("/api/v1/openapi.json").json()["paths"][path][method]

    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert (header["name"], header["required"], header["schema"]["maxLength"]) == ("Idempotency-Key", False, 255)
    assert "Idempotency-Replayed: true" in header["description"]
    assert {"409", "422"} <= set(operation["responses"])


@pytest.mark.django_db
def test_the_openapi_document_shows_rounds_in_the_archive_body(client):
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["ArchiveIn"]

    assert schema["properties"]["rounds"]["anyOf"][0]["items"]["minimum"] == 1
