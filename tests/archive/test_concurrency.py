"""SPEC §4.10, §10: an archive and anything else that changes the same learner, in two real connections.

Each side runs on a thread with its own PostgreSQL connection. One side is held inside its transaction (its locks
taken, its writes not committed) until the other is seen waiting on a lock in pg_stat_activity; then the held
side commits. Whatever the order, the end state is the one a serial order gives.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments, merge_users
from enrollments.models import (
    CourseEnrollment,
    IssuedCertificate,
    LearningPlanEnrollment,
    MaterialTracking,
    TrainingMaterial,
)
from enrollments.services import enroll_user, record_material_progress
from enrollments.status import recompute_plan_statuses
from scripts.processes import current_database_url
from tests.archive.test_engine import complete, plan_materials
from tests.factories import (
    CourseFactory,
    LearningPlanFactory,
    TrainingMaterialFactory,
    UserFactory,
    add_course,
    make_plan,
)
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ENROLLED, IN_PROGRESS, COMPLETED = 0, 1, 2
TIMEOUT = 60


class Side(threading.Thread):
    """`work()` on a thread with its own connection, in a transaction; with `hold`, the transaction stays open
    (its locks held, nothing committed) from the moment `work()` returns until `commit()`."""

    def __init__(self, work: Callable[[], Any], *, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.work, self.hold = work, hold
        self.started_work, self.worked, self.release = threading.Event(), threading.Event(), threading.Event()
        self.pid: int | None = None
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            connection.ensure_connection()
            self.pid = connection.connection.info.backend_pid
            self.started_work.set()
            with transaction.atomic():
                self.result = self.work()
                self.worked.set()
                if self.hold:
                    self.release.wait(TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - re-raised by outcome() in the test's thread
            self.error = exc
        finally:
            self.started_work.set()
            self.worked.set()
            connection.close()

    def begin(self) -> Side:
        """Start, and return once the work is done (a held side: done and still uncommitted)."""
        self.start()
        assert self.started_work.wait(TIMEOUT)
        if self.hold:
            assert self.worked.wait(TIMEOUT), "the held side never finished its work"
            self.raise_error()
        return self

    def commit(self) -> None:
        self.release.set()

    def outcome(self) -> Any:
        self.join(TIMEOUT)
        assert not self.is_alive(), "a side is still running"
        self.raise_error()
        return self.result

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def waiting_on_a_lock(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [self.pid])
            row = cursor.fetchone()
        return row is not None and row[0] == "Lock"


def wait_until_waiting(side: Side) -> None:
    wait_for(side.waiting_on_a_lock, timeout=TIMEOUT, interval=0.02, message="the second side never waited on a lock")


def assert_no_completed_without_a_date() -> None:
    assert not LearningPlanEnrollment.objects.filter(status=COMPLETED, completed_at=None).exists()
    assert not CourseEnrollment.objects.filter(status=COMPLETED, completed_at=None).exists()


def waiting_for_a_row_of(side: Side, table: str) -> bool:
    """The side waits for a row lock on `table` (a waiter holds the row's tuple lock while it waits)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND locktype = 'tuple' AND relation = %s::regclass)"
            " AND EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)",
            [side.pid, table, side.pid],
        )
        return cursor.fetchone()[0]


@contextlib.contextmanager
def archive_held_at_its_course_enrollments(work: Callable[[], Any], course_enrollment_ids: list[int]) -> Iterator[Side]:
    """Start an archive while another connection holds these course enrollments: it stops inside its lock
    sequence, its plan enrollments taken. The block runs the competing change; the course enrollments are let go
    at its end, and the archive goes on."""
    with psycopg.connect(current_database_url()) as pin:
        pin.execute(
            "SELECT id FROM enrollments_courseenrollment WHERE id = ANY(%s) FOR UPDATE", [course_enrollment_ids]
        )
        archive = Side(work).begin()
        wait_for(
            lambda: waiting_for_a_row_of(archive, "enrollments_courseenrollment"),
            timeout=TIMEOUT,
            interval=0.02,
            message="the archive never waited for a course enrollment",
        )
        yield archive
        pin.rollback()


@pytest.fixture
def halfway(learner):
    """A learner in a one-course plan with a template, one of its two materials completed."""
    plan = make_plan(courses=1, materials_per_course=2, template=True, title="Ladder safety")
    enrollment = enroll_user(user=learner, learning_plan=plan)
    first, second = plan_materials(plan)
    complete(learner, [first])
    return plan, enrollment, first, second


def test_progress_waiting_on_an_archive_with_reset_ends_as_archive_then_progress(superadmin, learner, halfway):
    plan, enrollment, first, second = halfway
    archive = Side(
        lambda: archive_enrollments(
            enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", reset_tracking=True, notify=False
        ),
        hold=True,
    ).begin()
    progress = Side(lambda: record_material_progress(user=learner, material=second, status="completed")).begin()
    wait_until_waiting(progress)
    archive.commit()

    assert archive.outcome().counts == {"archived": 1}
    progress.outcome()
    # Serially: round 1 archived In progress and reset; then round 2 gets the second material only.
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert (snapshot.round, snapshot.plan_status, snapshot.certificate_pending) == (1, IN_PROGRESS, False)
    live = LearningPlanEnrollment.objects.get()
    assert (live.round, live.status, live.completed_at) == (2, IN_PROGRESS, None)
    assert CourseEnrollment.objects.get().status == IN_PROGRESS
    assert list(MaterialTracking.objects.values_list("material_id", "status")) == [(second.pk, "completed")]
    assert not IssuedCertificate.objects.exists(), "no certificate for a learner whose tracking was reset"
    assert_no_completed_without_a_date()


def test_an_archive_waiting_on_progress_ends_as_progress_then_archive(superadmin, learner, halfway):
    plan, enrollment, first, second = halfway
    progress = Side(
        lambda: record_material_progress(user=learner, material=second, status="completed"), hold=True
    ).begin()
    archive = Side(
        lambda: archive_enrollments(
            enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", reset_tracking=True, notify=False
        )
    ).begin()
    wait_until_waiting(archive)
    progress.commit()

    progress.outcome()
    assert archive.outcome().counts == {"archived": 1}
    # Serially: the plan is Completed (certificate issued, not rendered yet), then archived and reset.
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert (snapshot.round, snapshot.plan_status) == (1, COMPLETED)
    assert snapshot.completed_at is not None and snapshot.certificate_assigned_at is not None
    assert snapshot.certificate_pending and snapshot.certificate_pending_template_number == plan.certificate_template_id
    live = LearningPlanEnrollment.objects.get()
    assert (live.round, live.status, live.completed_at) == (2, ENROLLED, None)
    assert CourseEnrollment.objects.get().status == ENROLLED
    assert not MaterialTracking.objects.exists()
    assert not IssuedCertificate.objects.exists()
    assert_no_completed_without_a_date()


def test_a_status_recompute_waiting_on_an_archive_decides_from_the_new_round(superadmin, learner):
    plan = make_plan(courses=1, materials_per_course=1, title="Crane signals")
    enrollment = enroll_user(user=learner, learning_plan=plan)
    complete(learner, plan_materials(plan))
    assert LearningPlanEnrollment.objects.get().status == COMPLETED
    # Material added since: the re-enrolled round 2 is In progress, not Completed.
    TrainingMaterial.objects.create(course=plan.courses.get(), title="New rule", position=5)

    archive = Side(
        lambda: archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", notify=False),
        hold=True,
    ).begin()
    recompute = Side(lambda: recompute_plan_statuses([enrollment.pk], now=timezone.now())).begin()
    wait_until_waiting(recompute)
    archive.commit()

    assert archive.outcome().counts == {"archived": 1}
    assert recompute.outcome() == []
    live = LearningPlanEnrollment.objects.get()
    assert (live.round, live.status, live.completed_at) == (2, IN_PROGRESS, None)
    assert_no_completed_without_a_date()


@pytest.fixture
def no_race_lost(caplog):
    """Fails the test when any side lost a deadlock (the archive logs each retry)."""
    caplog.set_level(logging.WARNING, logger="archive.services.engine")
    yield
    assert "lost a race" not in caplog.text


def test_progress_on_a_material_the_archive_resets_waits_for_the_archive_without_a_deadlock(
    superadmin, learner, no_race_lost
):
    """Progress locks the plan enrollments before it writes tracking: were it to write the tracking first, the
    archive's reset would wait for that row while the progress waits for the plan enrollment."""
    plan = make_plan(courses=1, materials_per_course=2, title="Hot work")
    enrollment = enroll_user(user=learner, learning_plan=plan)
    first, second = plan_materials(plan)
    record_material_progress(user=learner, material=first, status="in_progress")

    with archive_held_at_its_course_enrollments(
        lambda: archive_enrollments(
            enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", reset_tracking=True, notify=False
        ),
        list(CourseEnrollment.objects.values_list("pk", flat=True)),
    ) as archive:
        progress = Side(lambda: record_material_progress(user=learner, material=first, status="completed")).begin()
        wait_until_waiting(progress)

    assert archive.outcome().counts == {"archived": 1}
    progress.outcome()
    assert ArchivedPlanEnrollment.objects.get().plan_status == IN_PROGRESS
    live = LearningPlanEnrollment.objects.get()
    assert (live.round, live.status, live.completed_at) == (2, IN_PROGRESS, None)
    assert list(MaterialTracking.objects.values_list("material_id", "status")) == [(first.pk, "completed")]
    assert_no_completed_without_a_date()


def test_progress_in_a_course_shared_with_another_plan_waits_for_the_archive_without_a_deadlock(
    superadmin, learner, no_race_lost
):
    """The archive locks, up front and in id order, the learner's other plan enrollments it will recompute (a
    shared course): it never takes one of them after the progress has."""
    shared = CourseFactory(title="Fall protection")
    shared_material = TrainingMaterialFactory(course=shared)
    other_plan = make_plan(courses=1, materials_per_course=1, title="Scaffolding")
    add_course(other_plan, shared)
    plan = LearningPlanFactory(title="Roof work")
    add_course(plan, shared)
    other = enroll_user(user=learner, learning_plan=other_plan)  # the lower id: the progress locks it first
    enrollment = enroll_user(user=learner, learning_plan=plan)
    assert other.pk < enrollment.pk

    with archive_held_at_its_course_enrollments(
        lambda: archive_enrollments(
            enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll", reset_tracking=True, notify=False
        ),
        [CourseEnrollment.objects.get(course=shared).pk],
    ) as archive:
        progress = Side(
            lambda: record_material_progress(user=learner, material=shared_material, status="completed")
        ).begin()
        wait_until_waiting(progress)

    assert archive.outcome().counts == {"archived": 1}
    progress.outcome()
    live = LearningPlanEnrollment.objects.get(pk=enrollment.pk)
    assert (live.round, live.status) == (2, COMPLETED) and live.completed_at is not None
    other.refresh_from_db()
    assert (other.status, other.completed_at) == (IN_PROGRESS, None)
    assert_no_completed_without_a_date()


def test_a_merge_and_a_progress_update_of_the_same_learner_do_not_deadlock(superadmin, learner, no_race_lost):
    """The merge locks the users with the strength of its own update (NO KEY UPDATE): a progress update holding its
    plan enrollment checks its new tracking row's user (KEY SHARE) without waiting for the merge."""
    first_plan = make_plan(courses=1, materials_per_course=1, title="First aid")
    second_plan = make_plan(courses=1, materials_per_course=1, title="Evacuation")
    held_back = enroll_user(user=learner, learning_plan=first_plan)  # the lower id: the merge's first lock
    enroll_user(user=learner, learning_plan=second_plan)
    duplicate = UserFactory(username="learner-old")
    enroll_user(user=duplicate, learning_plan=first_plan)

    with psycopg.connect(current_database_url()) as pin:
        pin.execute("SELECT id FROM enrollments_learningplanenrollment WHERE id = %s FOR UPDATE", [held_back.pk])
        merge = Side(lambda: merge_users(kept=learner, merged=[duplicate], actor=superadmin)).begin()
        wait_for(
            lambda: waiting_for_a_row_of(merge, "enrollments_learningplanenrollment"),
            timeout=TIMEOUT,
            interval=0.02,
            message="the merge never waited for the plan enrollment",
        )
        # The merge holds the users and waits; the progress takes its own plan enrollment and writes a new row.
        progress = Side(
            lambda: record_material_progress(user=learner, material=plan_materials(second_plan)[0], status="completed")
        ).begin()
        wait_for(lambda: not progress.is_alive() or progress.waiting_on_a_lock(), timeout=TIMEOUT, interval=0.02)
        pin.rollback()

    progress.outcome()
    merge.outcome()
    duplicate.refresh_from_db()
    assert duplicate.merged_into == learner and not duplicate.is_active
    assert LearningPlanEnrollment.objects.get(user=learner, learning_plan=second_plan).status == COMPLETED
    assert_no_completed_without_a_date()


def deadlock_the_archive(other: psycopg.Connection, archive: Side, enrollment_id: int) -> None:
    """`other` holds the course enrollment; once the archive holds the plan enrollment and waits for the course
    enrollment, `other` asks for the plan enrollment (in a savepoint, so it can let it go again). PostgreSQL
    breaks the deadlock by failing the archive's statement: `other`'s deadlock_timeout is far longer, so the
    archive's own check runs first."""
    wait_for(
        lambda: waiting_for_a_row_of(archive, "enrollments_courseenrollment"),
        timeout=TIMEOUT,
        interval=0.02,
        message="the archive never waited for the course enrollment",
    )
    other.execute("SAVEPOINT take_the_plan_enrollment")
    other.execute("SELECT id FROM enrollments_learningplanenrollment WHERE id = %s FOR UPDATE", [enrollment_id])
    other.execute("ROLLBACK TO SAVEPOINT take_the_plan_enrollment")  # lets the plan enrollment go


@pytest.fixture
def other_connection():
    """A connection of the test's own, outside Django, that loses no deadlock (its check waits a minute)."""
    with psycopg.connect(current_database_url()) as other:
        other.execute("SET deadlock_timeout = '60s'")
        yield other


def test_a_single_archive_chosen_as_a_deadlock_victim_is_retried_and_archives(
    superadmin, learner, halfway, other_connection
):
    plan, enrollment, first, second = halfway
    course_enrollment = CourseEnrollment.objects.get()
    other_connection.execute(
        "SELECT id FROM enrollments_courseenrollment WHERE id = %s FOR UPDATE", [course_enrollment.pk]
    )
    archive = Side(
        lambda: archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    ).begin()
    deadlock_the_archive(other_connection, archive, enrollment.pk)
    other_connection.execute("UPDATE enrollments_courseenrollment SET score = 7 WHERE id = %s", [course_enrollment.pk])
    other_connection.commit()

    outcome = archive.outcome()
    assert outcome.counts == {"archived": 1}, outcome.items
    snapshot = ArchivedPlanEnrollment.objects.get()
    assert snapshot.round == 1
    assert snapshot.course_enrollments.get().score == 7  # the retry ran after the other transaction committed
    assert LearningPlanEnrollment.objects.get().round == 2


def test_a_single_archive_that_loses_four_deadlocks_in_a_row_fails_and_changes_nothing(
    superadmin, learner, halfway, other_connection
):
    """The first run and its three retries each lose a deadlock: the item is `failed`, with the reason."""
    plan, enrollment, first, second = halfway
    other_connection.execute(
        "SELECT id FROM enrollments_courseenrollment WHERE id = %s FOR UPDATE", [CourseEnrollment.objects.get().pk]
    )
    archive = Side(
        lambda: archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="reenroll")
    ).begin()
    for _ in range(4):
        deadlock_the_archive(other_connection, archive, enrollment.pk)
    outcome = archive.outcome()
    other_connection.rollback()

    assert outcome.counts == {"failed": 1}
    assert "deadlock detected" in outcome.items[0].message
    assert not ArchivedPlanEnrollment.objects.exists()
    assert LearningPlanEnrollment.objects.get().round == 1
