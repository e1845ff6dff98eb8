"""Submitting an admin's selection (SPEC §4.5): what it selects, within the limits, archived now or as a job.

`submit_archive` is the one place that decides "now, in the request" or "a background job"; `selected_enrollments`
is the one check of the selection limits, for the pop-up's preview and for a job alike. A job's row, with its frozen
(enrollment, round) pairs, is the truth; RQ only triggers it, after commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from enrollments.content import reset_tracking_option
from enrollments.filters import ActiveEnrollmentFilter
from enrollments.models import LearningPlan, LearningPlanEnrollment
from enrollments.selectors import filter_plan_enrollments
from lms_admin.accounts.models import User
from lms_admin.audit.services import record
from lms_admin.queues import enqueues_are_held

from ..models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, ArchiveMode, RetrainingRun, Trigger
from .engine import (
    ArchiveOutcome,
    archive_enrollments,
    check_archive_mode,
    check_archive_request,
)
from .shared_courses import check_shared_courses, shared_course_message

logger = logging.getLogger(__name__)

ARCHIVE_QUEUE = "archive"
RUN_ARCHIVE_JOB = "archive.jobs.run_archive_job"
Status = ArchiveJob.Status


# --- what a selection selects ----------------------------------------------------------------------------------


def selected_enrollments(
    learning_plan: LearningPlan,
    *,
    enrollment_ids: Sequence[int] | None = None,
    select_all_filters: Mapping[str, Any] | None = None,
) -> QuerySet[LearningPlanEnrollment]:
    """The plan's active enrollments an admin selected: ids picked by hand (all of them must be the plan's), or
    every enrollment matching the Active list's filters. Exactly one of the two; both limits are checked here.

    Raises ValidationError coded invalid_selection, invalid_request (an unknown filter or a bad value) or
    limit_exceeded.
    """
    if (enrollment_ids is None) == (select_all_filters is None):
        raise ValidationError(
            "Choose the enrollments to archive: either a list of enrollment ids or select all with filters.",
            code="invalid_selection",
        )
    if select_all_filters is not None:
        return _matching_enrollments(learning_plan, select_all_filters)

    ids = _picked_ids(enrollment_ids)
    queryset = LearningPlanEnrollment.objects.filter(learning_plan=learning_plan, pk__in=ids)
    missing = sorted(set(ids) - set(queryset.values_list("pk", flat=True)))
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:20]) + (" …" if len(missing) > 20 else "")
        raise ValidationError(f"Not active enrollments of “{learning_plan.title}”: {shown}.", code="invalid_selection")
    return queryset


def _picked_ids(enrollment_ids: Sequence[int]) -> list[int]:
    """Ids picked by hand, without repeats, in id order; at most ARCHIVE_MAX_MANUAL_SELECTION of them."""
    if isinstance(enrollment_ids, str | bytes) or not all(
        isinstance(pk, int) and not isinstance(pk, bool) for pk in enrollment_ids
    ):
        raise ValidationError("Enrollment ids must be a list of integers.", code="invalid_selection")
    ids = sorted(set(enrollment_ids))
    if not ids:
        raise ValidationError("No enrollment selected.", code="invalid_selection")
    limit = settings.ARCHIVE_MAX_MANUAL_SELECTION
    if len(ids) > limit:
        raise ValidationError(
            f"{len(ids)} enrollments were picked by hand; at most {limit} can be. "
            f"Use “Select all” with filters for up to {settings.ARCHIVE_MAX_SELECT_ALL}.",
            code="limit_exceeded",
        )
    return ids


def _matching_enrollments(plan: LearningPlan, filters: Mapping[str, Any]) -> QuerySet[LearningPlanEnrollment]:
    """Select all: the enrollments the filters match, at most ARCHIVE_MAX_SELECT_ALL of them. A name that is not
    one of the Active list's filters is refused, not ignored: ignoring it would select more than was asked."""
    if not isinstance(filters, Mapping):
        raise ValidationError("Select all needs the list's filters as an object.", code="invalid_selection")
    known = tuple(ActiveEnrollmentFilter.base_filters)
    unknown = sorted(str(name)[:60] for name in filters if name not in known)
    if unknown:
        raise ValidationError(
            f"Unknown filter{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:20])}: select all takes only the "
            f"Active list's filters ({', '.join(known)}). Nothing was archived.",
            code="invalid_request",
        )
    queryset = filter_plan_enrollments(plan, filters)
    limit = settings.ARCHIVE_MAX_SELECT_ALL
    if queryset.order_by()[: limit + 1].count() > limit:
        matching = queryset.order_by().count()
        raise ValidationError(
            f"{matching} enrollments match these filters; “Select all” archives at most {limit}. "
            "Narrow the filters and run it in several jobs.",
            code="limit_exceeded",
        )
    return queryset


# --- now or as a job -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveSubmission:
    """What `submit_archive` did: archived now (`outcome`, one item) or started a background job (`job`)."""

    outcome: ArchiveOutcome | None = None
    job: ArchiveJob | None = None


def submit_archive(
    *,
    learning_plan: LearningPlan,
    actor: User,
    mode: str,
    reset_tracking: bool | str = False,
    notify: bool = True,
    enrollment_ids: Sequence[int] | None = None,
    select_all_filters: Mapping[str, Any] | None = None,
    rounds: Sequence[int] | None = None,
) -> ArchiveSubmission:
    """Archive an admin's selection: one enrollment picked by hand now, in the request; two or more, or select
    all, as a background job (`start_archive_job`). The pop-up and the API both submit here.

    `rounds`, parallel to `enrollment_ids`, are the rounds the caller saw (SPEC §4.10): those are archived, now or
    frozen on the job, and a round that moved on comes out skipped_already_archived.
    Raises what `archive_enrollments` and `start_archive_job` raise, and ValidationError coded invalid_selection
    for one id of another plan's enrollment or a round the enrollment has not reached, invalid_request for rounds
    that do not pair with the ids; nothing is created when it raises.
    """
    check_archive_request(actor, mode)
    options = {"mode": mode, "reset_tracking": reset_tracking_option(reset_tracking), "notify": notify}
    if rounds is not None:
        pairs = _given_pairs(enrollment_ids, rounds, select_all_filters)
        if len(pairs) > 1:
            job = start_frozen_archive_job(learning_plan=learning_plan, actor=actor, pairs=pairs, **options)
            return ArchiveSubmission(job=job)
        _check_given_rounds(learning_plan, pairs, for_job=False)
        ((enrollment_id, round_),) = pairs
        outcome = archive_enrollments(enrollment_ids=[enrollment_id], rounds=[round_], actor=actor, **options)
        return ArchiveSubmission(outcome=outcome)
    enrollment_id = _the_one_picked(enrollment_ids, select_all_filters)
    if enrollment_id is None:
        job = start_archive_job(
            learning_plan=learning_plan,
            actor=actor,
            enrollment_ids=enrollment_ids,
            select_all_filters=select_all_filters,
            **options,
        )
        return ArchiveSubmission(job=job)
    # An id that is no enrollment any more goes to the engine, which tells "already archived" from "not found".
    if LearningPlanEnrollment.objects.filter(pk=enrollment_id).exclude(learning_plan=learning_plan).exists():
        raise ValidationError(f"Enrollment {enrollment_id} is not in this learning plan.", code="invalid_selection")
    return ArchiveSubmission(outcome=archive_enrollments(enrollment_ids=[enrollment_id], actor=actor, **options))


def _the_one_picked(enrollment_ids: Sequence[int] | None, select_all_filters: Mapping[str, Any] | None) -> int | None:
    """The id when exactly one enrollment was picked by hand (repeats aside), else None."""
    if enrollment_ids is None or select_all_filters is not None:
        return None
    ids = _picked_ids(enrollment_ids)
    return ids[0] if len(ids) == 1 else None


def _given_pairs(
    enrollment_ids: Sequence[int] | None, rounds: Sequence[int], select_all_filters: Mapping[str, Any] | None
) -> list[tuple[int, int]]:
    """(id, round) pairs from ids picked by hand and the rounds seen, in id order, within the manual limit."""
    if enrollment_ids is None or select_all_filters is not None:
        raise ValidationError(
            "Rounds go with enrollment ids picked by hand, not with select all.", code="invalid_request"
        )
    if isinstance(rounds, str | bytes) or len(rounds) != len(enrollment_ids):
        raise ValidationError("Give one round per enrollment id, in the same order.", code="invalid_request")
    if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rounds):
        raise ValidationError("Rounds must be whole numbers from 1.", code="invalid_request")
    ids = _picked_ids(enrollment_ids)
    pairs: dict[int, int] = {}
    for pk, round_ in zip(enrollment_ids, rounds, strict=True):
        if pairs.setdefault(pk, round_) != round_:
            raise ValidationError(f"Enrollment {pk} is given two different rounds.", code="invalid_request")
    return [(pk, pairs[pk]) for pk in ids]


def _check_given_rounds(plan: LearningPlan, pairs: Sequence[tuple[int, int]], *, for_job: bool) -> None:
    """Refuse pairs that cannot be what the caller saw: an enrollment of another plan, a round it has not reached,
    and (for a job, as for any job selection) an id that is neither live in the plan nor archived in that round."""
    ids = [pk for pk, _ in pairs]
    live = {pk: (plan_id, round_) for pk, plan_id, round_ in _live_rounds(ids)}
    foreign = [pk for pk in ids if pk in live and live[pk][0] != plan.pk]
    if foreign:
        raise ValidationError(f"Not enrollments of “{plan.title}”: {_listed(foreign)}.", code="invalid_selection")
    ahead = [(pk, round_) for pk, round_ in pairs if pk in live and round_ > live[pk][1]]
    if ahead:
        named = ", ".join(f"{pk} (round {live[pk][1]}, not {round_})" for pk, round_ in ahead[:20])
        raise ValidationError(
            f"These enrollments have not reached the rounds given: {named}.", code="invalid_selection"
        )
    gone = [(pk, round_) for pk, round_ in pairs if pk not in live]
    if for_job and gone:
        archived = set(
            ArchivedPlanEnrollment.objects.filter(
                learning_plan=plan, enrollment_id__in=[pk for pk, _ in gone]
            ).values_list("enrollment_id", "round")
        )
        missing = [pk for pk, round_ in gone if (pk, round_) not in archived]
        if missing:
            raise ValidationError(
                f"Not active enrollments of “{plan.title}”: {_listed(missing)}.", code="invalid_selection"
            )


def _live_rounds(ids: Sequence[int]) -> list[tuple[int, int, int]]:
    return list(LearningPlanEnrollment.objects.filter(pk__in=ids).values_list("pk", "learning_plan_id", "round"))


def _listed(ids: Sequence[int]) -> str:
    return ", ".join(str(pk) for pk in ids[:20]) + (" …" if len(ids) > 20 else "")


# --- background jobs -------------------------------------------------------------------------------------------


def start_archive_job(
    *,
    learning_plan: LearningPlan,
    actor: User,
    mode: str,
    reset_tracking: bool | str = False,
    notify: bool = True,
    enrollment_ids: Sequence[int] | None = None,
    select_all_filters: Mapping[str, Any] | None = None,
) -> ArchiveJob:
    """Freeze the selection's (id, round) pairs on a new job row and enqueue it once the row is committed.

    Raises PermissionDenied, or ValidationError coded invalid_mode, invalid_selection, invalid_request (a bad
    filter or reset_tracking value), limit_exceeded or shared_course; nothing is created when it raises. A failed
    enqueue (Redis down) is logged, not raised: the reconciler enqueues the committed job later.
    """
    check_archive_request(actor, mode)
    reset_tracking = reset_tracking_option(reset_tracking)
    selected = selected_enrollments(learning_plan, enrollment_ids=enrollment_ids, select_all_filters=select_all_filters)
    # In id order, the order the engine locks rows in.
    pairs = list(selected.order_by("pk").values_list("pk", "round"))
    if not pairs:
        raise ValidationError("No active enrollment matches these filters.", code="invalid_selection")
    _check_shared_courses_for(learning_plan, mode)
    return _queue_job(
        learning_plan=learning_plan,
        actor=actor,
        pairs=pairs,
        options={"mode": mode, "reset_tracking": reset_tracking, "notify": bool(notify)},
        select_all_filters=select_all_filters,
    )


def start_frozen_archive_job(
    *,
    learning_plan: LearningPlan,
    actor: User,
    pairs: Sequence[tuple[int, int]],
    mode: str,
    reset_tracking: bool | str = False,
    notify: bool = True,
    trigger: str = Trigger.MANUAL,
    retraining_run: RetrainingRun | None = None,
) -> ArchiveJob:
    """Start a job on (enrollment id, round) pairs the caller already froze (the rounds it saw, or a retraining
    run's due rounds), as they are. A rule's job has no human actor: `actor` is the superadmin who last saved or
    confirmed the rule, shown as the requester and not checked (SPEC §11).

    Raises PermissionDenied, or ValidationError coded invalid_mode, invalid_selection (an id of another plan, a
    round not reached, an id neither live in the plan nor archived in that round) or shared_course."""
    if trigger == Trigger.RULE:
        check_archive_mode(mode)
    else:
        check_archive_request(actor, mode)
    reset_tracking = reset_tracking_option(reset_tracking)
    pairs = sorted(dict(pairs).items())  # one pair per id, in the order the engine locks rows in
    if not pairs:
        raise ValidationError("No enrollment selected.", code="invalid_selection")
    _check_given_rounds(learning_plan, pairs, for_job=True)
    _check_shared_courses_for(learning_plan, mode)
    return _queue_job(
        learning_plan=learning_plan,
        actor=actor,
        pairs=pairs,
        options={"mode": mode, "reset_tracking": reset_tracking, "notify": bool(notify)},
        select_all_filters=None,
        trigger=trigger,
        retraining_run=retraining_run,
    )


def _check_shared_courses_for(learning_plan: LearningPlan, mode: str) -> None:
    if mode == ArchiveMode.UNENROLL:
        shares = check_shared_courses(learning_plan)
        if shares:
            raise ValidationError(shared_course_message(shares), code="shared_course")


def _queue_job(
    *,
    learning_plan: LearningPlan,
    actor: User,
    pairs: Sequence[tuple[int, int]],
    options: dict[str, Any],
    select_all_filters: Mapping[str, Any] | None,
    trigger: str = Trigger.MANUAL,
    retraining_run: RetrainingRun | None = None,
) -> ArchiveJob:
    """Write the job row with its frozen (enrollment id, round) pairs in one transaction; enqueue it on commit."""
    with transaction.atomic():
        job = ArchiveJob.objects.create(
            learning_plan=learning_plan,
            learning_plan_title=learning_plan.title,
            **options,
            select_all=select_all_filters is not None,
            filters=dict(select_all_filters or {}),
            total=len(pairs),
            requested_by=actor,
            requested_by_username=actor.username if actor else "",
            trigger=trigger,
            retraining_run=retraining_run,
            rq_job_id=new_rq_job_id(),
            enqueued_at=timezone.now(),
        )
        ArchiveJobItem.objects.bulk_create(
            (
                ArchiveJobItem(job=job, position=position, enrollment_id=enrollment_id, round=round_)
                for position, (enrollment_id, round_) in enumerate(pairs, start=1)
            ),
            batch_size=5000,
        )
        record(
            actor=actor,
            action="archive_job.submitted",
            object_type="archive_job",
            object_id=job.pk,
            details={
                "learning_plan_id": learning_plan.pk,
                "total": len(pairs),
                "mode": options["mode"],
                "trigger": trigger,
            },
        )
        job_id, rq_job_id = job.pk, job.rq_job_id
        transaction.on_commit(lambda: enqueue_archive_job(job_id, rq_job_id))
    return job


def new_rq_job_id() -> str:
    return f"archive-{uuid.uuid4().hex}"


def enqueue_archive_job(job_id: int, rq_job_id: str) -> bool:
    """Put the RQ trigger for a committed job on the archive queue; False (logged) when Redis refused it, or when
    enqueues are held (the reconciler enqueues the job later either way)."""
    import django_rq

    if enqueues_are_held():
        return False
    try:
        django_rq.get_queue(ARCHIVE_QUEUE, commit_mode="auto").enqueue(
            RUN_ARCHIVE_JOB,
            job_id,
            job_id=rq_job_id,
            job_timeout=settings.ARCHIVE_JOB_RQ_TIMEOUT,
            description=f"archive job #{job_id}",
        )
    except Exception:
        logger.exception("Could not enqueue archive job #%s; the reconciler will enqueue it later.", job_id)
        return False
    return True


# --- cancel -------------------------------------------------------------------------------------------------
