"""SPEC §4.6: archiving writes one outbox row per (event, recipient, enrollment, round[, course]); the sender
delivers each row once."""

from __future__ import annotations

import threading

import django_rq
import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection

from archive.models import ArchiveJob
from archive.services import archive_enrollments, start_archive_job
from enrollments.services import enroll_user
from lms_admin.notifications.models import NotificationRule, OutboxMessage
from lms_admin.notifications.services import NOTIFICATIONS_QUEUE, enqueue_outbox_sender, send_outbox
from tests.factories import ManagerLinkFactory, SuperadminFactory, UserFactory, make_plan
from tests.notifications.conftest import default_rules
from tests.workers import empty_queues, kill_worker_tree, release, wait_for, wait_for_pause, worker_process


def rows() -> list[tuple[str, str, str | None]]:
    return sorted(
        OutboxMessage.objects.values_list("event", "recipient__username", "context__course_title").order_by("id")
    )


@pytest.mark.django_db
def test_reenroll_writes_the_archived_and_enrolled_events_for_the_learner(rules, plan, learner, superadmin):
    enrollment = enroll_user(user=learner, learning_plan=plan)
    titles = list(plan.plan_courses.order_by("position").values_list("course__title", flat=True))

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    assert rows() == sorted(
        [("lp_enrollment_archived", "learner", None), ("lp_user_enrolled", "learner", None)]
        + [("course_enrollment_archived", "learner", t) for t in titles]
        + [("course_user_enrolled", "learner", t) for t in titles]
    )
    message = OutboxMessage.objects.get(event="lp_user_enrolled")
    assert message.recipient_email == learner.email and message.sent_at is None
    assert message.dedupe_key == f"lp_user_enrolled:{enrollment.pk}:1:-:{learner.pk}"
    assert (message.context["plan_title"], message.context["round"], message.context["next_round"]) == (
        "Ladder safety",
        1,
        2,
    )


@pytest.mark.django_db
def test_unenroll_writes_the_archived_and_unenrolled_events(rules, plan, learner, superadmin):
    enrollment = enroll_user(user=learner, learning_plan=plan)

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")

    events = sorted(OutboxMessage.objects.values_list("event", flat=True))
    assert events == sorted(
        ["lp_enrollment_archived", "lp_user_unenrolled"]
        + ["course_enrollment_archived"] * 2
        + ["course_user_unenrolled"] * 2
    )


@pytest.mark.django_db
def test_rules_choose_the_recipients(rules, plan, learner, superadmin):
    manager = UserFactory(username="boss")
    ManagerLinkFactory(manager=manager, employee=learner)
    SuperadminFactory(username="other_admin")
    NotificationRule.objects.filter(event="lp_enrollment_archived").update(
        to_learner=False, to_managers=True, to_superadmins=True
    )
    NotificationRule.objects.exclude(event="lp_enrollment_archived").update(enabled=False)
    enrollment = enroll_user(user=learner, learning_plan=plan)

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    assert rows() == [
        ("lp_enrollment_archived", "boss", None),
        ("lp_enrollment_archived", "other_admin", None),
        ("lp_enrollment_archived", superadmin.username, None),
    ]


@pytest.mark.django_db
def test_no_rows_with_notify_off_or_for_disabled_rules(rules, plan, learner, superadmin):
    other = UserFactory()
    quiet = enroll_user(user=learner, learning_plan=plan)
    archive_enrollments(enrollment_ids=[quiet.pk], actor=superadmin, mode="reenroll", notify=False)
    assert not OutboxMessage.objects.exists()

    NotificationRule.objects.filter(event__startswith="course_").update(enabled=False)
    loud = enroll_user(user=other, learning_plan=plan)
    archive_enrollments(enrollment_ids=[loud.pk], actor=superadmin, mode="reenroll")
    assert sorted(OutboxMessage.objects.values_list("event", flat=True)) == [
        "lp_enrollment_archived",
        "lp_user_enrolled",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_sender_is_enqueued_after_commit_and_one_waiting_is_enough(superadmin, settings):
    default_rules()
    plan = make_plan(courses=2, materials_per_course=1)
    settings.ARCHIVE_BATCH_SIZE = 2
    queue = django_rq.get_queue(NOTIFICATIONS_QUEUE)
    queue.empty()
    ids = [enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(4)]

    archive_enrollments(enrollment_ids=ids[:2], actor=superadmin, mode="reenroll")
    assert queue.count == 1  # enqueued once the batch committed
    archive_enrollments(enrollment_ids=ids[2:], actor=superadmin, mode="reenroll")
    assert queue.count == 1  # one run waiting drains everything: no second one
    queue.empty()
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll", notify=False)
    assert queue.count == 0  # nothing to send, nothing enqueued


@pytest.mark.django_db
def test_the_sender_delivers_each_row_once_even_when_run_twice(rules, plan, superadmin, locmem):
    learners = [UserFactory() for _ in range(3)]
    ids = [enroll_user(user=u, learning_plan=plan).pk for u in learners]
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll")
    expected = OutboxMessage.objects.count()
    assert expected == 3 * 6

    assert send_outbox(batch_size=4, slice_seconds=3600) == expected
    assert send_outbox(batch_size=4, slice_seconds=3600) == 0

    assert len(mail.outbox) == expected
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    to_first = [m for m in mail.outbox if m.to == [learners[0].email]]
    plan_archived = [m for m in to_first if m.subject == "Your enrollment in Ladder safety was archived"]
    assert len(to_first) == 6 and len(plan_archived) == 1
    assert plan_archived[0].body.startswith(f"Hello {learners[0].display_name},")


@pytest.mark.django_db(transaction=True)
def test_two_senders_running_at_once_deliver_each_row_once(superadmin, locmem):
    default_rules()
    plan = make_plan(courses=2, materials_per_course=1)
    ids = [enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(20)]
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="unenroll")
    expected = OutboxMessage.objects.count()
    barrier = threading.Barrier(2)
    sent, errors = [], []

    def sender() -> None:
        try:
            barrier.wait(timeout=30)
            sent.append(send_outbox(batch_size=5, slice_seconds=3600))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors and sum(sent) == expected == 20 * 6
    assert len(mail.outbox) == expected
    delivered = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert len(set(delivered)) == len(delivered) == expected


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_drains_the_outbox_after_an_archive(rq_worker, superadmin):
    default_rules()
    plan = make_plan(courses=1, materials_per_course=1)
    enrollment = enroll_user(user=UserFactory(), learning_plan=plan)

    archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")

    assert OutboxMessage.objects.count() == 4
    wait_for(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), timeout=60)


def unsent():
    return OutboxMessage.objects.filter(sent_at__isnull=True)


@pytest.mark.django_db
def test_after_its_time_slice_the_sender_queues_the_rest_and_ends(
    rules, plan, superadmin, locmem, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SEND_SLICE_SECONDS = 0
    ids = [enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(3)]
    archive_enrollments(enrollment_ids=ids, actor=superadmin, mode="reenroll")
    queue = django_rq.get_queue(NOTIFICATIONS_QUEUE)
    queue.empty()

    with django_capture_on_commit_callbacks(execute=True):
        assert send_outbox(batch_size=4) == 4

    assert len(mail.outbox) == 4 and unsent().count() == 3 * 6 - 4
    assert [job.func_name for job in queue.jobs] == ["lms_admin.notifications.jobs.send_outbox"]
    queue.empty()


def archived_with_the_sender_queued(superadmin, *, enrolled: int, archived: int):
    """A one-course plan with `enrolled` learners, the first `archived` of them archived and re-enrolled with
    notifications (4 outbox rows each); the queues emptied first, so the sender is the one job waiting."""
    default_rules()
    plan = make_plan(courses=1, materials_per_course=1)
    ids = [enroll_user(user=UserFactory(), learning_plan=plan).pk for _ in range(enrolled)]
    empty_queues(django_settings.REDIS_URL)
    archive_enrollments(enrollment_ids=ids[:archived], actor=superadmin, mode="reenroll")
    assert unsent().count() == archived * 4
    return plan, ids


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_archive_job_submitted_during_a_long_drain_starts_before_the_rest_is_sent(superadmin, tmp_path):
    plan, ids = archived_with_the_sender_queued(superadmin, enrolled=8, archived=6)
    env = {
        "NOTIFICATIONS_SEND_BATCH_SIZE": 4,
        "NOTIFICATIONS_SEND_SLICE_SECONDS": 0,
        "ARCHIVE_TEST_PAUSE_AT": "after_send_batch:1",
        "ARCHIVE_TEST_PAUSE_DIR": str(tmp_path),
    }

    with worker_process(log_path=tmp_path / "worker.log", extra_env=env):
        wait_for_pause(tmp_path, "after_send_batch:1")  # the drain is under way: one batch sent
        job = start_archive_job(
            learning_plan=plan, actor=superadmin, mode="reenroll", notify=False, enrollment_ids=ids[6:]
        )
        release(tmp_path, "after_send_batch:1")
        wait_for(lambda: not unsent().exists(), timeout=60, message="the outbox was not drained")
        job = wait_for(lambda: ArchiveJob.objects.filter(pk=job.pk, status="completed").first(), timeout=60)

    # The job ran as soon as the first slice ended, not after the whole outbox.
    assert OutboxMessage.objects.filter(sent_at__lt=job.started_at).count() == 4
    assert OutboxMessage.objects.filter(sent_at__gt=job.finished_at).count() == 6 * 4 - 4


def messages_on_file(directory) -> list[tuple[str, str]]:
    """(recipient, subject) of every message Django's file-based backend wrote into `directory`."""
    found = []
    for path in sorted(directory.iterdir()):
        for block in path.read_text().split("-" * 79):
            headers = dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)
            if "To" in headers:
                found.append((headers["To"], headers["Subject"]))
    return found


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_mid_batch_sends_no_message_twice_and_leaves_that_batch_marked(superadmin, tmp_path):
    archived_with_the_sender_queued(superadmin, enrolled=3, archived=3)
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir()
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mailbox),
        "NOTIFICATIONS_SEND_BATCH_SIZE": "4",
        "ARCHIVE_TEST_PAUSE_AT": "after_send_mark:3",
        "ARCHIVE_TEST_PAUSE_DIR": str(tmp_path),
    }

    with worker_process(log_path=tmp_path / "first.log", extra_env=env) as worker:
        wait_for_pause(tmp_path, "after_send_mark:3")  # batch 1 taken: two of its messages sent, the third not yet
        kill_worker_tree(worker)
    assert len(messages_on_file(mailbox)) == 2

    release(tmp_path, "after_send_mark:3")
    with worker_process(log_path=tmp_path / "second.log", extra_env=env):
        enqueue_outbox_sender()  # as the next archive batch or the reconciler would
        wait_for(lambda: not unsent().exists(), timeout=60, message="the outbox was not drained")

    delivered = messages_on_file(mailbox)
    assert len(delivered) == len(set(delivered)) == 12 - 2  # at most once: the rest of the killed batch is lost
    rows = list(OutboxMessage.objects.order_by("id"))
    in_doubt = [row for row in rows if "may or may not have arrived" in row.last_error]
    assert in_doubt == rows[:4], "the killed batch, and only it, is in doubt (two of its messages did arrive)"
    assert all(row.sent_at is not None and row.attempts == 1 for row in in_doubt)
    assert not [row for row in rows if row not in in_doubt and row.last_error]
