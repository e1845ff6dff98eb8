"""Writing the demo rows set-based (enrollments.demo): ids reserved from the sequences, binary COPY, keys and indexes
rebuilt after loading, the wipe of --flush; then the steps done in SQL over every row at once — course enrollments
from plan enrollments, statuses through the status function, certificates of completed enrollments.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator, Sequence

from django.apps import apps
from django.db import connection, models

from lms_admin.accounts.models import User

from .models import Course, CourseEnrollment, IssuedCertificate, LearningPlan, LearningPlanEnrollment, MaterialTracking
from .status import plan_enrollment_ids_touching, recompute_course_statuses, recompute_plan_statuses

STATUS_BATCH = 200_000


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


def insert_course_enrollments(
    enrollment_ids: list[int], manual_completions: dict[tuple[int, int], datetime.datetime], *, now: datetime.datetime
) -> int:
    """One course enrollment per learner and course of the plans of these enrollments, copied from the first plan
    enrollment that brought the course (one INSERT ... SELECT); then the admins' manual completions."""
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
            [now, *extra_values, enrollment_ids],
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


def compute_statuses(touched_pairs: set[tuple[int, int]], *, now: datetime.datetime) -> None:
    """THE status function over every touched pair and enrollment, in large set-based batches.

    Rows were written as Enrolled (0) with no completion; a course enrollment without any attempt or manual
    completion, and a plan enrollment none of whose courses was touched, stay exactly that, so only the
    touched ones are recomputed. Completion dates then come from the demo's history.
    """
    with connection.cursor() as cursor:
        for model in (CourseEnrollment, LearningPlanEnrollment, MaterialTracking):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    pairs = sorted(touched_pairs)
    for start in range(0, len(pairs), STATUS_BATCH):
        recompute_course_statuses(pairs[start : start + STATUS_BATCH], now=now)
    touched_enrollments = plan_enrollment_ids_touching(pairs)
    for start in range(0, len(touched_enrollments), STATUS_BATCH):
        recompute_plan_statuses(touched_enrollments[start : start + STATUS_BATCH], now=now)
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


def enrolled_learners(enrollment_ids: list[int]) -> list[int]:
    """The learners with at least one of these enrollments, by id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT user_id FROM enrollments_learningplanenrollment WHERE id = ANY(%s::bigint[])"
            " ORDER BY user_id",
            [enrollment_ids],
        )
        return [row[0] for row in cursor.fetchall()]


def issue_certificates(enrollment_ids: list[int]) -> list[tuple[int, int]]:
    """Certificates of the completed ones of these enrollments on plans with a template, issued when the plan was
    completed (no file yet); returns (certificate id, user id) in enrollment order."""
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
            [enrollment_ids],
        )
        return cursor.fetchall()
