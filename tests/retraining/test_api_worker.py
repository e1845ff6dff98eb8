"""Run now through the API on a real worker (SPEC §11): the due learners are archived and re-enrolled by the rule —
no human actor — and learners In progress are left alone; their certification dates are kept."""

from __future__ import annotations

import datetime

import pytest

from archive.models import ArchivedPlanEnrollment
from archive.services.retraining import refresh_runs, utc_today
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from tests.api.conftest import ApiClient
from tests.factories import enroll_in_bulk, make_plan
from tests.workers import wait_for

pytestmark = pytest.mark.worker

DAY = datetime.timedelta(days=1)


def test_run_now_archives_the_due_learners_as_the_rule_on_a_real_worker(superadmin, rq_worker):
    plan = make_plan(title="Forklift licence")
    rule = RetrainingRule.objects.create(
        learning_plan=plan, valid_for_months=12, window_days=30, user_statuses=["active"], saved_by=superadmin
    )
    due, busy, later = enroll_in_bulk(plan, 3, prefix="fork")
    until = utc_today() + 10 * DAY
    LearningPlanEnrollment.objects.filter(pk__in=[due.pk, later.pk]).update(
        status=2, completed_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC), certified_until=until
    )
    LearningPlanEnrollment.objects.filter(pk=later.pk).update(certified_until=utc_today() + 90 * DAY)
    LearningPlanEnrollment.objects.filter(pk=busy.pk).update(status=1, certified_until=until)  # In progress
    api = ApiClient(superadmin)

    started = api.post(f"/api/v1/learning-plans/{plan.pk}/retraining-runs")
    assert started.status_code == 202
    run = started.json()["data"]
    assert (run["status"], run["selected"], len(run["jobs"])) == ("running", 1, 1)
    job = wait_for(
        lambda: (
            (data := api.get(f"/api/v1/jobs/{run['jobs'][0]}").json()["data"])["status"] in ("completed", "failed")
            and data
        ),
        timeout=60,
        message="the run's archive job did not finish",
    )
    assert job["status"] == "completed" and job["counts"] == {"archived": 1}

    [snapshot] = ArchivedPlanEnrollment.objects.all()
    assert (snapshot.enrollment_id, snapshot.round) == (due.pk, 1)
    renewed = LearningPlanEnrollment.objects.get(pk=due.pk)
    assert (renewed.round, renewed.status, renewed.certified_until) == (2, 0, until)  # still certified until then
    assert LearningPlanEnrollment.objects.get(pk=busy.pk).round == 1
    assert LearningPlanEnrollment.objects.get(pk=later.pk).round == 1

    refresh_runs()  # what the workers' periodic loop does
    finished = api.get(f"/api/v1/retraining-runs/{run['id']}").json()["data"]
    assert (finished["status"], finished["archived"], finished["jobs"]) == ("completed", 1, run["jobs"])
    again = api.post(f"/api/v1/learning-plans/{plan.pk}/retraining-runs")
    assert again.status_code == 200 and again.json()["data"]["id"] == run["id"]
    assert ArchivedPlanEnrollment.objects.count() == 1
    # Who archived: the rule, no human actor (SPEC §11).
    assert (snapshot.archived_by_id, snapshot.archived_by_username) == (None, f"retraining rule #{rule.pk}")
    assert snapshot.trigger == "rule" and snapshot.job.trigger == "rule"
