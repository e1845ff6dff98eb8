"""The demo's archived history (SPEC §6), written by the archiving engine itself (SPEC §4): archive-and-re-enroll
rounds on the demo's fixed clock, and one background job run to the end by the real job runner."""

from __future__ import annotations

import dataclasses
import datetime
import random
import uuid
from decimal import Decimal

from enrollments.demo import DemoOptions, render_certificates_now
from enrollments.models import (
    Course,
    IssuedCertificate,
    LearningPlan,
    LearningPlanCourse,
    LearningPlanEnrollment,
    TrainingMaterial,
)
from enrollments.retraining import save_rule
from enrollments.services import enroll_user
from lms_admin.accounts.models import Level, ManagerLink, User

from .services import archive_batch, check_shared_courses, current_rounds, run_job, start_archive_job
from .services.exemptions import add_exemption

# (days before the demo's clock, share of the eligible enrollments archived then, reset tracking)
ARCHIVE_ROUNDS = ((90, 0.1, False), (30, 0.06, True))
TEAM_CERTIFICATES_RENDERED = 6
MAX_ARCHIVED_PER_ROUND = 400
DEMO_JOB_SIZE = 12


@dataclasses.dataclass
class ArchiveHistory:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    new_certificate_ids: list[int] = dataclasses.field(default_factory=list)


def add_archive_history(options: DemoOptions) -> ArchiveHistory:
    """Archive-and-re-enroll rounds across every plan (the manager's team included, with archived certificate
    PDFs) on the demo's clock, then one finished background job run by the real job runner."""
    history = ArchiveHistory()
    admin = User.objects.filter(username="admin").first()
    if admin is None or not LearningPlanEnrollment.objects.exists():
        return history
    rng = random.Random(options.seed + 5)
    team = set(ManagerLink.objects.filter(manager__username="manager").values_list("employee_id", flat=True))
    before = set(IssuedCertificate.objects.values_list("pk", flat=True))
    archived = 0
    for days, share, reset in ARCHIVE_ROUNDS:
        when = options.now - datetime.timedelta(days=days)
        candidates = list(
            LearningPlanEnrollment.objects.filter(enrolled_at__lt=when)
            .order_by("learning_plan__uid", "user__username")
            .values_list("pk", "user_id")
        )
        chosen = [pk for pk, user_id in candidates if user_id in team or rng.random() < share]
        if len(chosen) > MAX_ARCHIVED_PER_ROUND:  # a few hundred records whatever the demo's size; the team first
            team_enrollments = {pk for pk, user_id in candidates if user_id in team}
            others = [pk for pk in chosen if pk not in team_enrollments]
            kept = set(others[: max(0, MAX_ARCHIVED_PER_ROUND - len(team_enrollments))]) | team_enrollments
            chosen = [pk for pk in chosen if pk in kept]
        # The team's certificates get their PDFs first, so their archived copies can be downloaded.
        team_certificates = list(
            IssuedCertificate.objects.filter(
                user_id__in=team, file="", learning_plan__enrollments__pk__in=chosen
            ).values_list("pk", flat=True)[:TEAM_CERTIFICATES_RENDERED]
        )
        render_certificates_now(team_certificates)
        for start in range(0, len(chosen), 500):
            results = archive_batch(
                current_rounds(chosen[start : start + 500]),
                actor=admin,
                mode="reenroll",
                reset_tracking=reset,
                notify=False,
                now=when,
            )
            archived += sum(1 for item in results if item.outcome == "archived")
    history.counts["archived enrollments"] = archived
    history.new_certificate_ids = sorted(set(IssuedCertificate.objects.values_list("pk", flat=True)) - before)

    # One finished job: learners enrolled for a short refresher, then archived-and-unenrolled by the runner.
    plan = next(
        (p for p in LearningPlan.objects.order_by("uid") if p.plan_courses.exists() and not check_shared_courses(p)),
        None,
    )
    if plan is None:
        plan = _refresher_plan(options, rng)
    if plan is not None:
        enrolled_at = options.now - datetime.timedelta(days=10)
        learners = list(
            User.objects.filter(level=Level.USER, is_active=True)
            .exclude(plan_enrollments__learning_plan=plan)
            .order_by("username")[:DEMO_JOB_SIZE]
        )
        ids = [enroll_user(user=u, learning_plan=plan, enrolled_by=admin, now=enrolled_at).pk for u in learners]
        if len(ids) >= 2:
            job = start_archive_job(learning_plan=plan, actor=admin, mode="unenroll", notify=False, enrollment_ids=ids)
            run_job(job.pk)
            history.counts["archive jobs"] = 1
            history.counts["archived enrollments"] += len(ids)
    return history


def _refresher_plan(options: DemoOptions, rng: random.Random) -> LearningPlan:
    """A one-course plan of its own for the demo job (unenroll needs a plan whose courses no other plan shares)."""
    created = options.now - datetime.timedelta(days=40)
    course = Course.objects.create(
        title="Emergency exits refresher", code="C-EXIT", uid=uuid.UUID(int=rng.getrandbits(128)), language="en"
    )
    TrainingMaterial.objects.bulk_create(
        TrainingMaterial(course=course, title=title, kind="video", position=n)
        for n, title in enumerate(["Where the exits are", "Evacuation drill"])
    )
    plan = LearningPlan.objects.create(
        title="Emergency exits refresher",
        code="LP-EXIT",
        uid=uuid.UUID(int=rng.getrandbits(128)),
        created_at=created,
        published_at=created,
        credits=Decimal("0.50"),
    )
    LearningPlanCourse.objects.create(learning_plan=plan, course=course, position=0)
    return plan


# Retraining on the demo's first plans: (months valid, window days). Every compliance state shows on the day.
DEMO_RULES = ((12, 30), (24, 60))


def add_retraining(options: DemoOptions) -> dict[str, int]:
    """Rules on two plans, through the same service as the Retraining tab, then a deterministic mix of every
    compliance state relative to the demo's clock (due, expired, retraining, exempt beside certified)."""
    admin = User.objects.filter(username="admin").first()
    plans = list(LearningPlan.objects.filter(enrollments__status=2).distinct().order_by("uid")[: len(DEMO_RULES)])
    if admin is None or not plans:
        return {}
    today = options.now.date()
    rules = 0
    for plan, (months, window) in zip(plans, DEMO_RULES, strict=False):
        rule = save_rule(learning_plan=plan, actor=admin, data={"valid_for_months": months, "window_days": window}).rule
        completed = list(LearningPlanEnrollment.objects.filter(learning_plan=plan, status=2).order_by("user__username"))
        # Every fifth completed learner falls due, every seventh has expired; one learner is exempt.
        for n, enrollment in enumerate(completed):
            if n % 5 == 1:
                enrollment.certified_until = today + datetime.timedelta(days=window // 2)
            elif n % 7 == 2:
                enrollment.certified_until = today - datetime.timedelta(days=3 + n % 20)
            else:
                continue
            enrollment.save(update_fields=["certified_until"])
        started = list(LearningPlanEnrollment.objects.filter(learning_plan=plan, status=1).order_by("user__username"))
        for enrollment in started[::6]:  # re-enrolled early: still certified while they retrain
            enrollment.certified_until = today + datetime.timedelta(days=45)
            enrollment.save(update_fields=["certified_until"])
        if completed:
            add_exemption(
                rule=rule, actor=admin, user=completed[-1].user, reason="Long-term leave", until=None, today=today
            )
        rules += 1
    return {"retraining rules": rules}
