"""Archive from a file (SPEC §12): validate an upload into an import and its rows (nothing live is written), then
archive its valid rows through background jobs with `trigger = file`; expire and purge imports."""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from enrollments.models import LearningPlan, LearningPlanEnrollment, ResetTracking
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record

from ..models import ArchivedPlanEnrollment, ArchiveImport, ArchiveImportRow, ArchiveJob, Trigger
from .import_parsing import ImportFileError, ImportOptions, form_options, parse_file
from .import_sql import refuse_shared, store_rows, unenroll_plan_ids
from .shared_courses import plan_courses, shared_by_plan
from .submission import start_frozen_archive_job

Status = ArchiveImport.Status
RESET_OPTION = {ResetTracking.ALL: True, ResetTracking.KEEP: False}

__all__ = [
    "ImportFileError",
    "ImportSubmission",
    "expire_imports",
    "form_options",
    "purge_imports",
    "submit_import",
    "validate_import",
]


def validate_import(*, data: bytes, file_name: str, actor: User, options: ImportOptions) -> tuple[ArchiveImport, bool]:
    """Store an upload as a validated import with its resolved rows: (import, True). The same file (sha256) from the
    same superadmin with the same defaults, while that import is still validated, gives (that import, False).

    Raises PermissionDenied, or ImportFileError (the file is refused; nothing is stored)."""
    require_superadmin(actor)
    sha256 = hashlib.sha256(data).hexdigest()
    parsed = parse_file(data, options)
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:  # two identical uploads at once make one import
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"import:{actor.pk}:{sha256}"])
        earlier = ArchiveImport.objects.filter(sha256=sha256).order_by("created_at", "pk")
        same = earlier.filter(
            uploaded_by=actor,
            mode=options.mode,
            reset_tracking=options.reset_tracking,
            notify=options.notify,
            status=Status.VALIDATED,
            expires_at__gt=now,
        ).first()
        if same is not None:
            return same, False
        archive_import = ArchiveImport.objects.create(
            uploaded_by=actor,
            uploaded_by_username=actor.username,
            file_name=file_name[:255],
            sha256=sha256,
            mode=options.mode,
            reset_tracking=options.reset_tracking,
            notify=options.notify,
            header=parsed.header,
            delimiter=parsed.delimiter,
            encoding=parsed.encoding,
            created_at=now,
            expires_at=now + datetime.timedelta(hours=settings.ARCHIVE_IMPORT_EXPIRE_HOURS),
            first_import=earlier.first(),
        )
        store_rows(archive_import.pk, parsed.rows, user_column=parsed.user_column, plan_column=parsed.plan_column)
        plan_ids = unenroll_plan_ids(archive_import.pk)
        refuse_shared(archive_import.pk, shared_by_plan(plan_courses(plan_ids)) if plan_ids else {})
        _count_rows(archive_import)
        record(
            actor=actor,
            action="archive_import.uploaded",
            object_type="archive_import",
            object_id=archive_import.pk,
            details={
                "file_name": archive_import.file_name,
                "sha256": sha256,
                "rows": archive_import.total_rows,
                "valid": archive_import.valid_rows,
                "errors": archive_import.error_rows,
            },
        )
    return archive_import, True


def _count_rows(archive_import: ArchiveImport) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ArchiveImport._meta.db_table} i
            SET total_rows = c.total, valid_rows = c.valid, error_rows = c.total - c.valid
            FROM (SELECT count(*) AS total, count(*) FILTER (WHERE error = '') AS valid
                  FROM {ArchiveImportRow._meta.db_table} WHERE archive_import_id = %(id)s) c
            WHERE i.id = %(id)s
            RETURNING i.total_rows, i.valid_rows, i.error_rows
            """,
            {"id": archive_import.pk},
        )
        archive_import.total_rows, archive_import.valid_rows, archive_import.error_rows = cursor.fetchone()


# --- submit -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSubmission:
    jobs: list[ArchiveJob]
    started: bool  # False: the import had been submitted already and these are its jobs


def submit_import(archive_import: ArchiveImport, *, actor: User) -> ImportSubmission:
    """Archive the import's valid rows: one job per (plan, mode, reset, notify), each at most ARCHIVE_MAX_SELECT_ALL
    pairs, all with trigger = file. A second submit starts nothing and gives the first one's jobs.

    Raises PermissionDenied, or ValidationError coded import_expired, invalid_request (no valid row) or what
    `start_frozen_archive_job` raises (shared_course for a plan that gained a shared course); nothing is started
    when it raises."""
    require_superadmin(actor)
    with transaction.atomic():
        locked = ArchiveImport.objects.select_for_update().get(pk=archive_import.pk)
        if locked.status == Status.SUBMITTED:
            return ImportSubmission(jobs=list(locked.jobs.order_by("pk")), started=False)
        if locked.is_expired:
            raise ValidationError(
                "This import has expired: upload the file again to validate it anew.", code="import_expired"
            )
        _drop_vanished(locked)
        groups: dict[tuple[int, str, str, bool], list[tuple[int, int]]] = defaultdict(list)
        valid = locked.rows.filter(error="").order_by("learning_plan_id", "enrollment_id")
        for plan_id, mode, reset, notify, enrollment_id, round_ in valid.values_list(
            "learning_plan_id", "mode", "reset_tracking", "notify", "enrollment_id", "round"
        ):
            groups[(plan_id, mode, reset, notify)].append((enrollment_id, round_))
        if not groups:
            raise ValidationError("This import has no valid row to archive.", code="invalid_request")
        plans = LearningPlan.objects.in_bulk({plan_id for plan_id, *_ in groups})
        size = max(1, settings.ARCHIVE_MAX_SELECT_ALL)
        jobs = []
        for (plan_id, mode, reset, notify), pairs in groups.items():
            for start in range(0, len(pairs), size):
                jobs.append(
                    start_frozen_archive_job(
                        learning_plan=plans[plan_id],
                        actor=actor,
                        pairs=pairs[start : start + size],
                        mode=mode,
                        reset_tracking=RESET_OPTION.get(reset, reset),
                        notify=notify,
                        trigger=Trigger.FILE,
                    )
                )
        locked.jobs.add(*jobs)
        locked.status, locked.submitted_at = Status.SUBMITTED, timezone.now()
        locked.save(update_fields=["status", "submitted_at"])
        record(
            actor=actor,
            action="archive_import.submitted",
            object_type="archive_import",
            object_id=locked.pk,
            details={"jobs": [job.pk for job in jobs], "valid": locked.valid_rows},
        )
    for name in ("status", "submitted_at", "valid_rows", "error_rows"):
        setattr(archive_import, name, getattr(locked, name))
    return ImportSubmission(jobs=jobs, started=True)


def _drop_vanished(archive_import: ArchiveImport) -> None:
    """Valid rows whose enrollment left the plan since validation (neither live nor archived in that round)
    become not_enrolled, so the rest can still be archived."""
    rows, enrollments = ArchiveImportRow._meta.db_table, LearningPlanEnrollment._meta.db_table
    archives = ArchivedPlanEnrollment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {rows} t SET error = 'not_enrolled', enrollment_id = NULL, round = NULL,
                   message = 'No longer enrolled in this learning plan when the import was submitted.'
            WHERE t.archive_import_id = %(id)s AND t.error = ''
              AND NOT EXISTS (SELECT 1 FROM {enrollments} e
                              WHERE e.id = t.enrollment_id AND e.learning_plan_id = t.learning_plan_id)
              AND NOT EXISTS (SELECT 1 FROM {archives} a
                              WHERE a.enrollment_id = t.enrollment_id AND a.round = t.round)
            """,
            {"id": archive_import.pk},
        )
        if cursor.rowcount:
            _count_rows(archive_import)


# --- expiry and purge -----------------------------------------------------------------------------------------


def expire_imports(*, now: datetime.datetime | None = None) -> int:
    """Validated imports past their expiry become expired (as of their expiry time); returns how many."""
    now = now or timezone.now()
    return ArchiveImport.objects.filter(status=Status.VALIDATED, expires_at__lte=now).update(
        status=Status.EXPIRED, expired_at=F("expires_at")
    )


def purge_imports(*, older_than_days: int | None = None, now: datetime.datetime | None = None) -> int:
    """Delete, with their rows (personal data), imports submitted or expired more than the retention ago."""
    now = now or timezone.now()
    expire_imports(now=now)
    days = settings.ARCHIVE_JOB_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = now - datetime.timedelta(days=days)
    with transaction.atomic():
        ids = list(
            ArchiveImport.objects.filter(
                Q(status=Status.SUBMITTED, submitted_at__lt=cutoff) | Q(status=Status.EXPIRED, expired_at__lt=cutoff)
            ).values_list("pk", flat=True)
        )
        if not ids:
            return 0
        ArchiveImportRow.objects.filter(archive_import_id__in=ids).delete()
        ArchiveImport.objects.filter(pk__in=ids).delete()
    return len(ids)
