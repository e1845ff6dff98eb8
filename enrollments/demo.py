"""The live part of the deterministic demo data (SPEC §6): users, plans, courses, enrollments, tracking.

`manage.py seed_demo` runs it through `lms_admin.demo.seed_demo`, which then adds the archived history
(`archive.demo`) and the first certificate PDFs. Everything a person sees — names, usernames, uids, dates,
statuses, tracking — comes from one `random.Random(seed)` and a fixed clock, so two runs with the same options
build the same data (password hashes and database ids aside). Rows are written with PostgreSQL COPY into ids
reserved from the tables' sequences in one query each; statuses are then computed by the status function
(`enrollments.status`) over every pair at once, never row by row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction

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
from .status import plan_enrollment_ids_touching, recompute_course_statuses, recompute_plan_statuses

DEFAULT_NOW = datetime.datetime(2026, 1, 15, 9, 0, tzinfo=datetime.UTC)
DEFAULT_SEED = 42
DEFAULT_TOTAL_PLAN_ENROLLMENTS = 5_000
STATUS_BATCH = 200_000
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


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    now: datetime.datetime = DEFAULT_NOW
    seed: int = DEFAULT_SEED
    users: int = 2_000
    plans: int = 6
    courses: int = 20
    enrollments_per_plan: int | None = None
    certificates_max: int = 60

    @property
    def per_plan(self) -> int:
        if self.enrollments_per_plan is not None:
            return min(self.enrollments_per_plan, self.users)
        return min(self.users, -(-DEFAULT_TOTAL_PLAN_ENROLLMENTS // max(self.plans, 1)))


@dataclasses.dataclass
class DemoSummary:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    certificates_rendered: int = 0
    certificates_pending: list[int] = dataclasses.field(default_factory=list)


class DemoDataExists(Exception):
    """The database already holds users or plans; seeding would mix demo data into them."""


# ---------------------------------------------------------------------------------------------------------------
# Low-level writers: reserved ids and COPY


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Take `count` ids from the model's id sequence in one query."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def defaults_for_other_columns(model: type[models.Model], columns: Sequence[str]) -> tuple[list[str], tuple]:
    """Columns and constant defaults of the model's concrete fields missing from `columns` (primary key aside)."""
    fields = {f.attname for f in model._meta.concrete_fields}
    unknown = set(columns) - fields
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    others = [f for f in model._meta.concrete_fields if f.attname not in columns and not f.primary_key]
    return [f.column for f in others], tuple(f.get_db_prep_save(f.get_default(), connection) for f in others)


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows (binary) into the model's table; concrete fields not in `columns` get their default."""
    table = model._meta.db_table
    column_names = [model._meta.get_field(c).column if c != "id" else "id" for c in columns]
    extra_names, extra_values = defaults_for_other_columns(model, columns)
    names = column_names + extra_names
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped",
            [table],
        )
        type_oids = dict(cursor.fetchall())
        written = 0
        statement = f"COPY {qn(table)} ({', '.join(qn(n) for n in names)}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(statement) as copy:
            copy.set_types([type_oids[name] for name in names])
            for row in rows:
                copy.write_row((*row, *extra_values))
                written += 1
    return written


@contextlib.contextmanager
def keys_and_indexes_built_after_loading(models_: Sequence[type[models.Model]]) -> Iterator[None]:
    """Drop these tables' foreign keys, unique constraints and secondary indexes while loading; rebuild them at the
    end, inside the same transaction, under the same names and definitions.

    PostgreSQL's own advice for bulk loads ("Populating a Database"): building an index once from sorted data
    and validating a foreign key with one join are far cheaper than maintaining them row by row, and a foreign
    key kept in place costs a trigger and a row lock per inserted row at commit. Primary keys stay. Rebuilding a
    unique constraint also proves the generated data never duplicated a row.
    """
    tables = [m._meta.db_table for m in models_]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
            " WHERE contype IN ('f', 'u') AND conrelid = ANY(%s::regclass[]) ORDER BY contype, 1, 2",
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
            " WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _, _ in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition, _ in sorted(constraints, key=lambda c: c[3] == "f"):  # unique ones first
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}")


def existing_data_counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "learning plans": LearningPlan.objects.count(),
        "courses": Course.objects.count(),
    }


def flush_data() -> None:
    """Wipe users, learning data, archives, jobs, audit and outbox (notification rules stay), ids restarting at 1."""
    from django.core.files.storage import default_storage

    names = [n for n in IssuedCertificate.objects.exclude(file="").values_list("file", flat=True)]
    keep = {"notifications.notificationrule"}
    tables: list[str] = []
    for label in ("accounts", "enrollments", "archive", "audit", "notifications"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.label_lower not in keep and model._meta.managed and not model._meta.proxy:
                tables.append(model._meta.db_table)
    tables += ["django_admin_log", "django_session"]
    with connection.cursor() as cursor:
        quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
        cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    for name in names:
        default_storage.delete(name)


# ---------------------------------------------------------------------------------------------------------------
# The generator


class DemoBuilder:
    """Builds the demo rows in memory from a seeded generator, then writes them set-based."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.now = options.now
        self.today = options.now.date()
        self.rng = random.Random(options.seed)
        self.summary = DemoSummary()
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
        self.summary.timings[label] = time.perf_counter() - started

    # -- the build -------------------------------------------------------------------------------------------
    def build(self) -> DemoSummary:
        started = time.perf_counter()
        self.build_users()
        self.build_catalogue()
        self.timed("users and catalogue", started)
        started = time.perf_counter()
        self.build_enrollments()
        self.timed("enrollments and tracking", started)
        started = time.perf_counter()
        self.compute_statuses()
        self.timed("statuses", started)
        started = time.perf_counter()
        self.build_hierarchy_and_certificates()
        self.timed("managers and certificates", started)
        return self.summary

    def build_users(self) -> None:
        o, rng = self.options, self.rng
        hashes = {password: make_password(password) for _, password, *_ in DEMO_LOGINS}
        unusable = make_password(None)
        rows = []
        specials = [
            (username, hashes[password], first, last, level) for username, password, first, last, level in DEMO_LOGINS
        ]
        for _ in range(OTHER_POWER_USERS):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            specials.append((self.username_for(first, last), unusable, first, last, Level.POWER_USER))
        ids = reserve_ids(User, len(specials) + o.users)
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
        self.summary.counts["users"] = copy_rows(User, columns, rows)

    def build_catalogue(self) -> None:
        o, rng = self.options, self.rng
        template_ids = reserve_ids(CertificateTemplate, len(CERTIFICATE_TEMPLATES))
        copy_rows(
            CertificateTemplate,
            ["id", "name", "html"],
            [(tid, name, html) for tid, (name, html) in zip(template_ids, CERTIFICATE_TEMPLATES, strict=True)],
        )
        self.summary.counts["certificate templates"] = len(template_ids)

        # Courses: the last one has no material (completed by an admin, SPEC §3).
        course_ids = reserve_ids(Course, o.courses)
        subjects = rng.sample(COURSE_SUBJECTS, len(COURSE_SUBJECTS))
        course_rows, material_rows = [], []
        self.materials_of: dict[int, list[int]] = {}
        material_ids = iter(reserve_ids(TrainingMaterial, o.courses * 5))
        for i, course_id in enumerate(course_ids):
            subject = subjects[i % len(subjects)]
            title = subject if i < len(subjects) else f"{subject} {i // len(subjects) + 1}"
            course_type = rng.choices(list(CourseType.values), [70, 15, 15])[0]
            course_rows.append((course_id, title, f"C-{101 + i}", self.uid(), course_type, "en"))
            count = 0 if i == o.courses - 1 and o.courses > 1 else rng.randint(1, 5)
            self.materials_of[course_id] = []
            for position in range(count):
                material_id = next(material_ids)
                kind = rng.choice(MATERIAL_KINDS)
                material_rows.append((material_id, course_id, f"{title}: part {position + 1} ({kind})", kind, position))
                self.materials_of[course_id].append(material_id)
        copy_rows(Course, ["id", "title", "code", "uid", "course_type", "language"], course_rows)
        copy_rows(TrainingMaterial, ["id", "course_id", "title", "kind", "position"], material_rows)
        self.summary.counts["courses"] = len(course_rows)
        self.summary.counts["training materials"] = len(material_rows)
        self.empty_course_id = course_ids[-1] if o.courses > 1 else None

        # Plans: 0 and 1 have templates and share a course; 0 has validity days, 1 start/end dates;
        # 2 holds the course without material.
        plan_ids = reserve_ids(LearningPlan, o.plans)
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
            if self.empty_course_id and i == min(2, o.plans - 1):
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
        self.summary.counts["learning plans"] = len(plan_rows)

        # Power users: `power` gets two plans, the others one each.
        assignments = [(self.demo_ids["power"], pid) for pid in plan_ids[:2]]
        for n, user_id in enumerate(u for u in self.power_user_ids if u != self.demo_ids["power"]):
            if plan_ids:
                assignments.append((user_id, plan_ids[(n + 2) % len(plan_ids)]))
        copy_rows(LearningPlan.power_users.through, ["user_id", "learningplan_id"], assignments)

    def build_enrollments(self) -> None:
        o, rng = self.options, self.rng
        admin_id = self.demo_ids["admin"]
        course_plans: dict[int, int] = {}
        for courses in self.plan_courses.values():
            for course_id in courses:
                course_plans[course_id] = course_plans.get(course_id, 0) + 1
        shared_materials = {m for c, n in course_plans.items() if n > 1 for m in self.materials_of[c]}

        per_plan = o.per_plan
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
        self.summary.counts["plan enrollments"] = len(plan_rows)
        self.summary.counts["course enrollments"] = self.insert_course_enrollments(manual_completions)

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

        self.summary.counts["material tracking"] = copy_rows(
            MaterialTracking,
            ["user_id", "material_id", "status", "completed_at", "score", "updated_at"],
            tracking_rows(),
        )

    def insert_course_enrollments(self, manual_completions: dict[tuple[int, int], datetime.datetime]) -> int:
        """One course enrollment per learner and course of their plans, copied from the first plan enrollment
        that brought the course (one INSERT ... SELECT); then the admins' manual completions."""
        columns = ["user_id", "course_id", "enrolled_at", "enrolled_by_id", "updated_at", "status"]
        extra_names, extra_values = defaults_for_other_columns(CourseEnrollment, columns)
        qn = connection.ops.quote_name
        names = ", ".join(qn(n) for n in columns + extra_names)
        extra_sql = "".join(", %s" for _ in extra_values)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO enrollments_courseenrollment ({names})
                SELECT DISTINCT ON (e.user_id, lpc.course_id)
                       e.user_id, lpc.course_id, e.enrolled_at, e.enrolled_by_id, %s, 0{extra_sql}
                FROM enrollments_learningplanenrollment e
                JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e.learning_plan_id
                WHERE e.id = ANY(%s::bigint[])
                ORDER BY e.user_id, lpc.course_id, e.id
                """,
                [self.now, *extra_values, self.enrollment_ids],
            )
            inserted = cursor.rowcount
            pairs = sorted(manual_completions)
            cursor.execute(
                """
                UPDATE enrollments_courseenrollment ce SET manually_completed_at = m.at
                FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS m(user_id, course_id, at)
                WHERE ce.user_id = m.user_id AND ce.course_id = m.course_id
                """,
                [[u for u, _ in pairs], [c for _, c in pairs], [manual_completions[p] for p in pairs]],
            )
        return inserted

    def compute_statuses(self) -> None:
        """THE status function over every touched pair and enrollment, in large set-based batches.

        Rows were written as Enrolled (0) with no completion; a course enrollment without any attempt or manual
        completion, and a plan enrollment none of whose courses was touched, stay exactly that, so only the
        touched ones are recomputed. Completion dates then come from the demo's history.
        """
        with connection.cursor() as cursor:
            for model in (CourseEnrollment, LearningPlanEnrollment, MaterialTracking):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        pairs = sorted(self.touched_pairs)
        for start in range(0, len(pairs), STATUS_BATCH):
            recompute_course_statuses(pairs[start : start + STATUS_BATCH], now=self.now)
        touched_enrollments = plan_enrollment_ids_touching(pairs)
        for start in range(0, len(touched_enrollments), STATUS_BATCH):
            recompute_plan_statuses(touched_enrollments[start : start + STATUS_BATCH], now=self.now)
        with connection.cursor() as cursor:
            # The status function stamps "became Completed" with the clock; in the demo's history that moment
            # is when the learner finished the plan's last course.
            cursor.execute(
                """
                UPDATE enrollments_learningplanenrollment e SET completed_at = done.last_done
                FROM (
                    SELECT e2.id, max(ce.completed_at) AS last_done
                    FROM enrollments_learningplanenrollment e2
                    JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = e2.learning_plan_id
                    JOIN enrollments_courseenrollment ce ON ce.course_id = lpc.course_id AND ce.user_id = e2.user_id
                    WHERE e2.status = 2
                    GROUP BY e2.id
                ) done
                WHERE e.id = done.id AND done.last_done IS NOT NULL
                """
            )

    def build_hierarchy_and_certificates(self) -> None:
        rng = self.rng
        # Learners with at least one enrollment, in a stable order, form the teams.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT user_id FROM enrollments_learningplanenrollment WHERE id = ANY(%s::bigint[])"
                " ORDER BY user_id",
                [self.enrollment_ids],
            )
            enrolled = [row[0] for row in cursor.fetchall()]
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
        self.summary.counts["manager links"] = len(links)

        # Certificates of completed enrollments on plans with a template, issued when the plan was completed.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO enrollments_issuedcertificate (user_id, learning_plan_id, template_id, issued_at, file)
                SELECT e.user_id, e.learning_plan_id, p.certificate_template_id, e.completed_at, ''
                FROM enrollments_learningplanenrollment e
                JOIN enrollments_learningplan p ON p.id = e.learning_plan_id
                WHERE e.id = ANY(%s::bigint[]) AND e.status = 2 AND p.certificate_template_id IS NOT NULL
                ORDER BY e.id
                RETURNING id, user_id
                """,
                [self.enrollment_ids],
            )
            certificates = cursor.fetchall()
        self.summary.counts["certificates"] = len(certificates)
        team = set(self.team_ids)
        # The manager's team first, so "My team" shows downloadable certificates.
        ordered = [cid for cid, uid in certificates if uid in team] + [
            cid for cid, uid in certificates if uid not in team
        ]
        self.certificate_ids = ordered


def seed_live_data(options: DemoOptions, *, flush: bool = False) -> tuple[DemoSummary, list[int]]:
    """Write the live demo data in one transaction; returns what was done and the certificates issued, team first.

    The archived history and the certificate PDFs come after it: `lms_admin.demo.seed_demo` does the whole."""
    with transaction.atomic():
        if flush:
            started = time.perf_counter()
            flush_data()
            flushed = time.perf_counter() - started
        counts = existing_data_counts()
        if any(counts.values()):
            found = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
            raise DemoDataExists(f"The database already holds data ({found}). Run with --flush to wipe it first.")
        with connection.cursor() as cursor:
            # One big loading transaction: room to hash and sort in memory; demo data needs no synchronous flush.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
        builder = DemoBuilder(options)
        with keys_and_indexes_built_after_loading(LOADED_MODELS):
            summary = builder.build()
            started = time.perf_counter()
        summary.timings["keys and indexes"] = time.perf_counter() - started
        if flush:
            summary.timings = {"flush": flushed, **summary.timings}
        started = time.perf_counter()
    summary.timings["commit"] = time.perf_counter() - started
    return summary, builder.certificate_ids


def render_certificates_now(certificate_ids: Sequence[int]) -> int:
    """Render these certificates' PDFs in this process (the demo's first ones; the worker renders the rest)."""
    from .jobs import render_certificates

    return render_certificates(list(certificate_ids)) if certificate_ids else 0
