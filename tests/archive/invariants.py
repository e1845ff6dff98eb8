"""The one invariant every archive fault test ends with: "0 lost, 0 duplicated" (SPEC §10).

It checks what a user would notice, from the database and the stored files: every round archived once and
reported so, the learner's live data as the mode and the reset option leave it, the notifications the rules
asked for, the certificate of every completed round kept, and counts that add up.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db.models import Count

from archive.models import (
    ArchivedCertificate,
    ArchivedCourseEnrollment,
    ArchivedPlanEnrollment,
    ArchiveJob,
    ArchiveJobItem,
    ArchiveMode,
)
from archive.services import ArchiveOutcome
from enrollments.models import (
    CourseEnrollment,
    LearningPlanCourse,
    LearningPlanEnrollment,
    MaterialTracking,
    TrainingMaterial,
)
from lms_admin.accounts.models import Level, ManagerLink, User
from lms_admin.notifications.models import NotificationEvent, NotificationRule, OutboxMessage

# A progress update racing an archive takes its timestamp before it writes: its row may carry a time a little
# before the archive's, yet be written after the reset (the serial order "archive, then progress").
RACING_PROGRESS_SLACK_SECONDS = 5

# The events an archive fires; their dedupe key is "event:enrollment id:round:course id or -:recipient id".
ARCHIVE_EVENTS = (
    NotificationEvent.LP_ENROLLMENT_ARCHIVED,
    NotificationEvent.COURSE_ENROLLMENT_ARCHIVED,
    NotificationEvent.LP_USER_ENROLLED,
    NotificationEvent.LP_USER_UNENROLLED,
    NotificationEvent.COURSE_USER_ENROLLED,
    NotificationEvent.COURSE_USER_UNENROLLED,
)


@dataclass(frozen=True)
class Report:
    """What one job item or one direct archive said became of an enrollment."""

    source: str
    enrollment_id: int
    round: int | None  # the frozen round of a job item; a direct archive's is its snapshot's
    outcome: str
    archive_id: int | None
    job_id: int | None


def assert_nothing_lost_or_duplicated(
    jobs: Iterable[ArchiveJob] = (),
    *,
    outcomes: Iterable[ArchiveOutcome] = (),
    rules: Iterable[NotificationRule] | None = None,
    concurrent_progress: bool = False,
) -> str:
    """Check finished jobs and direct archives (`outcomes` of archive_enrollments) against the database and the
    stored files; return "0 lost, 0 duplicated" or raise AssertionError naming every problem found.

    - jobs are finished, every item has an outcome and the counts add up to the selection;
    - every snapshot of the enrollments concerned is reported `archived` by exactly one item (of its own job, or
      a direct archive), every `archived` report points at its snapshot, `skipped_already_archived` at one;
    - no round is skipped: between the first round seen and the last one archived, each has its snapshot;
    - live state: re-enroll → the same enrollment at the next round, enrolled at the archive time by the
      archiving admin, with a course enrollment per course of the plan from then; unenroll → gone, with the plan's
      course enrollments; an enrollment never archived → at its frozen round;
    - tracking: a reset leaves nothing older than the archive (`concurrent_progress`: a few seconds' slack for
      updates that raced it); without a reset every tracked material of the archived round is still tracked;
    - one course snapshot per course of the plan, none twice;
    - the outbox holds exactly the rows the `rules` (default: the enabled rules now) asked for, per (enrollment,
      round), and none for a round archived without notifications;
    - every completed round of a plan with a certificate template keeps its certificate: the stored file is
      there and hashes to the recorded sha256 (a certificate still being prepared counts as not kept).
    """
    problems = Invariant(list(jobs), list(outcomes), rules, concurrent_progress).problems()
    assert not problems, "invariant broken:\n  " + "\n  ".join(problems)
    return "0 lost, 0 duplicated"


class Invariant:
    def __init__(self, jobs, outcomes, rules, concurrent_progress: bool) -> None:
        self.jobs = [ArchiveJob.objects.get(pk=job.pk) for job in jobs]
        self.items = list(
            ArchiveJobItem.objects.filter(job__in=self.jobs).values(
                "job_id", "enrollment_id", "round", "outcome", "archive_id"
            )
        )
        self.reports = [
            Report(f"job #{i['job_id']}", i["enrollment_id"], i["round"], i["outcome"], i["archive_id"], i["job_id"])
            for i in self.items
        ]
        self.reports += [
            Report("archive", item.enrollment_id, None, item.outcome, item.archive_id, None)
            for outcome in outcomes
            for item in outcome.items
        ]
        self.enrollment_ids = {report.enrollment_id for report in self.reports}
        self.rules = list(NotificationRule.objects.filter(enabled=True) if rules is None else rules)
        self.slack = RACING_PROGRESS_SLACK_SECONDS if concurrent_progress else 0
        self.found: list[str] = []
        self.snapshots = list(
            ArchivedPlanEnrollment.objects.filter(enrollment_id__in=self.enrollment_ids)
            .order_by("enrollment_id", "round")
            .values(
                "id", "enrollment_id", "round", "mode", "reset_tracking", "notify", "job_id", "user_id",
                "learning_plan_id", "archived_at", "archived_by_id", "plan_status", "plan_certificate_template_number",
                "certificate_id", "certificate_sha256", "certificate_pending",
            )
        )  # fmt: skip
        self.by_key = {(s["enrollment_id"], s["round"]): s for s in self.snapshots}
        self.by_id = {s["id"]: s for s in self.snapshots}
        self.latest = {s["enrollment_id"]: s for s in self.snapshots}  # ordered by round: the last one wins
        self.course_snapshots = defaultdict(list)
        for row in ArchivedCourseEnrollment.objects.filter(plan_archive_id__in=self.by_id).values(
            "plan_archive_id", "course_number", "tracking"
        ):
            self.course_snapshots[row["plan_archive_id"]].append(row)
        self.plan_courses = defaultdict(list)
        plans = {s["learning_plan_id"] for s in self.snapshots}
        for plan_id, course_id in LearningPlanCourse.objects.filter(learning_plan_id__in=plans).values_list(
            "learning_plan_id", "course_id"
        ):
            self.plan_courses[plan_id].append(course_id)
        self.live = {
            row["id"]: row
            for row in LearningPlanEnrollment.objects.filter(pk__in=self.enrollment_ids).values(
                "id", "round", "user_id", "learning_plan_id", "enrolled_at", "enrolled_by_id"
            )
        }

    def problems(self) -> list[str]:
        self.check_jobs()
        self.check_reports()
        self.check_rounds_and_live_enrollments()
        self.check_course_snapshots()
        self.check_live_learning()
        self.check_outbox()
        self.check_certificates()
        return self.found

    def problem(self, text: str) -> None:
        self.found.append(text)

    # Jobs, reports, rounds

    def check_jobs(self) -> None:
        for job in self.jobs:
            own = Counter(item["outcome"] for item in self.items if item["job_id"] == job.pk)
            if not job.is_finished:
                self.problem(f"job #{job.pk} is {job.status}, not finished")
            if own.get(""):
                self.problem(f"job #{job.pk}: {own['']} items without an outcome")
            if own.total() != job.total or job.processed != job.total or sum(job.counts.values()) != job.total:
                self.problem(
                    f"job #{job.pk}: total {job.total}, items {own.total()}, processed {job.processed}, "
                    f"counts {job.counts}"
                )
            if {k: v for k, v in own.items() if v} != {k: v for k, v in job.counts.items() if v}:
                self.problem(f"job #{job.pk}: counts {job.counts} differ from the items {dict(own)}")

    def check_reports(self) -> None:
        claims: Counter[int] = Counter()
        for report in self.reports:
            if report.outcome == "archived":
                snapshot = self.snapshot_reported(report)
                if snapshot is None:
                    self.problem(f"lost: {report} reports archived, but there is no such snapshot")
                else:
                    claims[snapshot["id"]] += 1
            elif report.outcome == "skipped_already_archived" and self.round_unarchived(report):
                self.problem(f"{report} reports already archived, but that round has no snapshot")
        for snapshot in self.snapshots:
            key = (snapshot["enrollment_id"], snapshot["round"])
            if claims[snapshot["id"]] == 0:
                self.problem(f"lost: snapshot #{snapshot['id']} of {key} is reported archived by no outcome")
            elif claims[snapshot["id"]] > 1:
                n = claims[snapshot["id"]]
                self.problem(f"duplicated: snapshot #{snapshot['id']} of {key} is reported archived {n} times")
        doubles = (
            ArchivedPlanEnrollment.objects.filter(enrollment_id__in=self.enrollment_ids)
            .values("enrollment_id", "round")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        for double in doubles:
            self.problem(f"duplicated: {double['n']} snapshots of {(double['enrollment_id'], double['round'])}")

    def round_unarchived(self, report: Report) -> bool:
        return report.round is not None and (report.enrollment_id, report.round) not in self.by_key

    def snapshot_reported(self, report: Report) -> dict | None:
        """The snapshot an `archived` report points at: its job's snapshot of the frozen round, or the direct
        archive's snapshot of that enrollment."""
        if report.round is not None:
            snapshot = self.by_key.get((report.enrollment_id, report.round))
        else:
            snapshot = self.by_id.get(report.archive_id)
        if snapshot is None or snapshot["id"] != report.archive_id or snapshot["job_id"] != report.job_id:
            return None
        return snapshot if snapshot["enrollment_id"] == report.enrollment_id else None

    def check_rounds_and_live_enrollments(self) -> None:
        rounds = defaultdict(set)
        unenrolled = defaultdict(set)
        for snapshot in self.snapshots:
            rounds[snapshot["enrollment_id"]].add(snapshot["round"])
            if snapshot["mode"] == ArchiveMode.UNENROLL:
                unenrolled[snapshot["enrollment_id"]].add(snapshot["round"])
        frozen = defaultdict(set)
        not_found = set()
        for report in self.reports:
            if report.round is not None:
                frozen[report.enrollment_id].add(report.round)
            if report.outcome == "not_found":
                not_found.add(report.enrollment_id)
        for enrollment_id in sorted(self.enrollment_ids):
            live = self.live.get(enrollment_id)
            archived = rounds[enrollment_id]
            if not archived:
                if enrollment_id in not_found and live is not None:
                    self.problem(f"enrollment {enrollment_id} was reported not found, but it exists")
                for round_ in frozen[enrollment_id]:
                    if enrollment_id not in not_found and (live or {}).get("round") != round_:
                        where = "gone" if live is None else f"at round {live['round']}"
                        self.problem(
                            f"lost: ({enrollment_id}, {round_}) was never archived, yet its enrollment is {where}"
                        )
                continue
            first = min(archived | frozen[enrollment_id])
            skipped = sorted(set(range(first, max(archived) + 1)) - archived)
            if skipped:
                self.problem(f"lost: enrollment {enrollment_id} moved past rounds {skipped} without a snapshot")
            last = self.latest[enrollment_id]
            if unenrolled[enrollment_id] - {last["round"]}:
                self.problem(f"enrollment {enrollment_id} was archived again after an unenroll")
            if last["mode"] == ArchiveMode.UNENROLL and live is not None:
                self.problem(f"unenrolled ({enrollment_id}, {last['round']}) is still enrolled")
            if last["mode"] == ArchiveMode.REENROLL:
                if live is None or live["round"] != last["round"] + 1:
                    where = "gone" if live is None else f"at round {live['round']}"
                    self.problem(f"re-enrolled ({enrollment_id}, {last['round']}) is {where}, not at the next round")
                elif (live["enrolled_at"], live["enrolled_by_id"]) != (last["archived_at"], last["archived_by_id"]):
                    self.problem(f"re-enrolled enrollment {enrollment_id} was not re-enrolled by its archive")

    def check_course_snapshots(self) -> None:
        for snapshot in self.snapshots:
            courses = Counter(row["course_number"] for row in self.course_snapshots[snapshot["id"]])
            expected = len(self.plan_courses[snapshot["learning_plan_id"]])
            if courses.total() != expected:
                self.problem(f"archive #{snapshot['id']}: {courses.total()} course snapshots, not {expected}")
            if any(n > 1 for n in courses.values()):
                self.problem(f"archive #{snapshot['id']}: a course snapshot was written twice")

    # The learner's live course enrollments and tracking, after the latest archive of each enrollment

    def check_live_learning(self) -> None:
        """After the latest archive of each learner in each plan (an unenrolled learner may be enrolled again, as a
        new enrollment), the course enrollments and tracking the mode and the reset option leave."""
        owners = self.current_owners({s["user_id"] for s in self.latest.values() if s["user_id"]})
        learner_of, last_of = {}, {}
        for snapshot in self.latest.values():
            live = self.live.get(snapshot["enrollment_id"])
            learner = live["user_id"] if live else owners.get(snapshot["user_id"])
            learner_of[snapshot["id"]] = learner
            key = (learner, snapshot["learning_plan_id"])
            if key not in last_of or last_of[key]["id"] < snapshot["id"]:  # a new enrollment comes after the unenroll
                last_of[key] = snapshot
        latest = list(last_of.values())
        learners = set(learner_of.values()) - {None}
        course_enrollments = {
            (row["user_id"], row["course_id"]): row
            for row in CourseEnrollment.objects.filter(user_id__in=learners).values(
                "user_id", "course_id", "enrolled_at"
            )
        }
        needed = set(
            LearningPlanEnrollment.objects.filter(user_id__in=learners).values_list(
                "user_id", "learning_plan__plan_courses__course_id"
            )
        )
        materials = defaultdict(list)
        for material_id, course_id in TrainingMaterial.objects.filter(
            course_id__in={c for courses in self.plan_courses.values() for c in courses}
        ).values_list("id", "course_id"):
            materials[course_id].append(material_id)
        tracking = {
            (row["user_id"], row["material_id"]): row
            for row in MaterialTracking.objects.filter(user_id__in=learners).values(
                "user_id", "material_id", "updated_at"
            )
        }
        for snapshot in latest:
            learner = learner_of[snapshot["id"]]
            if learner is None:
                continue
            key = (snapshot["enrollment_id"], snapshot["round"])
            plan_courses = self.plan_courses[snapshot["learning_plan_id"]]
            for course_id in plan_courses:
                enrolled = course_enrollments.get((learner, course_id))
                if snapshot["mode"] == ArchiveMode.REENROLL:
                    if enrolled is None or enrolled["enrolled_at"] != snapshot["archived_at"]:
                        self.problem(f"re-enrolled {key}: course {course_id} was not re-enrolled with it")
                elif enrolled is not None and (learner, course_id) not in needed:
                    self.problem(f"unenrolled {key}: the course enrollment in course {course_id} is still there")
            plan_materials = [m for course_id in plan_courses for m in materials[course_id]]
            if snapshot["reset_tracking"] is True:
                written_before = [
                    m
                    for m in plan_materials
                    if (learner, m) in tracking
                    and (snapshot["archived_at"] - tracking[(learner, m)]["updated_at"]).total_seconds() > self.slack
                ]
                if written_before:
                    self.problem(f"reset {key}: tracking of materials {written_before} survived the reset")
            elif snapshot["reset_tracking"] is False:  # "changed" is checked by its own tests (tests/content)
                tracked = {
                    entry[0]
                    for course in self.course_snapshots[snapshot["id"]]
                    for entry in course["tracking"]
                    if entry[1] != "not_attempted"
                }
                gone = sorted(m for m in tracked if (learner, m) not in tracking)
                if gone:
                    self.problem(f"kept-tracking {key}: the tracking of materials {gone} was lost")

    @staticmethod
    def current_owners(user_ids: set[int]) -> dict[int, int]:
        """Each user's live data owner now: themselves, or the user they were merged into (followed to the end)."""
        merged_into = dict(User.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id"))
        owners = {}
        for user_id in user_ids:
            owner, seen = user_id, set()
            while owner in merged_into and owner not in seen:
                seen.add(owner)
                owner = merged_into[owner]
            owners[user_id] = owner
        return owners

    # Notifications and certificates

    def check_outbox(self) -> None:
        expected = set()
        for snapshot in self.snapshots:
            if snapshot["notify"]:
                expected |= self.expected_outbox_keys(snapshot)
        actual = Counter()
        for key in OutboxMessage.objects.filter(event__in=ARCHIVE_EVENTS).values_list("dedupe_key", flat=True):
            enrollment_id = int(key.split(":")[1])
            if enrollment_id in self.enrollment_ids:
                actual[key] += 1
        missing = sorted(expected - set(actual))
        extra = sorted(set(actual) - expected)
        if missing:
            self.problem(f"lost notifications: {len(missing)} outbox rows missing, e.g. {missing[:3]}")
        if extra:
            self.problem(f"unexpected notifications: {len(extra)} outbox rows, e.g. {extra[:3]}")
        if any(n > 1 for n in actual.values()):
            self.problem("duplicated notifications: an outbox dedupe key occurs twice")

    def expected_outbox_keys(self, snapshot: dict) -> set[str]:
        """The (event, course) pairs one archive fires (SPEC §4.6), addressed as the rules say."""
        archived_courses = [row["course_number"] for row in self.course_snapshots[snapshot["id"]]]
        if snapshot["mode"] == ArchiveMode.REENROLL:
            # Re-enroll announces every course of the plan; unenroll the course enrollments that existed.
            fired = [("lp_user_enrolled", None)]
            fired += [("course_user_enrolled", c) for c in self.plan_courses[snapshot["learning_plan_id"]]]
        else:
            fired = [("lp_user_unenrolled", None)] + [("course_user_unenrolled", c) for c in archived_courses]
        fired += [("lp_enrollment_archived", None)] + [("course_enrollment_archived", c) for c in archived_courses]
        keys = set()
        for rule in self.rules:
            recipients = self.recipients(rule, snapshot["user_id"])
            for event, course in fired:
                if event == rule.event:
                    keys |= {
                        f"{event}:{snapshot['enrollment_id']}:{snapshot['round']}:{course or '-'}:{recipient}"
                        for recipient in recipients
                    }
        return keys

    @staticmethod
    def recipients(rule: NotificationRule, learner_id: int) -> set[int]:
        found = {learner_id} if rule.to_learner else set()
        if rule.to_managers:
            found |= set(ManagerLink.objects.filter(employee_id=learner_id).values_list("manager_id", flat=True))
        if rule.to_superadmins:
            found |= set(User.objects.filter(level=Level.SUPERADMIN, is_active=True).values_list("pk", flat=True))
        return found

    def check_certificates(self) -> None:
        stored = {
            row["id"]: row
            for row in ArchivedCertificate.objects.filter(
                pk__in={s["certificate_id"] for s in self.snapshots if s["certificate_id"]}
            ).values("id", "sha256", "file")
        }
        for snapshot in self.snapshots:
            key = (snapshot["enrollment_id"], snapshot["round"])
            completed = snapshot["plan_status"] == 2 and snapshot["plan_certificate_template_number"] is not None
            if snapshot["certificate_pending"]:
                self.problem(f"certificate of {key} is still being prepared")
                continue
            if snapshot["certificate_id"] is None:
                if completed:
                    self.problem(f"lost certificate: completed round {key} kept no certificate")
                continue
            certificate = stored[snapshot["certificate_id"]]
            try:
                with default_storage.open(certificate["file"], "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            except FileNotFoundError:
                self.problem(f"lost certificate: the file of {key}'s certificate is missing")
                continue
            if not digest == certificate["sha256"] == snapshot["certificate_sha256"]:
                self.problem(f"certificate of {key}: the stored file does not hash to the recorded sha256")
