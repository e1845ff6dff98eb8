"""The demo's live rows (enrollments.demo), generated in memory from one `random.Random(seed)` on a fixed clock
and written set-based (enrollments.demo_load): users, the catalogue, enrollments and tracking, statuses, managers
and certificates. The order of the draws is the data: changing it changes every demo.
"""

from __future__ import annotations

import datetime
import random
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from lms_admin.accounts.models import Level, ManagerLink, User

from .demo_data import (
    CERTIFICATE_TEMPLATES,
    COURSE_SUBJECTS,
    FIRST_NAMES,
    LANGUAGE_WEIGHTS,
    LANGUAGES,
    LAST_NAMES,
    MATERIAL_KINDS,
    PLAN_TITLES,
)
from .demo_load import (
    compute_statuses,
    copy_rows,
    enrolled_learners,
    insert_course_enrollments,
    issue_certificates,
    reserve_ids,
)
from .models import (
    CertificateTemplate,
    Course,
    CourseEnrollment,
    CourseType,
    IssuedCertificate,
    LearningPlan,
    LearningPlanCourse,
    LearningPlanEnrollment,
    MaterialTracking,
    TrackingStatus,
    TrainingMaterial,
)
from .services import validity_for

# The models the builder loads: their keys and indexes are rebuilt after loading (demo_load).
LOADED_MODELS = [
    User,
    ManagerLink,
    TrainingMaterial,
    LearningPlan,
    LearningPlanCourse,
    LearningPlan.power_users.through,
    LearningPlanEnrollment,
    CourseEnrollment,
    MaterialTracking,
    IssuedCertificate,
]
# The demo logins of SPEC §6: username, password, first name, last name, level.
DEMO_LOGINS = [
    ("admin", "admin", "Alex", "Admin", Level.SUPERADMIN),
    ("power", "power", "Pat", "Power", Level.POWER_USER),
    ("manager", "manager", "Morgan", "Manager", Level.USER),
    ("director", "director", "Dana", "Director", Level.USER),
]
TEAM_SIZE = 10
OTHER_MANAGERS = 3
OTHER_POWER_USERS = 2


class DemoBuilder:
    """Builds the demo rows in memory from a seeded generator, then writes them set-based.

    `build()` leaves the rows written, `counts` and `timings` of what it did, and `certificate_ids`: the
    certificates issued, the manager's team first."""

    def __init__(
        self, *, now: datetime.datetime, seed: int, users: int, plans: int, courses: int, per_plan: int
    ) -> None:
        self.now = now
        self.today = now.date()
        self.rng = random.Random(seed)
        self.user_count, self.plan_count, self.course_count, self.per_plan = users, plans, courses, per_plan
        self.counts: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self._usernames: dict[str, int] = {}

    # -- helpers ---------------------------------------------------------------------------------------------
    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128))

    def moment_between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        seconds = max(int((end - start).total_seconds()), 0)
        return start + datetime.timedelta(seconds=self.rng.randint(0, seconds))

    def days_ago(self, low: int, high: int) -> datetime.datetime:
        return self.now - datetime.timedelta(seconds=self.rng.randint(low * 86_400, high * 86_400))

    def username_for(self, first: str, last: str) -> str:
        """first.last, then first.last2, first.last3... (generated bases never end in a digit, so never clash)."""
        base = f"{first}.{last}".lower()
        n = self._usernames[base] = self._usernames.get(base, 0) + 1
        return base if n == 1 else f"{base}{n}"

    def timed(self, label: str, started: float) -> None:
        self.timings[label] = time.perf_counter() - started

    # -- the build -------------------------------------------------------------------------------------------
    def build(self) -> None:
        started = time.perf_counter()
        self.build_users()
        self.build_catalogue()
        self.timed("users and catalogue", started)
        started = time.perf_counter()
        self.build_enrollments()
        self.timed("enrollments and tracking", started)
        started = time.perf_counter()
        compute_statuses(self.touched_pairs, now=self.now)
        self.timed("statuses", started)
        started = time.perf_counter()
        self.build_hierarchy_and_certificates()
        self.timed("managers and certificates", started)

    def build_users(self) -> None:
        rng = self.rng
        hashes = {password: make_password(password) for _, password, *_ in DEMO_LOGINS}
        unusable = make_password(None)
        rows = []
        specials = [
            (username, hashes[password], first, last, level) for username, password, first, last, level in DEMO_LOGINS
        ]
        for _ in range(OTHER_POWER_USERS):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            specials.append((self.username_for(first, last), unusable, first, last, Level.POWER_USER))
        ids = reserve_ids(User, len(specials) + self.user_count)
        self.demo_ids = {username: ids[i] for i, (username, *_) in enumerate(specials[: len(DEMO_LOGINS)])}
        self.power_user_ids = [ids[i] for i, s in enumerate(specials) if s[4] == Level.POWER_USER]
        for i, (username, password, first, last, level) in enumerate(specials):
            superadmin = level == Level.SUPERADMIN
            joined = self.days_ago(700, 900)
            rows.append(
                (ids[i], password, self.days_ago(0, 3), superadmin, username, first, last,
                 f"{username}@example.com", superadmin, True, joined, "en", level, None)
            )  # fmt: skip
        self.learner_ids = ids[len(specials) :]
        for user_id in self.learner_ids:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            username = self.username_for(first, last)
            roll = rng.random()
            is_active = not (roll < 0.04)
            if 0.04 <= roll < 0.08:
                expires_on = self.today - datetime.timedelta(days=rng.randint(1, 300))
            elif 0.08 <= roll < 0.20:
                expires_on = self.today + datetime.timedelta(days=rng.randint(400, 1200))
            else:
                expires_on = None
            joined = self.days_ago(30, 900)
            last_login = None if rng.random() < 0.2 else self.moment_between(joined, self.now)
            language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
            rows.append(
                (user_id, unusable, last_login, False, username, first, last, f"{username}@example.com",
                 False, is_active, joined, language, Level.USER, expires_on)
            )  # fmt: skip
        columns = [
            "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
            "is_staff", "is_active", "date_joined", "language", "level", "expires_on",
        ]  # fmt: skip
        self.counts["users"] = copy_rows(User, columns, rows)

    def build_catalogue(self) -> None:
        rng = self.rng
        template_ids = reserve_ids(CertificateTemplate, len(CERTIFICATE_TEMPLATES))
        copy_rows(
            CertificateTemplate,
            ["id", "name", "html"],
            [(tid, name, html) for tid, (name, html) in zip(template_ids, CERTIFICATE_TEMPLATES, strict=True)],
        )
        self.counts["certificate templates"] = len(template_ids)

        # Courses: the last one has no material (completed by an admin, SPEC §3).
        course_ids = reserve_ids(Course, self.course_count)
        subjects = rng.sample(COURSE_SUBJECTS, len(COURSE_SUBJECTS))
        course_rows, material_rows = [], []
        self.materials_of: dict[int, list[int]] = {}
        material_ids = iter(reserve_ids(TrainingMaterial, self.course_count * 5))
        for i, course_id in enumerate(course_ids):
            subject = subjects[i % len(subjects)]
            title = subject if i < len(subjects) else f"{subject} {i // len(subjects) + 1}"
            course_type = rng.choices(list(CourseType.values), [70, 15, 15])[0]
            course_rows.append((course_id, title, f"C-{101 + i}", self.uid(), course_type, "en"))
            count = 0 if i == self.course_count - 1 and self.course_count > 1 else rng.randint(1, 5)
            self.materials_of[course_id] = []
            for position in range(count):
                material_id = next(material_ids)
                kind = rng.choice(MATERIAL_KINDS)
                material_rows.append((material_id, course_id, f"{title}: part {position + 1} ({kind})", kind, position))
                self.materials_of[course_id].append(material_id)
        copy_rows(Course, ["id", "title", "code", "uid", "course_type", "language"], course_rows)
        copy_rows(TrainingMaterial, ["id", "course_id", "title", "kind", "position"], material_rows)
        self.counts["courses"] = len(course_rows)
        self.counts["training materials"] = len(material_rows)
        self.empty_course_id = course_ids[-1] if self.course_count > 1 else None

        # Plans: 0 and 1 have templates and share a course; 0 has validity days, 1 start/end dates;
        # 2 holds the course without material.
        plan_ids = reserve_ids(LearningPlan, self.plan_count)
        pool = [c for c in course_ids if c != self.empty_course_id]
        rng.shuffle(pool)
        cursor_in_pool = 0
        self.plan_courses: dict[int, list[int]] = {}
        self.plans: dict[int, LearningPlan] = {}
        plan_rows, link_rows = [], []
        for i, plan_id in enumerate(plan_ids):
            title = PLAN_TITLES[i % len(PLAN_TITLES)]
            if i >= len(PLAN_TITLES):
                title = f"{title} {i // len(PLAN_TITLES) + 1}"
            count = rng.randint(2, 4)
            chosen = []
            for _ in range(min(count, len(pool))):
                chosen.append(pool[cursor_in_pool % len(pool)])
                cursor_in_pool += 1
            if i == 1 and self.plan_courses.get(plan_ids[0]):
                chosen.append(self.plan_courses[plan_ids[0]][0])  # the shared course
            if self.empty_course_id and i == min(2, self.plan_count - 1):
                chosen.append(self.empty_course_id)
            chosen = list(dict.fromkeys(chosen))
            self.plan_courses[plan_id] = chosen
            link_rows += [(plan_id, course_id, position) for position, course_id in enumerate(chosen)]
            created = self.days_ago(500, 800)
            plan = LearningPlan(
                id=plan_id,
                title=title,
                code=f"LP-{i + 1:03d}",
                uid=self.uid(),
                language="en",
                created_at=created,
                published_at=None if i == 5 else self.moment_between(created, created + datetime.timedelta(days=30)),
                updated_at=self.now,
                validity_days=180 if i == 0 else (rng.choice([None, 365]) if i >= 3 else None),
                start_date=(self.today - datetime.timedelta(days=120)) if i == 1 else None,
                end_date=(self.today + datetime.timedelta(days=200)) if i == 1 else None,
                credits=Decimal(rng.randint(2, 16)) / 4,
                certificate_template_id=template_ids[i % 2] if i < 2 or rng.random() < 0.5 else None,
            )
            self.plans[plan_id] = plan
            plan_rows.append(
                (plan.id, plan.title, plan.code, plan.uid, plan.language, plan.created_at, plan.published_at,
                 plan.updated_at, plan.validity_days, plan.start_date, plan.end_date, plan.credits,
                 plan.certificate_template_id)
            )  # fmt: skip
        copy_rows(
            LearningPlan,
            ["id", "title", "code", "uid", "language", "created_at", "published_at", "updated_at", "validity_days",
             "start_date", "end_date", "credits", "certificate_template_id"],
            plan_rows,
        )  # fmt: skip
        copy_rows(LearningPlanCourse, ["learning_plan_id", "course_id", "position"], link_rows)
        self.counts["learning plans"] = len(plan_rows)

        # Power users: `power` gets two plans, the others one each.
        assignments = [(self.demo_ids["power"], pid) for pid in plan_ids[:2]]
        for n, user_id in enumerate(u for u in self.power_user_ids if u != self.demo_ids["power"]):
            if plan_ids:
                assignments.append((user_id, plan_ids[(n + 2) % len(plan_ids)]))
        copy_rows(LearningPlan.power_users.through, ["user_id", "learningplan_id"], assignments)

    def build_enrollments(self) -> None:
        rng = self.rng
        admin_id = self.demo_ids["admin"]
        course_plans: dict[int, int] = {}
        for courses in self.plan_courses.values():
            for course_id in courses:
                course_plans[course_id] = course_plans.get(course_id, 0) + 1
        shared_materials = {m for c, n in course_plans.items() if n > 1 for m in self.materials_of[c]}

        per_plan = self.per_plan
        plan_rows: list[tuple] = []
        # Courses without material are completed by an admin (SPEC §3): for finishers and some others.
        empty_courses = {
            pid: [c for c in courses if not self.materials_of[c]] for pid, courses in self.plan_courses.items()
        }
        manual_completions: dict[tuple[int, int], datetime.datetime] = {}
        profiles: list[tuple[int, int, datetime.datetime, str]] = []
        # (user, course) pairs with an attempt or a manual completion: the only ones whose status can leave 0.
        self.touched_pairs: set[tuple[int, int]] = set()
        enrollment_ids = iter(reserve_ids(LearningPlanEnrollment, per_plan * len(self.plans)))
        for plan_id, plan in self.plans.items():
            for user_id in rng.sample(self.learner_ids, per_plan):
                enrolled_at = self.days_ago(0, 400)
                enrolled_by = admin_id if rng.random() < 0.8 else None
                profile = rng.choices(("fresh", "started", "finished"), (3, 4, 3))[0]
                validity_start, validity_end = validity_for(plan, enrolled_at)
                enrollment_id = next(enrollment_ids)
                plan_rows.append(
                    (enrollment_id, user_id, plan_id, enrolled_at, enrolled_by, self.now, validity_start,
                     validity_end, 0, None, 1)
                )  # fmt: skip
                profiles.append((user_id, plan_id, enrolled_at, profile))
                for course_id in empty_courses[plan_id]:
                    pair = (user_id, course_id)
                    if pair not in manual_completions and (
                        profile == "finished" or (profile == "started" and rng.random() < 0.5)
                    ):
                        manual_completions[pair] = self.moment_between(enrolled_at, self.now)
                        self.touched_pairs.add(pair)
        self.enrollment_ids = [row[0] for row in plan_rows]
        copy_rows(
            LearningPlanEnrollment,
            ["id", "user_id", "learning_plan_id", "enrolled_at", "enrolled_by_id", "updated_at", "validity_start",
             "validity_end", "status", "completed_at", "round"],
            plan_rows,
        )  # fmt: skip
        self.counts["plan enrollments"] = len(plan_rows)
        self.counts["course enrollments"] = insert_course_enrollments(
            self.enrollment_ids, manual_completions, now=self.now
        )

        def tracking_rows() -> Iterator[tuple]:
            seen: set[tuple[int, int]] = set()
            for user_id, plan_id, enrolled_at, profile in profiles:
                for course_id in self.plan_courses[plan_id]:
                    for material_id in self.materials_of[course_id]:
                        if material_id in shared_materials:
                            if (user_id, material_id) in seen:
                                continue
                            seen.add((user_id, material_id))
                        roll = rng.random()
                        if profile == "finished" or (profile == "started" and roll < 0.45):
                            status = TrackingStatus.COMPLETED
                        elif profile == "started" and roll < 0.7:
                            status = TrackingStatus.IN_PROGRESS
                        elif roll < (0.85 if profile == "started" else 0.15):
                            status = TrackingStatus.NOT_ATTEMPTED
                        else:
                            continue
                        completed_at = score = None
                        if status != TrackingStatus.NOT_ATTEMPTED:
                            self.touched_pairs.add((user_id, course_id))
                        if status == TrackingStatus.COMPLETED:
                            completed_at = self.moment_between(enrolled_at, self.now)
                            if rng.random() < 0.5:
                                score = Decimal(rng.randint(55, 100))
                        yield (user_id, material_id, status.value, completed_at, score, self.now)

        self.counts["material tracking"] = copy_rows(
            MaterialTracking,
            ["user_id", "material_id", "status", "completed_at", "score", "updated_at"],
            tracking_rows(),
        )

    def build_hierarchy_and_certificates(self) -> None:
        rng = self.rng
        # Learners with at least one enrollment, in a stable order, form the teams.
        enrolled = enrolled_learners(self.enrollment_ids)
        rng.shuffle(enrolled)
        manager_id, director_id = self.demo_ids["manager"], self.demo_ids["director"]
        links = [(director_id, manager_id)]
        team = enrolled[:TEAM_SIZE]
        links += [(manager_id, employee) for employee in team]
        self.team_ids = team
        rest = enrolled[TEAM_SIZE:]
        for _ in range(OTHER_MANAGERS):
            if len(rest) < 2:
                break
            other_manager, rest = rest[0], rest[1:]
            size = min(rng.randint(5, 12), len(rest))
            links.append((director_id, other_manager))
            links += [(other_manager, employee) for employee in rest[:size]]
            rest = rest[size:]
        copy_rows(
            ManagerLink, ["manager_id", "employee_id", "manager_type"], [(m, e, "Line manager") for m, e in links]
        )
        self.counts["manager links"] = len(links)

        certificates = issue_certificates(self.enrollment_ids)
        self.counts["certificates"] = len(certificates)
        team = set(self.team_ids)
        # The manager's team first, so "My team" shows downloadable certificates.
        ordered = [cid for cid, uid in certificates if uid in team] + [
            cid for cid, uid in certificates if uid not in team
        ]
        self.certificate_ids = ordered
