"""What the workers do periodically for retraining, beside the reconciler (SPEC §11)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from .reminders import send_certification_reminders
from .retraining import refresh_runs, run_due_rules


def retraining_tick(*, now: datetime.datetime | None = None) -> dict:
    """What the workers' periodic loop does for retraining (every reconcile interval): start today's runs once the
    run hour is reached, finish runs whose jobs are done, write the certification reminders that are due. Each
    step is safe to repeat: runs are unique per (rule, day) and reminders per dedupe key."""
    started = run_due_rules(now=now)
    finished = refresh_runs()
    reminded = send_certification_reminders(today=(now or timezone.now()).astimezone(datetime.UTC).date())
    return {"runs_started": [run.pk for run in started], "runs_finished": finished, "reminders": reminded}
