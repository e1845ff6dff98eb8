"""Retraining runs (SPEC §11): once a day per rule, the due Completed rounds are frozen on a run and archived and
re-enrolled by background jobs with `trigger = rule` — no human actor; a big run waits for a superadmin's
confirmation. A run is unique per (rule, day), so a repeated or concurrent start makes one run."""

from __future__ import annotations

import datetime
import logging
from collections import Counter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollments.models import RetrainingRule
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record

from ..compliance import due_rounds
from ..models import ArchiveJob, ArchiveMode, RetrainingRun, Trigger
from .submission import start_frozen_archive_job

logger = logging.getLogger(__name__)
Status = RetrainingRun.Status


def utc_today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def rule_is_active(rule: RetrainingRule, today: datetime.date) -> bool:
    return not rule.paused and (rule.start_after is None or rule.start_after <= today)


def start_run(
    rule: RetrainingRule, *, actor: User | None = None, today: datetime.date | None = None
) -> tuple[RetrainingRun, bool]:
    """Today's run of `rule`: (run, True) when this call made it, (the existing run, False) when today's run exists
    — nothing is started twice. `actor` is the superadmin of "Run now", None for the daily run.

    Raises ValidationError(code="rule_inactive") on a paused rule or before its `start_after`.
    """
    if actor is not None:
        require_superadmin(actor)
    today = today or utc_today()
    existing = RetrainingRun.objects.filter(rule=rule, run_date=today).first()
    if existing is not None:
        return existing, False
    if not rule_is_active(rule, today):
        reason = "paused" if rule.paused else f"starts after {rule.start_after:%d %B %Y}"
        raise ValidationError(f"The retraining rule is {reason}: it does not run today.", code="rule_inactive")
    rounds = due_rounds(today=today, rule_ids=[rule.pk])
    pairs = [[r.enrollment_id, r.round] for r in rounds if r.skip_reason is None]
    skipped = dict(Counter(r.skip_reason for r in rounds if r.skip_reason))
    waits = len(pairs) > settings.RETRAINING_CONFIRM_OVER
    try:
        with transaction.atomic():
            run = RetrainingRun.objects.create(
                rule=rule,
                run_date=today,
                status=Status.AWAITING_CONFIRMATION if waits else Status.RUNNING,
                selected=len(pairs),
                skipped=skipped,
                pairs=pairs,
                started_by=actor,
            )
            record(
                actor=actor,
                action="retraining_run.started",
                object_type="retraining_run",
                object_id=run.pk,
                details={
                    "rule_id": rule.pk,
                    "learning_plan_id": rule.learning_plan_id,
                    "selected": len(pairs),
                    "skipped": skipped,
                    "awaiting_confirmation": waits,
                },
            )
            if not waits:
                _submit(run)
    except IntegrityError:  # another worker made today's run between our check and our insert
        return RetrainingRun.objects.get(rule=rule, run_date=today), False
    return run, True


def confirm_run(run: RetrainingRun, *, actor: User, count: int, today: datetime.date | None = None) -> RetrainingRun:
    """A superadmin confirms a run waiting for it by repeating its number of learners; it then starts. A
    confirmation lapses at the end of the run's UTC day."""
    require_superadmin(actor)
    today = today or utc_today()
    with transaction.atomic():
        run = RetrainingRun.objects.select_for_update().select_related("rule").get(pk=run.pk)
        if run.status != Status.AWAITING_CONFIRMATION:
            raise ValidationError(
                f"This run is {run.get_status_display().lower()}: there is nothing to confirm.", code="invalid_request"
            )
        if run.run_date != today:
            raise ValidationError(
                "This run's day is over; the next daily run selects the learners again.", code="invalid_request"
            )
        if count != run.selected:
            raise ValidationError(
                f"Type the number of learners the run archives ({run.selected:,}) to confirm it.",
                code="invalid_request",
            )
        run.status, run.confirmed_by, run.confirmed_at = Status.RUNNING, actor, timezone.now()
        run.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        RetrainingRule.objects.filter(pk=run.rule_id).update(saved_by=actor)
        run.rule.saved_by = actor
        record(
            actor=actor,
            action="retraining_run.confirmed",
            object_type="retraining_run",
            object_id=run.pk,
            details={"count": count},
        )
        _submit(run)
    return run


def _submit(run: RetrainingRun) -> None:
    """The run's frozen pairs as re-enroll jobs of at most ARCHIVE_MAX_SELECT_ALL pairs (inside the caller's
    transaction: the jobs are enqueued when it commits). The §4.5 selection limits are an admin's, not a run's."""
    rule = run.rule
    pairs = [(int(e), int(r)) for e, r in run.pairs]
    size = max(1, settings.ARCHIVE_MAX_SELECT_ALL)
    for start in range(0, len(pairs), size):
        start_frozen_archive_job(
            learning_plan=rule.learning_plan,
            actor=rule.saved_by,
            mode=ArchiveMode.REENROLL,
            reset_tracking=rule.reset_tracking,
            notify=rule.notify,
            pairs=pairs[start : start + size],
            trigger=Trigger.RULE,
            retraining_run=run,
        )
    if not pairs:
        run.status, run.finished_at = Status.COMPLETED, timezone.now()
        run.save(update_fields=["status", "finished_at"])


def refresh_runs() -> int:
    """Finish the running runs whose jobs have all finished (counts from the jobs); returns how many finished."""
    finished = 0
    for run in RetrainingRun.objects.filter(status=Status.RUNNING).prefetch_related("jobs"):
        jobs = list(run.jobs.all())
        if any(not job.is_finished for job in jobs):
            continue
        archived = sum(int(job.counts.get("archived", 0)) for job in jobs)
        failed = any(job.status == ArchiveJob.Status.FAILED for job in jobs)
        if RetrainingRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
            status=Status.FAILED if failed else Status.COMPLETED,
            archived=archived,
            finished_at=timezone.now(),
            error="A job of this run failed; see its page." if failed else "",
        ):
            finished += 1
    return finished


def run_due_rules(*, now: datetime.datetime | None = None) -> list[RetrainingRun]:
    """The daily run: from RETRAINING_RUN_HOUR_UTC on, start today's run of every active rule that has none yet.
    A day without a worker is not caught up; the next run takes everyone whose window opened meanwhile."""
    now = (now or timezone.now()).astimezone(datetime.UTC)
    if now.hour < settings.RETRAINING_RUN_HOUR_UTC:
        return []
    today = now.date()
    started = []
    rules = RetrainingRule.objects.exclude(runs__run_date=today).select_related("learning_plan", "saved_by")
    for rule in rules:
        if not rule_is_active(rule, today):
            continue
        try:
            run, created = start_run(rule, today=today)
        except Exception:
            logger.exception("Retraining rule #%s: today's run could not start.", rule.pk)
            continue
        if created:
            started.append(run)
    return started
