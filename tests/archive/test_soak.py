"""The soak of SPEC §10: random archives (one, several, jobs; both modes; reset on and off; notifications on and
off), progress updates, enrollments and merges, from threads of this test and on two real worker processes, for
SOAK_SECONDS (30 in `make test`, 600 with `make soak`). It ends with 0 lost, 0 duplicated and no deadlock or
serialization failure left unretried.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connections, transaction

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem
from archive.services import ArchiveOutcome, archive_enrollments, merge_users, start_archive_job
from enrollments.models import LearningPlan, LearningPlanEnrollment, TrackingStatus, TrainingMaterial
from enrollments.services import enroll_user, record_material_progress
from lms_admin.accounts.models import User
from tests.archive.invariants import assert_nothing_lost_or_duplicated
from tests.archive.test_jobs import (  # noqa: F401 - empty_job_queues and notification_rules are autouse fixtures
    empty_job_queues,
    job_env,
    job_worker,
    notification_rules,
    wait_until_finished,
)
from tests.factories import UserFactory, make_plan
from tests.workers import wait_for

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
SOAK_MERGES = os.environ.get("SOAK_MERGES", "1") == "1"  # SOAK_MERGES=0 leaves user merges out
LEARNERS_PER_GROUP = 12
MERGE_EVERY = 2.5  # seconds
MAX_JOBS_WAITING = 4  # two workers drain them; more would only lengthen the wait at the end
RACES = ("deadlock", "could not serialize")


@dataclass
class Soak:
    """What the threads did, shared between them."""

    actor: User
    groups: list[list[LearningPlan]]
    deadline: float
    seed: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: list[ArchiveJob] = field(default_factory=list)
    outcomes: list[ArchiveOutcome] = field(default_factory=list)
    done: Counter = field(default_factory=Counter)
    races: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    merged: set[int] = field(default_factory=set)
    next_merge: float = 0.0

    def note(self, what: str, *, job: ArchiveJob | None = None, outcome: ArchiveOutcome | None = None) -> None:
        with self.lock:
            self.done[what] += 1
            if job is not None:
                self.jobs.append(job)
            if outcome is not None:
                self.outcomes.append(outcome)

    def loop(self, name: str, step: Callable[[random.Random], None]) -> None:
        """Run `step` until the deadline; a race (deadlock, serialization failure) that reaches us is counted."""
        rng = random.Random(f"{self.seed}-{name}")
        try:
            while time.monotonic() < self.deadline:
                try:
                    step(rng)
                except ValidationError:
                    self.note(f"{name} refused")  # a selection that changed under the request: nothing written
                except OperationalError as exc:
                    with self.lock:
                        (self.races if any(r in str(exc) for r in RACES) else self.errors).append(f"{name}: {exc}")
                except Exception as exc:  # noqa: BLE001 - every other failure is reported by the test
                    with self.lock:
                        self.errors.append(f"{name}: {exc!r}")
        finally:
            connections.close_all()

    # The steps

    def live_enrollments(self, rng: random.Random, plan: LearningPlan, most: int) -> list[int]:
        ids = list(LearningPlanEnrollment.objects.filter(learning_plan=plan).values_list("pk", flat=True))
        return rng.sample(ids, min(len(ids), rng.randint(1, most)))

    def archive(self, rng: random.Random) -> None:
        plan = rng.choice(rng.choice(self.groups))
        options = {
            "actor": self.actor,
            "mode": "unenroll" if rng.random() < 0.25 else "reenroll",
            "reset_tracking": rng.random() < 0.5,
            "notify": rng.random() < 0.5,
        }
        kind = rng.choice(["one", "one", "several", "job"])
        if kind == "job":
            if ArchiveJob.objects.exclude(status__in=ArchiveJob.FINISHED).count() >= MAX_JOBS_WAITING:
                kind = "one"
            else:
                ids = self.live_enrollments(rng, plan, 6)
                if ids:
                    job = start_archive_job(learning_plan=plan, enrollment_ids=ids, **options)
                    self.note("job", job=job)
                return
        ids = self.live_enrollments(rng, plan, 1 if kind == "one" else 4)
        if ids:
            self.note(kind, outcome=archive_enrollments(enrollment_ids=ids, **options))

    def progress(self, rng: random.Random) -> None:
        plan = rng.choice(rng.choice(self.groups))
        enrollment = LearningPlanEnrollment.objects.filter(learning_plan=plan).order_by("?").first()
        if enrollment is None:
            return
        material = TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).order_by("?").first()
        status = TrackingStatus.COMPLETED if rng.random() < 0.7 else TrackingStatus.IN_PROGRESS
        record_material_progress(user=User.objects.get(pk=enrollment.user_id), material=material, status=status)
        self.note("progress")

    def enroll(self, rng: random.Random) -> None:
        """Enroll a learner again in a plan of their group they were unenrolled from."""
        group = rng.randrange(2)
        plan = rng.choice(self.groups[group])
        learners = User.objects.filter(first_name=f"group{group}").exclude(pk__in=self.merged)
        missing = learners.exclude(plan_enrollments__learning_plan=plan).first()
        if missing is not None:
            enroll_user(user=missing, learning_plan=plan, enrolled_by=self.actor)
            self.note("enroll")

    def merge(self, rng: random.Random) -> None:
        """Merge a learner of group 1 into one of group 0, every MERGE_EVERY seconds, each learner once: the groups'
        plans share nothing, so a merge moves data without conflicts. New learners join when none is left."""
        # Pacing, not waiting for a condition: merges are spread evenly over the soak.
        time.sleep(max(0.0, min(self.next_merge, self.deadline) - time.monotonic()))
        if time.monotonic() >= self.deadline:
            return
        self.next_merge += MERGE_EVERY
        pair = [
            User.objects.filter(first_name=f"group{group}").exclude(pk__in=self.merged).order_by("?").first()
            or new_learner(self.groups, group, self.actor)
            for group in (0, 1)
        ]
        self.merged |= {user.pk for user in pair}
        merge_users(kept=pair[0], merged=[pair[1]], actor=self.actor)
        self.note("merge")


def new_learner(groups: list[list[LearningPlan]], group: int, actor: User) -> User:
    """A learner of `group` enrolled in both of its plans, committed at once (the enroller never sees them half
    enrolled)."""
    with transaction.atomic():
        user = UserFactory(first_name=f"group{group}")
        for plan in groups[group]:
            enroll_user(user=user, learning_plan=plan, enrolled_by=actor)
    return user


def soak_world(actor: User) -> list[list[LearningPlan]]:
    """Two groups of two plans (no course shared), one plan of each with a certificate; each group's learners
    enrolled in both of its plans."""
    groups = [[make_plan(template=True), make_plan()] for _ in range(2)]
    for group in range(2):
        for _ in range(LEARNERS_PER_GROUP):
            new_learner(groups, group, actor)
    return groups


def test_random_archives_progress_and_merges_on_two_workers_lose_nothing_and_double_nothing(superadmin, tmp_path):
    seed = int(os.environ.get("SOAK_SEED", time.time_ns() % 1_000_000))
    soak = Soak(superadmin, soak_world(superadmin), deadline=0, seed=seed)
    env = job_env(batch_size=3)
    with job_worker(tmp_path, "one", extra_env=env), job_worker(tmp_path, "two", extra_env=env):
        soak.next_merge = time.monotonic()
        soak.deadline = soak.next_merge + SOAK_SECONDS
        threads = [
            threading.Thread(target=soak.loop, args=(name, step))
            for name, step in [
                ("archiver-1", soak.archive),
                ("archiver-2", soak.archive),
                ("progress-1", soak.progress),
                ("progress-2", soak.progress),
                ("enroller", soak.enroll),
                *([("merger", soak.merge)] if SOAK_MERGES else []),
            ]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        jobs = [wait_until_finished(job, timeout=120) for job in soak.jobs]
        wait_for(
            lambda: not ArchivedPlanEnrollment.objects.filter(certificate_pending=True).exists(),
            timeout=120,
            message="archived certificates still being prepared two minutes after the soak",
        )

    failed = [item.message for outcome in soak.outcomes for item in outcome.items if item.outcome == "failed"]
    failed += ArchiveJobItem.objects.filter(job__in=jobs, outcome="failed").values_list("message", flat=True)
    unretried = soak.races + [message for message in failed if any(race in message for race in RACES)]
    summary = (
        f"soak of {SOAK_SECONDS:.0f} s (SOAK_SEED={seed}): {dict(soak.done)}, "
        f"{ArchivedPlanEnrollment.objects.count()} rounds archived"
    )
    problems = [f"error: {error}" for error in soak.errors[:10]]
    problems += [f"deadlock left unretried: {race}" for race in unretried[:10]]
    problems += [f"failed item: {message}" for message in failed[:10] if message not in unretried]
    try:
        verdict = assert_nothing_lost_or_duplicated(jobs, outcomes=soak.outcomes, concurrent_progress=True)
    except AssertionError as broken:
        verdict = "lost or duplicated"
        problems.append(str(broken))
    print(f"{summary}: {verdict}, {len(unretried)} deadlocks left unretried")
    assert soak.done["one"] and soak.done["several"] and soak.done["job"] and soak.done["progress"], summary
    assert not problems, f"{summary}: {len(unretried)} deadlocks left unretried\n" + "\n".join(problems)
