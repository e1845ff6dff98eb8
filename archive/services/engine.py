"""Archiving plan enrollments (SPEC §4): the one engine behind the pop-up, the bulk job and the API."""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import FileResponse
from django.utils import timezone

from enrollments.models import Course, IssuedCertificate, LearningPlan, LearningPlanCourse
from enrollments.services import delete_live_certificates, refresh_plan_statuses
from enrollments.status import plan_enrollment_ids_touching, recompute_course_statuses
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import is_superadmin
from lms_admin.audit import services as audit
from lms_admin.notifications.services import enqueue_outbox_sender

from ..models import ArchivedPlanEnrollment, ArchiveJob, ArchiveMode, Outcome
from . import sql, storage

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
        parts = []
        for name, n in counts.items():
            if name == Outcome.ARCHIVED:
                parts.append(f"{n} enrollment{'s' if n != 1 else ''} archived")
            elif name == Outcome.SKIPPED_ALREADY_ARCHIVED:
                parts.append(f"{n} already archived")
            elif name == Outcome.SKIPPED_SHARED_COURSE:
                parts.append(f"{n} skipped: a course of the plan is shared with another plan")
            elif name == Outcome.NOT_FOUND:
                parts.append(f"{n} not found")
            elif name == Outcome.FAILED:
                parts.append(f"{n} failed")
            else:
                parts.append(f"{n} not processed")
        return ", ".join(parts)


SharedCourses = list[tuple[Course, list[LearningPlan]]]


def check_shared_courses(plan: LearningPlan) -> SharedCourses:
    """The shared-course guard (plan level): the plan's courses that another plan contains too, with those plans."""
    links = (
        LearningPlanCourse.objects.filter(course__plan_links__learning_plan=plan)
        .exclude(learning_plan=plan)
        .select_related("course", "learning_plan")
        .order_by("course__plan_links__position", "course_id", "learning_plan__title", "learning_plan_id")
    )
    shares: dict[int, tuple[Course, list[LearningPlan]]] = {}
    for link in links:
        shares.setdefault(link.course_id, (link.course, []))[1].append(link.learning_plan)
    return list(shares.values())


def shared_course_message(shares: SharedCourses) -> str:
    """'Unenroll is not possible: course "A" is also in learning plan "B"; …' naming courses and plans."""
    parts = []
    for course, plans in shares:
        titles = ", ".join(f'"{plan.title}"' for plan in plans)
        parts.append(f'course "{course.title}" is also in learning plan{"s" if len(plans) > 1 else ""} {titles}')
    return "Unenroll is not possible: " + "; ".join(parts) + "."


def archive_enrollments(
    *,
    enrollment_ids: Sequence[int],
    actor: User,
    mode: str,
    reset_tracking: bool = False,
    notify: bool = True,
) -> ArchiveOutcome:
    """Archive plan enrollments now, in batches of ARCHIVE_BATCH_SIZE, each batch in its own transaction."""
    check_archive_request(actor, mode)
    try:
        ids = list(dict.fromkeys(int(pk) for pk in enrollment_ids))
    except (TypeError, ValueError) as exc:
        raise ValidationError("Enrollment ids must be integers.", code="invalid_selection") from exc
    pairs = current_rounds(ids)
    outcome = ArchiveOutcome()
    size = max(1, settings.ARCHIVE_BATCH_SIZE)
    for start in range(0, len(pairs), size):
        batch = pairs[start : start + size]
        try:
            outcome.items.extend(
                archive_batch(batch, actor=actor, mode=mode, reset_tracking=reset_tracking, notify=notify)
            )
        except Exception as exc:  # noqa: BLE001 - one failing batch must not hide the others' outcomes
            logger.exception("Archive batch failed")
            outcome.items.extend(ItemResult(pk, Outcome.FAILED.value, None, str(exc)) for pk, _ in batch)
    return outcome


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
    if mode not in ArchiveMode.values:
        raise ValidationError(
            f"Unknown archive mode {mode!r}: use {' or '.join(ArchiveMode.values)}.", code="invalid_mode"
        )


def archive_batch(
    pairs: Sequence[tuple[int, int]],
    *,
    actor: User,
    mode: str,
    reset_tracking: bool,
    notify: bool,
    job: ArchiveJob | None = None,
    now: datetime.datetime | None = None,
) -> list[ItemResult]:
    """Archive one batch of frozen (enrollment id, round) pairs in one transaction; one result per pair, in order.

    Idempotent: re-running a committed batch of the same job writes nothing and reports `archived`.
    """
    check_archive_request(actor, mode)
    now = now or timezone.now()
    pairs = list(dict(pairs).items())  # one entry per enrollment id, first-seen order
    if not pairs:
        return []
    with transaction.atomic():
        locked = sql.lock_rows([pk for pk, _ in pairs])
        lookups = sql.look_up(pairs)
        courses = sql.plan_courses(sorted({row.learning_plan_id for row in locked.values()}))
        shared = _shared_by_plan(courses) if mode == ArchiveMode.UNENROLL else {}

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


def _shared_by_plan(courses: list[sql.PlanCourse]) -> dict[int, str]:
    """{plan id: the guard's message} for the plans of the batch that have a shared course."""
    shares: dict[int, SharedCourses] = {}
    for course in courses:
        if course.other_plans:
            shares.setdefault(course.learning_plan_id, []).append(
                (
                    Course(pk=course.course_id, title=course.title),
                    [LearningPlan(pk=pk, title=title) for pk, title in course.other_plans],
                )
            )
    return {plan_id: shared_course_message(plan_shares) for plan_id, plan_shares in shares.items()}


def _archive_rows(
    rows: list[sql.LockedRow],
    *,
    lookups: dict[int, sql.Lookup],
    courses: list[sql.PlanCourse],
    actor: User,
    mode: str,
    reset_tracking: bool,
    notify: bool,
    job: ArchiveJob | None,
    now: datetime.datetime,
) -> dict[int, ItemResult]:
    """SPEC §4.3 steps 1–7 for locked rows that are to be archived (inside the batch transaction)."""
    ids = requested = [row.id for row in rows]
    certificates, files = _store_certificates([lookups[pk] for pk in ids], ids)
    archived, outbox_rows = sql.write_snapshots(
        ids=ids,
        now=now,
        actor_id=actor.pk,
        actor_username=actor.username,
        mode=mode,
        reset_tracking=reset_tracking,
        notify=notify,
        job_id=job.pk if job else None,
        certificates=certificates,
        files=files,
    )
    rows = [row for row in rows if row.id in archived]  # a conflicting snapshot (a race) changes nothing live
    ids = [row.id for row in rows]
    if ids:
        sql.change_live_data(ids=ids, now=now, actor_id=actor.pk, mode=mode, reset_tracking=reset_tracking)
        live_certificates = [lookups[pk].certificate_id for pk in ids if lookups[pk].certificate_id]
        if live_certificates:
            delete_live_certificates(IssuedCertificate.objects.filter(pk__in=live_certificates))
        if mode == ArchiveMode.REENROLL:
            _recompute_statuses(rows, courses, now=now)
        _audit(rows, archived, actor=actor, mode=mode, reset_tracking=reset_tracking, notify=notify, job=job)
    if outbox_rows:
        transaction.on_commit(enqueue_outbox_sender)

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


def archived_certificate_response(archived: ArchivedPlanEnrollment, *, actor: User) -> FileResponse | None:
    """The archived certificate PDF as a download, audited; None when the record has no certificate.

    A file missing from archive storage raises FileNotFoundError, before anything is audited."""
    if archived.certificate is None or not archived.certificate.file:
        return None
    pdf = archived.certificate.file.open("rb")
    audit.record(
        actor=actor,
        action="archived_certificate.download",
        object_type="archived_plan_enrollment",
        object_id=archived.pk,
    )
    filename = f"certificate-{archived.user_username}-{archived.plan_code or archived.plan_number}-{archived.round}.pdf"
    return FileResponse(pdf, as_attachment=True, filename=filename, content_type="application/pdf")


def _archived_message(round_: int, mode: str) -> str:
    then = f"re-enrolled for round {round_ + 1}" if mode == ArchiveMode.REENROLL else "unenrolled"
    return f"Round {round_} archived; {then}."


def _store_certificates(lookups: list[sql.Lookup], ids: list[int]) -> tuple[dict[int, str], dict]:
    """Copy the live certificates' PDFs into content-addressed storage.

    Returns ({enrollment id: sha256}, {sha256: (path, size)}). A live certificate whose PDF is not
    rendered yet has no bytes to keep: the snapshot then records only when it was assigned.
    """
    contents: dict[int, bytes] = {}
    for pk, lookup in zip(ids, lookups, strict=True):
        if lookup.certificate_id:
            content = storage.read_live_file(lookup.certificate_file)
            if content is not None:
                contents[pk] = content
    if not contents:
        return {}, {}
    files = storage.store_contents(contents.values())
    return {pk: hashlib.sha256(content).hexdigest() for pk, content in contents.items()}, files


def _recompute_statuses(rows: list[sql.LockedRow], courses: list[sql.PlanCourse], *, now: datetime.datetime):
    """Statuses from tracking: the re-enrolled rows start from 0; other plans' Completed stays (sticky).

    Every course of the plan is recomputed, reset or not: material added since the last computation
    (the reason to re-enroll with the tracking kept) makes a stored course status stale.
    """
    by_plan: dict[int, list[int]] = {}
    for course in courses:
        by_plan.setdefault(course.learning_plan_id, []).append(course.course_id)
    pairs = [(row.user_id, course_id) for row in rows for course_id in by_plan.get(row.learning_plan_id, [])]
    recompute_course_statuses(pairs, now=now)
    touched = set(plan_enrollment_ids_touching(pairs)) | {row.id for row in rows}
    refresh_plan_statuses(sorted(touched), now=now)


def _audit(
    rows: list[sql.LockedRow],
    archived: dict[int, int],
    *,
    actor: User,
    mode: str,
    reset_tracking: bool,
    notify: bool,
    job: ArchiveJob | None,
) -> None:
    """One audit event per batch: the job's when there is one, else the archived record's (or the plan's)."""
    details = {
        "mode": mode,
        "reset_tracking": reset_tracking,
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
