"""Archiving plan enrollments (SPEC §4): the one engine behind the pop-up, the bulk job and the API."""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from enrollments.content import reset_tracking_json, reset_tracking_option
from enrollments.races import retried_on_race
from enrollments.services import delete_live_certificates, refresh_plan_statuses
from enrollments.status import plan_enrollment_ids_touching, recompute_course_statuses
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import is_superadmin
from lms_admin.audit import services as audit
from lms_admin.notifications.services import enqueue_outbox_sender

from ..models import ArchiveJob, ArchiveMode, Outcome, RetrainingRun, Trigger
from . import sql
from .certificates import enqueue_pending_certificates, store_live_certificates
from .shared_courses import PlanCourse, plan_courses, shared_by_plan

logger = logging.getLogger(__name__)


class ItemResult(NamedTuple):
    """What became of one enrollment: an `Outcome` value, the archive id when there is one, a message."""

    enrollment_id: int
    outcome: str
    archive_id: int | None
    message: str


@dataclass
class ArchiveOutcome:
    """What became of every requested enrollment, in request order."""

    items: list[ItemResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(item.outcome for item in self.items)
        return {name: counted[name] for name in Outcome.values if counted[name]}

    @property
    def archived(self) -> int:
        return self.counts.get(Outcome.ARCHIVED, 0)

    def summary(self) -> str:
        """One line for a flash message: "1 enrollment archived", "3 enrollments archived, 1 not found"."""
        counts = self.counts
        if not counts:
            return "Nothing to archive."
        phrases = {
            Outcome.ARCHIVED: "enrollment{s} archived",
            Outcome.SKIPPED_ALREADY_ARCHIVED: "already archived",
            Outcome.SKIPPED_SHARED_COURSE: "skipped: a course of the plan is shared with another plan",
            Outcome.NOT_FOUND: "not found",
            Outcome.FAILED: "failed",
        }
        return ", ".join(
            f"{n} " + phrases.get(name, "not processed").format(s="s" if n != 1 else "") for name, n in counts.items()
        )


def archive_enrollments(
    *,
    enrollment_ids: Sequence[int],
    actor: User,
    mode: str,
    reset_tracking: bool | str = False,
    notify: bool = True,
    rounds: Sequence[int] | None = None,
) -> ArchiveOutcome:
    """Archive plan enrollments now, in batches of ARCHIVE_BATCH_SIZE, each batch in its own transaction.

    `reset_tracking`: False (keep), True (reset everything) or "changed" (reset only what changed, SPEC §13); any
    other value raises ValidationError coded invalid_request before anything is written.
    `rounds`, parallel to `enrollment_ids`, are the rounds the caller saw (SPEC §4.10): a round that moved on comes
    out skipped_already_archived. Without them, each enrollment's round as read now is archived."""
    check_archive_request(actor, mode)
    reset_tracking = reset_tracking_option(reset_tracking)
    try:
        given = [int(pk) for pk in enrollment_ids]
        seen = None if rounds is None else [int(round_) for round_ in rounds]
    except (TypeError, ValueError) as exc:
        raise ValidationError("Enrollment ids and rounds must be integers.", code="invalid_selection") from exc
    if seen is not None and len(seen) != len(given):
        raise ValidationError("Give one round per enrollment id.", code="invalid_request")
    if seen is None:
        pairs = current_rounds(list(dict.fromkeys(given)))
    else:
        pairs = list(dict(zip(given, seen, strict=True)).items())
    outcome = ArchiveOutcome()
    size = max(1, settings.ARCHIVE_BATCH_SIZE)
    for start in range(0, len(pairs), size):
        batch = pairs[start : start + size]
        try:
            outcome.items.extend(
                _archive_batch_retrying(batch, actor=actor, mode=mode, reset_tracking=reset_tracking, notify=notify)
            )
        except Exception as exc:  # noqa: BLE001 - one failing batch must not hide the others' outcomes
            logger.exception("Archive batch failed")
            outcome.items.extend(ItemResult(pk, Outcome.FAILED.value, None, str(exc)) for pk, _ in batch)
    return outcome


def _archive_batch_retrying(batch: Sequence[tuple[int, int]], **options) -> list[ItemResult]:
    """archive_batch, run again up to 3 times when it lost a race (a deadlock, a serialization failure)."""
    return retried_on_race(archive_batch)(batch, **options)


def current_rounds(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Freeze (id, round) for each id, read before any lock. A row already gone gets the round of its
    unenroll archive if there is one (so a repeated unenroll reports "already archived"), else 0."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.id, coalesce(e.round, s.round, 0)
            FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS p(id, position)
            LEFT JOIN enrollments_learningplanenrollment e ON e.id = p.id
            LEFT JOIN (
                SELECT enrollment_id, max(round) AS round FROM archive_archivedplanenrollment
                WHERE enrollment_id = ANY(%(ids)s::bigint[]) AND mode = 'unenroll'
                GROUP BY enrollment_id
            ) s ON s.enrollment_id = p.id AND e.id IS NULL
            ORDER BY p.position
            """,
            {"ids": list(ids)},
        )
        return [(pk, rnd) for pk, rnd in cursor.fetchall()]


def check_archive_request(actor: User | None, mode: str) -> None:
    """Refuse an archive request before anything is read or written: PermissionDenied, or ValidationError
    coded invalid_mode."""
    if actor is None or not is_superadmin(actor):
        raise PermissionDenied("Only superadmins may archive enrollments.")
    check_archive_mode(mode)


def check_archive_mode(mode: str) -> None:
    """ValidationError coded invalid_mode unless `mode` is re-enroll or unenroll."""
    if mode not in ArchiveMode.values:
        raise ValidationError(
            f"Unknown archive mode {mode!r}: use {' or '.join(ArchiveMode.values)}.", code="invalid_mode"
        )


def archive_batch(
    pairs: Sequence[tuple[int, int]],
    *,
    actor: User,
    mode: str,
    reset_tracking: bool | str,
    notify: bool,
    job: ArchiveJob | None = None,
    now: datetime.datetime | None = None,
) -> list[ItemResult]:
    """Archive one batch of frozen (enrollment id, round) pairs in one transaction; one result per pair, in order.

    Idempotent: re-running a committed batch of the same job writes nothing and reports `archived`. A retraining
    rule's job archives with no human actor (SPEC §11): `actor` is shown as its requester, never checked.
    """
    if job is not None and job.trigger == Trigger.RULE:
        check_archive_mode(mode)
    else:
        check_archive_request(actor, mode)
    reset_tracking = reset_tracking_option(reset_tracking)
    now = now or timezone.now()
    pairs = list(dict(pairs).items())  # one entry per enrollment id, first-seen order
    if not pairs:
        return []
    with transaction.atomic():
        locked = sql.lock_rows([pk for pk, _ in pairs])
        lookups = sql.look_up(pairs)
        courses = plan_courses(sorted({row.learning_plan_id for row in locked.values()}))
        shared = shared_by_plan(courses) if mode == ArchiveMode.UNENROLL else {}

        results: dict[int, ItemResult] = {}
        to_archive: list[int] = []
        for pk, frozen_round in pairs:
            row, lookup = locked.get(pk), lookups[pk]
            if lookup.archive_id is not None and job is not None and lookup.archive_job_id == job.pk:
                results[pk] = ItemResult(
                    pk, Outcome.ARCHIVED.value, lookup.archive_id, _archived_message(frozen_round, mode)
                )
            elif row is None or row.round != frozen_round or lookup.archive_id is not None:
                if row is None and lookup.archive_id is None:
                    results[pk] = ItemResult(pk, Outcome.NOT_FOUND.value, None, f"Enrollment {pk} does not exist.")
                else:
                    results[pk] = ItemResult(
                        pk,
                        Outcome.SKIPPED_ALREADY_ARCHIVED.value,
                        lookup.archive_id,
                        f"Round {frozen_round} of this enrollment was already archived.",
                    )
            elif row.learning_plan_id in shared:
                results[pk] = ItemResult(pk, Outcome.SKIPPED_SHARED_COURSE.value, None, shared[row.learning_plan_id])
            else:
                to_archive.append(pk)

        if to_archive:
            results.update(
                _archive_rows(
                    [locked[pk] for pk in to_archive],
                    lookups=lookups,
                    courses=courses,
                    actor=actor,
                    mode=mode,
                    reset_tracking=reset_tracking,
                    notify=notify,
                    job=job,
                    now=now,
                )
            )
    return [results[pk] for pk, _ in pairs]


def archiver_of(actor: User, job: ArchiveJob | None) -> tuple[int | None, str]:
    """Who the snapshots say archived them: the admin, or for a rule's job no person but "retraining rule #id"."""
    if job is not None and job.trigger == Trigger.RULE:
        rule_id = RetrainingRun.objects.filter(pk=job.retraining_run_id).values_list("rule_id", flat=True).first()
        return None, f"retraining rule #{rule_id}"
    return actor.pk, actor.username


def _archive_rows(
    rows: list[sql.LockedRow],
    *,
    lookups: dict[int, sql.Lookup],
    courses: list[PlanCourse],
    actor: User,
    mode: str,
    reset_tracking: str,
    notify: bool,
    job: ArchiveJob | None,
    now: datetime.datetime,
) -> dict[int, ItemResult]:
    """SPEC §4.3 steps 1–7 for locked rows that are to be archived (inside the batch transaction)."""
    ids = requested = [row.id for row in rows]
    certificates, files = store_live_certificates({pk: lookups[pk].certificate_file for pk in ids})
    archiver_id, archiver_name = archiver_of(actor, job)
    archived, outbox_rows, pending = sql.write_snapshots(
        ids=ids,
        now=now,
        actor_id=archiver_id,
        actor_username=archiver_name,
        mode=mode,
        reset_tracking=reset_tracking,
        notify=notify,
        job_id=job.pk if job else None,
        trigger=job.trigger if job else Trigger.MANUAL,
        certificates=certificates,
        files=files,
    )
    rows = [row for row in rows if row.id in archived]  # a conflicting snapshot (a race) changes nothing live
    ids = [row.id for row in rows]
    if ids:
        sql.change_live_data(ids=ids, now=now, actor_id=archiver_id, mode=mode, reset_tracking=reset_tracking)
        live_certificates = [lookups[pk].certificate_id for pk in ids if lookups[pk].certificate_id]
        if live_certificates:
            delete_live_certificates(live_certificates)
        if mode == ArchiveMode.REENROLL:
            _recompute_statuses(rows, courses, now=now)
        rule_run = archiver_id is None  # a retraining rule's run: no person archived
        _audit(
            rows,
            archived,
            actor=None if rule_run else actor,
            mode=mode,
            reset_tracking=reset_tracking,
            notify=notify,
            job=job,
        )
    if outbox_rows:
        transaction.on_commit(enqueue_outbox_sender)
    if pending:  # issued, not rendered yet: rendered from the snapshot once it is committed
        transaction.on_commit(lambda: enqueue_pending_certificates(pending))

    results = {
        pk: ItemResult(pk, Outcome.SKIPPED_ALREADY_ARCHIVED.value, None, "This round was archived meanwhile.")
        for pk in requested
        if pk not in archived
    }
    for row in rows:
        results[row.id] = ItemResult(
            row.id, Outcome.ARCHIVED.value, archived[row.id], _archived_message(row.round, mode)
        )
    return results


def _archived_message(round_: int, mode: str) -> str:
    then = f"re-enrolled for round {round_ + 1}" if mode == ArchiveMode.REENROLL else "unenrolled"
    return f"Round {round_} archived; {then}."


def _recompute_statuses(rows: list[sql.LockedRow], courses: list[PlanCourse], *, now: datetime.datetime):
    """Statuses from tracking: the re-enrolled rows start from 0; other plans' Completed stays (sticky).

    Every course of the plan is recomputed, reset or not: material added since the last computation
    (the reason to re-enroll with the tracking kept) makes a stored course status stale. Everything recomputed
    was locked by sql.lock_rows, in the one order, before the batch read anything.
    """
    by_plan: dict[int, list[int]] = {}
    for course in courses:
        by_plan.setdefault(course.learning_plan_id, []).append(course.course_id)
    pairs = [(row.user_id, course_id) for row in rows for course_id in by_plan.get(row.learning_plan_id, [])]
    recompute_course_statuses(pairs, now=now, locked=True)
    touched = set(plan_enrollment_ids_touching(pairs)) | {row.id for row in rows}
    refresh_plan_statuses(sorted(touched), now=now, locked=True)


def _audit(
    rows: list[sql.LockedRow],
    archived: dict[int, int],
    *,
    actor: User,
    mode: str,
    reset_tracking: str,
    notify: bool,
    job: ArchiveJob | None,
) -> None:
    """One audit event per batch: the job's when there is one, else the archived record's (or the plan's)."""
    details = {
        "mode": mode,
        "reset_tracking": reset_tracking_json(reset_tracking),
        "notify": notify,
        "archived": len(rows),
        "enrollment_ids": [row.id for row in rows],
        "archive_ids": [archived[row.id] for row in rows],
        "learning_plan_ids": sorted({row.learning_plan_id for row in rows}),
    }
    if job is not None:
        object_type, object_id = "archive_job", job.pk
    elif len(rows) == 1:
        object_type, object_id = "archived_plan_enrollment", archived[rows[0].id]
    else:
        plans = details["learning_plan_ids"]
        object_type, object_id = "learning_plan", plans[0] if len(plans) == 1 else None
    audit.record(actor=actor, action="archive", object_type=object_type, object_id=object_id, details=details)
