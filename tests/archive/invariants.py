"""The one invariant every archive-job fault test ends with: "0 lost, 0 duplicated" (SPEC §10)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db.models import Count

from archive.models import ArchivedCourseEnrollment, ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, ArchiveMode
from enrollments.models import LearningPlanCourse, LearningPlanEnrollment
from lms_admin.notifications.models import OutboxMessage


def assert_nothing_lost_or_duplicated(jobs: Iterable[ArchiveJob]) -> str:
    """Check the finished jobs against the database and return "0 lost, 0 duplicated" (AssertionError otherwise).

    - every job is finished, its items all have an outcome, and its counts add up to its selection;
    - each frozen (enrollment, round) of the selections is archived by exactly one item and has exactly one
      snapshot; items reporting `skipped_already_archived` point at a snapshot that exists; other outcomes
      leave no snapshot behind;
    - every snapshot has one course snapshot per course of its plan, none twice;
    - the live state is what the mode requires: re-enroll → the same enrollment at the next round,
      unenroll → gone; enrollments not archived are untouched (same round);
    - the outbox has one row per dedupe key, every archived learner got the same number of rows
      (none when notifications were off) and learners never archived got none.
    """
    jobs = [ArchiveJob.objects.get(pk=job.pk) for job in jobs]
    problems: list[str] = []
    items = list(
        ArchiveJobItem.objects.filter(job__in=jobs).values("job_id", "enrollment_id", "round", "outcome", "archive_id")
    )
    for job in jobs:
        own = [item for item in items if item["job_id"] == job.pk]
        by_outcome = Counter(item["outcome"] for item in own)
        if not job.is_finished:
            problems.append(f"job #{job.pk} is {job.status}, not finished")
        if by_outcome.get(""):
            problems.append(f"job #{job.pk}: {by_outcome['']} items without an outcome")
        if len(own) != job.total or job.processed != job.total or sum(job.counts.values()) != job.total:
            problems.append(
                f"job #{job.pk}: total {job.total}, items {len(own)}, processed {job.processed}, counts {job.counts}"
            )
        if {k: v for k, v in by_outcome.items() if v} != {k: v for k, v in job.counts.items() if v}:
            problems.append(f"job #{job.pk}: counts {job.counts} differ from the items {dict(by_outcome)}")

    modes = {job.pk: job.mode for job in jobs}
    pairs = {(item["enrollment_id"], item["round"]) for item in items}
    snapshots = {
        (row["enrollment_id"], row["round"]): row
        for row in ArchivedPlanEnrollment.objects.filter(enrollment_id__in={pk for pk, _ in pairs}).values(
            "id", "enrollment_id", "round", "learning_plan_id", "user_id", "notify"
        )
    }
    duplicated_snapshots = (
        ArchivedPlanEnrollment.objects.values("enrollment_id", "round").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    archived_by = defaultdict(list)
    for item in items:
        key = (item["enrollment_id"], item["round"])
        if item["outcome"] == "archived":
            archived_by[key].append(item)
            if key not in snapshots or snapshots[key]["id"] != item["archive_id"]:
                problems.append(f"item {key} reports archived as #{item['archive_id']}, snapshot {snapshots.get(key)}")
        elif item["outcome"] == "skipped_already_archived" and key not in snapshots:
            problems.append(f"item {key} reports already archived, but no snapshot exists")
    lost = [key for key, snapshot in snapshots.items() if key in pairs and key not in archived_by]
    lost += [key for key, reports in archived_by.items() if key not in snapshots]
    duplicated = [key for key, reports in archived_by.items() if len(reports) > 1]
    if lost:
        problems.append(f"snapshots without exactly one archived item, or archived items without one: {lost}")
    if duplicated or duplicated_snapshots:
        problems.append(f"archived twice: {duplicated}; duplicate snapshots: {duplicated_snapshots}")

    # Course snapshots: one per course of the plan, none twice.
    plan_courses = Counter(
        LearningPlanCourse.objects.filter(
            learning_plan_id__in={s["learning_plan_id"] for s in snapshots.values()}
        ).values_list("learning_plan_id", flat=True)
    )
    course_rows = Counter(
        ArchivedCourseEnrollment.objects.filter(plan_archive_id__in=[s["id"] for s in snapshots.values()]).values_list(
            "plan_archive_id", "course_number"
        )
    )
    per_archive = Counter(plan_archive_id for plan_archive_id, _ in course_rows.elements())
    for snapshot in snapshots.values():
        expected = plan_courses[snapshot["learning_plan_id"]]
        if per_archive[snapshot["id"]] != expected:
            problems.append(
                f"archive #{snapshot['id']}: {per_archive[snapshot['id']]} course snapshots, not {expected}"
            )
    if any(n > 1 for n in course_rows.values()):
        problems.append("a course snapshot was written twice")

    # Live state.
    live = dict(LearningPlanEnrollment.objects.filter(pk__in={pk for pk, _ in pairs}).values_list("pk", "round"))
    for item in items:
        key = (item["enrollment_id"], item["round"])
        if key in archived_by:
            mode = modes[archived_by[key][0]["job_id"]]
            if mode == ArchiveMode.REENROLL and live.get(item["enrollment_id"]) != item["round"] + 1:
                problems.append(f"re-enrolled {key} is at round {live.get(item['enrollment_id'])}")
            if mode == ArchiveMode.UNENROLL and item["enrollment_id"] in live:
                problems.append(f"unenrolled {key} is still enrolled")
        elif key not in snapshots and live.get(item["enrollment_id"]) != item["round"]:
            problems.append(
                f"{key} was not archived but its live enrollment changed: {live.get(item['enrollment_id'])}"
            )

    # Outbox: one row per dedupe key, the same number for every archived learner, none for the others.
    outbox = OutboxMessage.objects.aggregate(rows=Count("id"), keys=Count("dedupe_key", distinct=True))
    if outbox["rows"] != outbox["keys"]:
        problems.append(f"outbox: {outbox['rows']} rows for {outbox['keys']} dedupe keys")
    archived_users = {s["user_id"] for key, s in snapshots.items() if key in archived_by and s["notify"]}
    rows_per_user = Counter(
        OutboxMessage.objects.filter(recipient_id__isnull=False).values_list("recipient_id", flat=True)
    )
    if len({rows_per_user[user_id] for user_id in archived_users}) > 1 or 0 in {
        rows_per_user[user_id] for user_id in archived_users
    }:
        problems.append(f"archived learners got different numbers of notifications: {dict(rows_per_user)}")
    strangers = set(rows_per_user) - {s["user_id"] for s in snapshots.values()}
    if strangers:
        problems.append(f"learners never archived got notifications: {sorted(strangers)}")

    assert not problems, "invariant broken:\n  " + "\n  ".join(problems)
    return f"{len(lost)} lost, {len(duplicated)} duplicated"
