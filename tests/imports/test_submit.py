"""Archiving an import's valid rows (SPEC §12): jobs per (plan, mode, reset, notify) with trigger = file, exactly once,
end to end on a real worker; the errors file round trip; expiry and purge."""

from __future__ import annotations

import csv
import datetime
import io
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from archive.exports import import_errors_csv_lines
from archive.import_report import plan_summaries
from archive.models import ArchivedPlanEnrollment, ArchiveImport, ArchiveImportRow, ArchiveJob
from archive.services import reconcile, submit_import
from enrollments.models import LearningPlanEnrollment
from lms_admin.audit.models import AuditEvent
from lms_admin.notifications.models import NotificationEvent, NotificationRule
from tests.archive.test_jobs import wait_until_finished
from tests.factories import UserFactory

from .conftest import row_errors, upload

MULTI_PLAN = (
    "username,plan_code,mode,notify\n"
    "ann,SAFETY,,\n"
    "bob,SAFETY,,no\n"
    "cec,SAFETY,unenroll,\n"
    "ann,FIRE,unenroll,\n"
    "bob,FIRE,unenroll,\n"
    "nobody,FIRE,,\n"
)


@pytest.mark.django_db
def test_submit_starts_one_job_per_plan_and_options_and_a_second_submit_starts_nothing(world, superadmin):
    imp, _ = upload(superadmin, MULTI_PLAN)
    first = submit_import(imp, actor=superadmin)
    jobs = ArchiveJob.objects.order_by("pk")
    shapes = sorted((j.learning_plan.code, j.mode, j.notify, j.total, j.trigger) for j in jobs)
    assert shapes == [
        ("FIRE", "unenroll", True, 2, "file"),
        ("SAFETY", "reenroll", False, 1, "file"),
        ("SAFETY", "reenroll", True, 1, "file"),
        ("SAFETY", "unenroll", True, 1, "file"),
    ]
    assert first.started and imp.status == "submitted"
    again = submit_import(ArchiveImport.objects.get(pk=imp.pk), actor=superadmin)
    assert not again.started and [j.pk for j in again.jobs] == [j.pk for j in first.jobs]
    assert ArchiveJob.objects.count() == 4
    actions = list(
        AuditEvent.objects.filter(object_type="archive_import").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["archive_import.uploaded", "archive_import.submitted"]


@pytest.mark.django_db
def test_jobs_are_at_most_the_select_all_limit(world, superadmin, settings):
    for i in range(5):
        user = UserFactory(username=f"extra{i}")
        LearningPlanEnrollment.objects.create(user=user, learning_plan=world.plans[0])
    settings.ARCHIVE_MAX_SELECT_ALL = 3
    text = "username,plan_code\n" + "".join(f"extra{i},SAFETY\n" for i in range(5)) + "ann,SAFETY\n"
    imp, _ = upload(superadmin, text)
    submit_import(imp, actor=superadmin)
    assert sorted(ArchiveJob.objects.values_list("total", flat=True)) == [3, 3]


@pytest.mark.django_db
def test_only_superadmins_submit_and_an_expired_import_is_refused(world, superadmin, power_user):
    imp, _ = upload(superadmin, "username,plan_code\nann,SAFETY\n")
    with pytest.raises(PermissionDenied):
        submit_import(imp, actor=power_user)
    ArchiveImport.objects.filter(pk=imp.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert reconcile().imports_expired == 1
    with pytest.raises(ValidationError) as refused:
        submit_import(ArchiveImport.objects.get(pk=imp.pk), actor=superadmin)
    assert refused.value.code == "import_expired" and not ArchiveJob.objects.exists()
    assert ArchiveImport.objects.get(pk=imp.pk).status == "expired"


@pytest.mark.django_db
def test_the_same_file_again_gives_the_first_import_until_it_is_submitted(world, superadmin):
    text = "username,plan_code\nann,SAFETY\n"
    first, created = upload(superadmin, text)
    again, created_again = upload(superadmin, text)
    assert created and not created_again and again.pk == first.pk
    other_defaults, created = upload(superadmin, text, notify="false")
    assert created and other_defaults.first_import_id == first.pk
    submit_import(first, actor=superadmin)
    after, created = upload(superadmin, text)
    assert created and after.pk != first.pk and after.first_import_id == first.pk


@pytest.mark.django_db
def test_imports_are_purged_with_their_rows_after_the_retention(world, superadmin, settings):
    kept, _ = upload(superadmin, "username,plan_code\nann,SAFETY\n")
    old, _ = upload(superadmin, "username,plan_code\nbob,SAFETY\n")
    forgotten, _ = upload(superadmin, "username,plan_code\ncec,SAFETY\n")
    submit_import(old, actor=superadmin)
    past = timezone.now() - datetime.timedelta(days=settings.ARCHIVE_JOB_RETENTION_DAYS + 1)
    ArchiveImport.objects.filter(pk=old.pk).update(submitted_at=past)
    ArchiveImport.objects.filter(pk=forgotten.pk).update(expires_at=past)  # expired long ago, never marked
    out = io.StringIO()
    call_command("purge_jobs", stdout=out)
    assert "Deleted 2 archive import(s)" in out.getvalue()
    assert list(ArchiveImport.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not ArchiveImportRow.objects.filter(archive_import_id__in=[old.pk, forgotten.pk]).exists()
    assert ArchiveJob.objects.count() == 1  # the jobs keep their own retention


@pytest.mark.django_db
def test_the_report_counts_per_plan_by_status_and_mode_with_refusals_and_notifications(world, superadmin):
    LearningPlanEnrollment.objects.filter(user=world.users[1], learning_plan=world.plans[0]).update(status=2)
    imp, _ = upload(superadmin, MULTI_PLAN)
    summary = {plan.title: plan for plan in plan_summaries(imp)}
    safety = summary["Safety basics"]
    assert (safety.valid, safety.by_status, safety.by_mode, safety.notified) == (
        3,
        {"enrolled": 2, "in_progress": 0, "completed": 1},
        {"reenroll": 2, "unenroll": 1},
        2,
    )
    assert summary["Fire drill"].valid == 2


@pytest.mark.django_db
def test_the_report_counts_as_notified_only_learners_an_enabled_rule_writes_to(world, superadmin):
    imp, _ = upload(superadmin, MULTI_PLAN)
    NotificationRule.objects.update(enabled=False)
    assert [plan.notified for plan in plan_summaries(imp)] == [0, 0]

    NotificationRule.objects.filter(event=NotificationEvent.LP_USER_UNENROLLED).update(enabled=True)
    summary = {plan.title: plan.notified for plan in plan_summaries(imp)}
    assert summary == {"Fire drill": 2, "Safety basics": 1}  # the unenroll rows with notify on

    NotificationRule.objects.filter(event=NotificationEvent.LP_USER_UNENROLLED).update(to_learner=False)
    assert [plan.notified for plan in plan_summaries(imp)] == [0, 0]  # only managers would hear of it


# --- a real worker ------------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_multi_plan_file_is_archived_end_to_end_and_its_errors_file_round_trips(world, superadmin, rq_worker):
    imp, _ = upload(superadmin, MULTI_PLAN)
    assert row_errors(imp) == {7: "unknown_user"}

    errors_file = "".join(import_errors_csv_lines(imp))
    assert list(csv.reader(io.StringIO(errors_file))) == [
        ["username", "plan_code", "mode", "notify", "error"],
        ["nobody", "FIRE", "", "", "unknown_user: No user has the username “nobody”."],
    ]
    jobs = submit_import(imp, actor=superadmin).jobs
    for job in jobs:
        assert wait_until_finished(job).status == "completed"
    archived = ArchivedPlanEnrollment.objects.filter(trigger="file")
    per_plan = sorted(archived.values_list("plan_code", "user_username", "mode"))
    assert per_plan == [
        ("FIRE", "ann", "unenroll"),
        ("FIRE", "bob", "unenroll"),
        ("SAFETY", "ann", "reenroll"),
        ("SAFETY", "bob", "reenroll"),
        ("SAFETY", "cec", "unenroll"),
    ]
    assert ArchivedPlanEnrollment.objects.count() == 5

    fixed = errors_file.replace("nobody,", "cec,")
    again, _ = upload(superadmin, fixed, name="list-errors.csv")
    assert (again.valid_rows, again.error_rows) == (1, 0)
    (job,) = submit_import(again, actor=superadmin).jobs
    assert wait_until_finished(job).counts == {"archived": 1}
    record = ArchivedPlanEnrollment.objects.get(user_username="cec", plan_code="FIRE")
    assert record.trigger == "file" and record.mode == "reenroll"


@pytest.mark.django_db
def test_a_learner_unenrolled_after_the_upload_is_left_out_and_the_rest_is_archived(world, superadmin):
    imp, _ = upload(superadmin, "username,plan_code\nann,SAFETY\nbob,SAFETY\n")
    LearningPlanEnrollment.objects.filter(user=world.users[1], learning_plan=world.plans[0]).delete()
    (job,) = submit_import(imp, actor=superadmin).jobs
    assert job.total == 1 and list(job.items.values_list("enrollment_id", flat=True)) == [
        world.enrollment(world.users[0], world.plans[0]).pk
    ]
    assert row_errors(imp) == {3: "not_enrolled"} and (imp.valid_rows, imp.error_rows) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_start_the_jobs_once(world, superadmin):
    imp, _ = upload(superadmin, MULTI_PLAN)
    barrier = threading.Barrier(2)
    results = []

    def submit() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(submit_import(ArchiveImport.objects.get(pk=imp.pk), actor=superadmin))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(result.started for result in results) == [False, True]
    first, second = results
    assert sorted(job.pk for job in first.jobs) == sorted(job.pk for job in second.jobs)
    assert ArchiveJob.objects.count() == 4


@pytest.mark.django_db
def test_reset_only_what_changed_from_the_defaults_or_a_cell_splits_the_jobs_by_tracking_option(world, superadmin):
    text = "username,plan_code,reset_tracking\nann,SAFETY,\nbob,SAFETY,changed\ncec,SAFETY,false\n"
    imp, _ = upload(superadmin, text, reset_tracking="true")

    submit_import(imp, actor=superadmin)

    options = {job.reset_tracking: job.total for job in ArchiveJob.objects.all()}
    assert options == {True: 1, "changed": 1, False: 1}
